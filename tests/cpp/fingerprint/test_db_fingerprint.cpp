// The database fingerprint: it must change with every committed business change and with the
// schema, and not with the volatile tables or with uncommitted work. The seed-compatible
// count+max(tms) mode's blind spots are shown too.
#include "fingerprint/db_precheck.hpp"
#include "support/pgdump_testing.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/fingerprint/db.hpp>
#include <dolibak/job/profile.hpp>
#include <dolibak/pgdump/dump.hpp>

#include <doctest/doctest.h>

#include <libpq-fe.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

using namespace dolibak;
using fingerprint::DbMode;

namespace {

// The Dolibarr volatile tables (written without a business change): the dolibarr profile's.
const std::vector<std::string> volatile_tables = job::builtin_profile("dolibarr").volatile_tables;

struct Db {
    std::string name = pgt::create_db("prod");
    Db() {
        process::ProcessOptions o;
        o.argv = {"/usr/bin/python3",
                  (test::source_dir() / "tools/dolibarr_gen.py").string(),
                  "db",
                  "--scale",
                  "60",
                  "--seed",
                  "5"};
        o.env = pgt::conn("prod", name).env();
        o.env.emplace_back("PATH", pgt::pg_bin() + ":" + std::string(std::getenv("PATH")));
        auto r = run(std::move(o));
        REQUIRE_MESSAGE(r.status.success(), r.err);
    }
    pgdump::ConnectionParams conn() const { return pgt::conn("prod", name); }
    void sql(const std::string& s) const { pgt::psql(conn(), s); }
    std::string fp(DbMode mode) const {
        fingerprint::DbOptions o;
        o.mode = mode;
        o.exclude_tables = volatile_tables;
        return fingerprint::fingerprint_database(conn(), o).value;
    }
    std::map<DbMode, std::string> all() const {
        return {{DbMode::xmin, fp(DbMode::xmin)},
                {DbMode::content, fp(DbMode::content)},
                {DbMode::count_tms, fp(DbMode::count_tms)}};
    }
};

Db& db() {
    static Db d;
    return d;
}

// A second session of the test database (libpq directly): its transactions are another
// backend's, as a Dolibarr user's would be.
class OtherSession {
public:
    OtherSession() {
        const auto c = db().conn();
        const std::string port = std::to_string(c.port);
        const char* keys[] = {"host", "port", "user", "dbname", "password", nullptr};
        const char* values[] = {c.host.c_str(),
                                port.c_str(),
                                c.user.c_str(),
                                c.dbname.c_str(),
                                c.password.reveal().c_str(),
                                nullptr};
        conn_.reset(PQconnectdbParams(keys, values, 0));
        REQUIRE(PQstatus(conn_.get()) == CONNECTION_OK);
    }
    void exec(const char* sql) {
        PGresult* r = PQexec(conn_.get(), sql);
        const auto status = PQresultStatus(r);
        PQclear(r);
        REQUIRE(status == PGRES_COMMAND_OK);
    }

private:
    struct ConnDeleter {
        void operator()(PGconn* c) const noexcept { PQfinish(c); }
    };
    std::unique_ptr<PGconn, ConnDeleter> conn_;
};

// Which modes saw each change of a series: the state after one change is the state before
// the next, so each is read once.
class Changes {
public:
    std::set<DbMode> seen_by(const std::string& sql) {
        db().sql(sql);
        auto after = db().all();
        std::set<DbMode> changed;
        for (const auto& [mode, value] : state_)
            if (after.at(mode) != value) changed.insert(mode);
        state_ = std::move(after);
        return changed;
    }

private:
    std::map<DbMode, std::string> state_ = db().all();
};

// Which modes saw the change made by `sql`.
std::set<DbMode> seen_by(const std::string& sql) {
    return Changes().seen_by(sql);
}

const std::set<DbMode> every_mode = {DbMode::xmin, DbMode::content, DbMode::count_tms};
const std::set<DbMode> none = {};
const std::set<DbMode> exact_modes = {DbMode::xmin, DbMode::content};

}  // namespace

TEST_CASE("the fingerprint is stable when nothing changes") {
    for (auto mode : every_mode) {
        const auto a = db().fp(mode);
        CHECK(a.size() == 64);
        CHECK(db().fp(mode) == a);
    }
    fingerprint::DbOptions o;
    o.exclude_tables = volatile_tables;
    const auto fp = fingerprint::fingerprint_database(db().conn(), o);
    CHECK(fp.tables.size() >= 250);
    CHECK(fp.excluded.size() == volatile_tables.size());
    for (const auto& t : fp.tables) CHECK(t.name.rfind("llx_", 0) == 0);
}

TEST_CASE("volatile tables are left out: logins, cron runs and constants change nothing") {
    Changes changes;
    CHECK(changes.seen_by("UPDATE llx_user SET datelastlogin = now(), datepreviouslogin = now()") ==
          none);
    CHECK(changes.seen_by(
              "UPDATE llx_const SET value = value || 'x' WHERE rowid = (SELECT min(rowid) "
              "FROM llx_const)") == none);
    CHECK(changes.seen_by("UPDATE llx_cronjob SET datelastrun = now()") == none);
}

TEST_CASE("a new invoice changes every mode") {
    CHECK(seen_by("INSERT INTO llx_facture (ref, entity, fk_soc, datec, fk_statut) "
                  "SELECT 'FA2611-9999', 1, min(rowid), now(), 0 FROM llx_societe") == every_mode);
}

TEST_CASE("an edited invoice line (no tms) is missed only by count+max(tms)") {
    CHECK(seen_by("UPDATE llx_facturedet SET qty = qty + 1 WHERE rowid = (SELECT min(rowid) "
                  "FROM llx_facturedet)") == exact_modes);
}

TEST_CASE("an UPDATE of a table whose tms has no trigger is missed only by count+max(tms)") {
    CHECK(seen_by("UPDATE llx_accounting_bookkeeping SET debit = debit + 1 WHERE rowid = "
                  "(SELECT min(rowid) FROM llx_accounting_bookkeeping)") == exact_modes);
}

TEST_CASE("an UPDATE of a table with the trigger is seen by every mode") {
    CHECK(seen_by("UPDATE llx_societe SET note_private = 'called' WHERE rowid = (SELECT "
                  "min(rowid) FROM llx_societe)") == every_mode);
}

TEST_CASE("a deleted payment link (no tms) is missed only by count+max(tms)... unless it counts") {
    // The row count changes, so count+max(tms) sees deletes only where the table has tms.
    CHECK(seen_by("DELETE FROM llx_element_element WHERE ctid = (SELECT min(ctid) FROM "
                  "llx_element_element)") == exact_modes);
}

TEST_CASE("DELETE and TRUNCATE of a table with tms are seen") {
    Changes changes;
    CHECK(changes.seen_by(
              "DELETE FROM llx_actioncomm WHERE id = (SELECT max(id) FROM llx_actioncomm)") ==
          every_mode);
    CHECK(changes.seen_by("TRUNCATE llx_ecm_files") == every_mode);
}

TEST_CASE("a schema change is seen by every mode") {
    Changes changes;
    CHECK(changes.seen_by("ALTER TABLE llx_facture ADD COLUMN dolibak_test_col integer") ==
          every_mode);
    CHECK(changes.seen_by("CREATE INDEX dolibak_test_idx ON llx_product (label)") == every_mode);
}

TEST_CASE("privileges, owners, comments, policies, types and schemas are seen by every mode") {
    // Each is restored by pg_dump's archive, so a backup taken before it would not bring it back.
    pgt::psql(pgt::conn("superuser"),
              "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dolibak_reader') "
              "THEN CREATE ROLE dolibak_reader; END IF; END $$; "
              "GRANT dolibak_reader TO " +
                  db().conn().user + ";");
    // Ownership passes only to a role that may create in the schema.
    pgt::psql(pgt::conn("superuser", db().name),
              "GRANT CREATE ON SCHEMA public TO dolibak_reader;");
    Changes changes;
    CHECK(changes.seen_by("GRANT SELECT ON llx_facture TO dolibak_reader") == every_mode);
    CHECK(changes.seen_by("GRANT SELECT (nom) ON llx_societe TO dolibak_reader") == every_mode);
    CHECK(changes.seen_by("REVOKE SELECT ON llx_facture FROM dolibak_reader") == every_mode);
    CHECK(changes.seen_by("ALTER TABLE llx_product OWNER TO dolibak_reader") == every_mode);
    CHECK(changes.seen_by("COMMENT ON TABLE llx_facture IS 'issued invoices'") == every_mode);
    CHECK(changes.seen_by("COMMENT ON COLUMN llx_facture.ref IS 'the legal number'") == every_mode);
    CHECK(changes.seen_by("COMMENT ON TABLE llx_facture IS 'issued\tinvoices'") == every_mode);
    CHECK(changes.seen_by("ALTER TABLE llx_facture ENABLE ROW LEVEL SECURITY") == every_mode);
    CHECK(changes.seen_by("CREATE POLICY dolibak_p ON llx_facture USING (entity = 1)") ==
          every_mode);
    CHECK(changes.seen_by("ALTER POLICY dolibak_p ON llx_facture USING (entity = 2)") ==
          every_mode);
    CHECK(changes.seen_by("CREATE TYPE dolibak_state AS ENUM ('draft', 'validated')") ==
          every_mode);
    CHECK(changes.seen_by("ALTER TYPE dolibak_state ADD VALUE 'paid'") == every_mode);
    CHECK(changes.seen_by("CREATE DOMAIN dolibak_amount AS numeric(24,8) CHECK (VALUE >= 0)") ==
          every_mode);
    CHECK(changes.seen_by("CREATE SCHEMA dolibak_extra") == every_mode);
    CHECK(changes.seen_by("GRANT USAGE ON SCHEMA dolibak_extra TO dolibak_reader") == every_mode);
    CHECK(changes.seen_by(
              "GRANT EXECUTE ON FUNCTION update_modified_column_tms() TO dolibak_reader") ==
          every_mode);
    CHECK(changes.seen_by("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO dolibak_reader") ==
          every_mode);
    // Back as it was (each step seen again), so that the other cases start from the usual state.
    for (const char* undo :
         {"ALTER DEFAULT PRIVILEGES REVOKE SELECT ON TABLES FROM dolibak_reader",
          "REVOKE ALL ON FUNCTION update_modified_column_tms() FROM dolibak_reader",
          "DROP SCHEMA dolibak_extra", "DROP DOMAIN dolibak_amount", "DROP TYPE dolibak_state",
          "DROP POLICY dolibak_p ON llx_facture",
          "ALTER TABLE llx_facture DISABLE ROW LEVEL SECURITY",
          "COMMENT ON TABLE llx_facture IS NULL", "COMMENT ON COLUMN llx_facture.ref IS NULL"}) {
        INFO(undo);
        CHECK(changes.seen_by(undo) == every_mode);
    }
    db().sql("ALTER TABLE llx_product OWNER TO " + db().conn().user +
             "; REVOKE ALL ON llx_societe FROM dolibak_reader;");
    pgt::psql(pgt::conn("superuser", db().name),
              "REVOKE CREATE ON SCHEMA public FROM dolibak_reader;");
}

TEST_CASE("a no-op UPDATE moves xmin but not the content hash") {
    CHECK(seen_by("UPDATE llx_c_country SET code = code WHERE rowid = (SELECT min(rowid) FROM "
                  "llx_c_country)") == std::set<DbMode>{DbMode::xmin});
}

TEST_CASE("VACUUM FULL rewrites a table without changing any fingerprint") {
    CHECK(seen_by("VACUUM FULL llx_facturedet") == none);
}

TEST_CASE("uncommitted work is invisible; the commit is seen") {
    OtherSession other;
    auto exec = [&](const char* sql) { other.exec(sql); };
    const auto before = db().all();
    exec("BEGIN");
    exec("UPDATE llx_facturedet SET qty = qty + 1");
    CHECK(db().all() == before);
    exec("COMMIT");
    const auto after = db().all();
    CHECK(after.at(DbMode::xmin) != before.at(DbMode::xmin));
    CHECK(after.at(DbMode::content) != before.at(DbMode::content));
}

TEST_CASE("differences() names what changed") {
    fingerprint::DbOptions o;
    o.exclude_tables = volatile_tables;
    const auto a = fingerprint::fingerprint_database(db().conn(), o);
    db().sql(
        "UPDATE llx_facturedet SET qty = qty + 1 WHERE rowid = (SELECT max(rowid) FROM "
        "llx_facturedet)");
    const auto b = fingerprint::fingerprint_database(db().conn(), o);
    CHECK(a.differences(b) == std::vector<std::string>{"public.llx_facturedet"});
}

TEST_CASE("bad settings and unreachable databases are clear errors") {
    CHECK_THROWS_AS(fingerprint::parse_db_mode("fast"), ConfigError);
    CHECK(fingerprint::parse_db_mode("count-tms") == DbMode::count_tms);
    auto c = db().conn();
    c.password = Secret("wrong-password-123");
    try {
        fingerprint::fingerprint_database(c, {});
        FAIL("connected");
    } catch (const DatabaseError& e) {
        CHECK(std::string(e.what()).find("wrong-password-123") == std::string::npos);
        CHECK(std::string(e.what()).find("password authentication failed") != std::string::npos);
    }
}

// ---- The pre-check (docs/fingerprint.md, "Quiet days") ------------------------------------

namespace {

namespace fd = fingerprint::detail;

fingerprint::DbFingerprint fp_with(const std::string& state, bool precheck = true) {
    fingerprint::DbOptions o;
    o.exclude_tables = volatile_tables;
    o.previous_state = state;
    o.precheck = precheck;
    return fingerprint::fingerprint_database(db().conn(), o);
}

std::string full_value() {
    return fp_with("", false).value;
}

// The fingerprint once the sessions that just wrote (psql: their backends exit after psql
// does) are gone or idle long enough: until then the pre-check rightly trusts no counter.
fingerprint::DbFingerprint settled(const std::string& state) {
    for (int i = 0;; ++i) {
        auto fp = fp_with(state);
        if (fp.precheck.find("unflushed") == std::string::npos || i == 200) return fp;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

std::string updated_count(const std::string& table) {
    return pgt::psql(db().conn(), "SELECT pg_stat_get_tuples_updated('" + table + "'::regclass)");
}

fd::ServerSignals signals() {
    fd::ServerSignals s;
    s.snapshot = "10:20:12,15";
    s.postmaster_start = "2026-12-07 05:00:00+00";
    s.database = "16384";
    s.shared_stats_reset = "2026-12-07 05:00:00+00";
    return s;
}

}  // namespace

TEST_CASE("pre-check: the stored state is trusted only as far as its guards hold") {
    fd::PrecheckState st;
    st.options = "opts";
    st.server = signals();
    const auto none_committed = [](const std::vector<std::string>&) { return false; };
    const auto one_committed = [](const std::vector<std::string>& xids) {
        CHECK(xids == std::vector<std::string>{"12", "15"});
        return true;
    };
    auto now = signals();
    CHECK(fd::judge(st, "opts", now, none_committed).trust == fd::Trust::horizon);
    // The horizon needs no statistics: a busy session or a reset does not matter to it.
    now.busy_sessions = 3;
    now.stats_reset = "2026-12-07 06:00:00+00";
    CHECK(fd::judge(st, "opts", now, none_committed).trust == fd::Trust::horizon);
    now = signals();
    CHECK(fd::judge(st, "opts", now, one_committed).trust == fd::Trust::counters);
    now.snapshot = "21:25:";  // transactions completed since
    CHECK(fd::judge(st, "opts", now, none_committed).trust == fd::Trust::counters);

    auto nothing = [&](fd::ServerSignals s, const std::string& options = "opts") {
        const auto v = fd::judge(st, options, s, none_committed);
        CHECK(v.trust == fd::Trust::nothing);
        return v.reason;
    };
    CHECK(nothing(now, "other") == "other fingerprint options");
    CHECK(fd::judge(std::nullopt, "opts", now, none_committed).trust == fd::Trust::nothing);
    auto s = now;
    s.postmaster_start = "2026-12-07 06:00:00+00";
    s.snapshot = st.server.snapshot;  // even with the same horizon: ids may be reused
    CHECK(nothing(s).find("restart") != std::string::npos);
    s = now;
    s.database = "16385";
    CHECK(nothing(s).find("another database") != std::string::npos);
    s = now;
    s.stats_reset = "2026-12-07 06:00:00+00";
    CHECK(nothing(s) == "statistics reset since");
    s = now;
    s.shared_stats_reset = "2026-12-07 06:00:00+00";
    CHECK(nothing(s).find("discarded") != std::string::npos);
    s = now;
    s.track_counts = false;
    CHECK(nothing(s) == "track_counts is off");
    s = now;
    s.in_recovery = true;
    CHECK(nothing(s).find("standby") != std::string::npos);
    s = now;
    s.busy_sessions = 1;
    CHECK(nothing(s) == "1 other session may hold unflushed statistics");
    s = now;
    s.snapshot = "garbage";
    CHECK(nothing(s) == "unreadable snapshot");
}

TEST_CASE("pre-check: which tables are scanned under each verdict") {
    const fd::StoredTable t{"100", "200/5/6/7", 3, "d"};
    const fd::Verdict horizon{fd::Trust::horizon, ""}, counters{fd::Trust::counters, ""},
        nothing{fd::Trust::nothing, ""};
    CHECK_FALSE(fd::must_scan(horizon, &t, "100", "201/9/9/9"));
    CHECK(fd::must_scan(horizon, &t, "101", "200/5/6/7"));  // dropped and created again
    CHECK(fd::must_scan(horizon, nullptr, "100", "200/5/6/7"));
    CHECK_FALSE(fd::must_scan(counters, &t, "100", "200/5/6/7"));
    CHECK(fd::must_scan(counters, &t, "100", "201/5/6/7"));  // TRUNCATE, VACUUM FULL
    CHECK(fd::must_scan(counters, &t, "100", "200/5/7/7"));
    CHECK(fd::must_scan(counters, &t, "100", ""));  // created after the counters were read
    CHECK(fd::must_scan(nothing, &t, "100", "200/5/6/7"));
}

TEST_CASE("pre-check: the state reads back; a foreign or damaged one is refused") {
    fd::PrecheckState st;
    st.options = "o";
    st.server = signals();
    st.server.track_counts = false;
    st.tables["public.llx_a"] = {"1", "2/3/4/5", 6, "ab"};
    st.schema_digest = "cd";
    const auto back = fd::PrecheckState::from_json(st.to_json());
    REQUIRE(back);
    CHECK(back->to_json() == st.to_json());
    CHECK_FALSE(back->server.track_counts);
    CHECK(back->tables.at("public.llx_a").rows == 6);
    CHECK(back->schema_digest == "cd");
    CHECK_FALSE(fd::PrecheckState::from_json("{\"version\": 2}"));
    CHECK_FALSE(fd::PrecheckState::from_json("not json"));
    auto text = st.to_json();
    text.replace(text.find("\"rows\":6"), 8, "\"rows\":\"6\"");
    CHECK_FALSE(fd::PrecheckState::from_json(text));
    // A state that cannot be read makes every table scanned, and the result is the same.
    const auto fp = fp_with("{\"version\": 1}");
    CHECK(fp.precheck == "stored pre-check state unreadable");
    CHECK(fp.scanned == fp.tables.size());
}

TEST_CASE("pre-check: an unchanged database is decided without reading a table") {
    const auto first = fp_with("");
    CHECK(first.scanned == first.tables.size());
    CHECK(first.precheck == "no stored pre-check state");
    const auto again = settled(first.state);
    CHECK(again.scanned == 0);
    CHECK(again.value == first.value);
    CHECK(again.value == full_value());
    CHECK((again.precheck == "no transaction committed since" ||
           again.precheck == "statistics counters"));
    // Other options (here: the mode) never reuse a digest.
    fingerprint::DbOptions o;
    o.mode = DbMode::content;
    o.exclude_tables = volatile_tables;
    o.previous_state = first.state;
    const auto content = fingerprint::fingerprint_database(db().conn(), o);
    CHECK(content.precheck == "other fingerprint options");
    CHECK(content.scanned == content.tables.size());
}

TEST_CASE("pre-check: an UPDATE of a table without tms committed just before is seen") {
    const auto base = fp_with("");
    db().sql(
        "UPDATE llx_facturedet SET qty = qty + 1 WHERE rowid = (SELECT max(rowid) FROM "
        "llx_facturedet)");
    // At once (psql's backend may still be flushing on its way out) and once it is gone.
    const auto now = fp_with(base.state);
    CHECK(now.value != base.value);
    CHECK(now.value == full_value());
    const auto later = settled(base.state);
    CHECK(later.value == now.value);
    CHECK(later.precheck == "statistics counters");
    CHECK(later.scanned >= 1);
    CHECK(later.scanned < later.tables.size());
}

TEST_CASE("pre-check: a commit whose statistics are not flushed yet is seen") {
    const auto base = settled(fp_with("").state);
    OtherSession other;
    auto exec = [&](const char* sql) { other.exec(sql); };
    // The session's first commit is flushed at once; a second one within a second waits for
    // the session's idle timeout (10 s): its counters are not in the statistics yet.
    const auto updated_before = updated_count("llx_facturedet");
    exec(
        "UPDATE llx_c_country SET code = code WHERE rowid = (SELECT min(rowid) FROM "
        "llx_c_country)");
    exec(
        "UPDATE llx_facturedet SET qty = qty + 1 WHERE rowid = (SELECT min(rowid) FROM "
        "llx_facturedet)");
    REQUIRE(updated_count("llx_facturedet") == updated_before);
    const auto now = fp_with(base.state);
    CHECK(now.precheck == "1 other session may hold unflushed statistics");
    CHECK(now.value != base.value);
    CHECK(now.value == full_value());
}

TEST_CASE("pre-check: after a statistics reset, changes are still seen") {
    const auto su = pgt::conn("superuser", db().name);
    for (const std::string reset :
         {"SELECT pg_stat_reset()",
          "SELECT pg_stat_reset_single_table_counters('llx_facturedet'::regclass)"}) {
        CAPTURE(reset);
        pgt::psql(su, reset);
        const auto base = settled(fp_with("").state);
        // Counters back to what was stored: only the reset's timestamp tells.
        db().sql(
            "UPDATE llx_facturedet SET qty = qty + 1 WHERE rowid = (SELECT max(rowid) FROM "
            "llx_facturedet)");
        settled(base.state);  // the writer's statistics are flushed
        pgt::psql(su, reset);
        const auto now = settled(base.state);
        CHECK(now.precheck == "statistics reset since");
        CHECK(now.value != base.value);
        CHECK(now.value == full_value());
    }
}

TEST_CASE("pre-check: a schema change, which moves no counter, is seen") {
    const auto base = settled(fp_with("").state);
    db().sql("COMMENT ON TABLE llx_facture IS 'quiet-day precheck'");
    const auto now = settled(base.state);
    CHECK(now.scanned == 0);
    CHECK(now.schema_digest != base.schema_digest);
    CHECK(now.value != base.value);
    CHECK(now.value == full_value());
    db().sql("COMMENT ON TABLE llx_facture IS NULL");
}

TEST_CASE("pre-check: TRUNCATE, a new table and a dropped table are seen") {
    db().sql("CREATE TABLE llx_qd_a (a int); INSERT INTO llx_qd_a SELECT generate_series(1, 9)");
    auto base = settled(fp_with("").state);
    auto step = [&](const std::string& sql) {
        db().sql(sql);
        const auto now = settled(base.state);
        CHECK(now.value != base.value);
        CHECK(now.value == full_value());
        CHECK(now.scanned < now.tables.size());
        base = now;
    };
    step("TRUNCATE llx_qd_a");  // moves no counter: the new relfilenode tells
    step("CREATE TABLE llx_qd_b (b int)");
    step("DROP TABLE llx_qd_a, llx_qd_b");
}

TEST_CASE("a shared snapshot: pg_dump reads exactly the state the fingerprint describes") {
    // What a run that dumps whatever the fingerprint says does (job/db_driver.cpp): the
    // fingerprint exports its snapshot, pg_dump imports it before the fingerprint ends.
    const auto rows = [](const pgdump::DumpResult& d) {
        for (const auto& t : d.summary.tables)
            if (t.name == "llx_facturedet") return t.rows.value_or(0);
        FAIL("llx_facturedet is not in the dump");
        return std::uint64_t{0};
    };
    const std::string before = db().fp(DbMode::content);
    pgdump::DumpOptions d;
    d.conn = db().conn();
    io::NullSink discard;
    const std::uint64_t rows_before = rows(pgdump::dump(d, discard));

    OtherSession other;
    fingerprint::DbOptions o;
    o.mode = DbMode::content;
    o.exclude_tables = volatile_tables;
    pgdump::DumpResult shared_dump;
    o.share_snapshot = [&](const std::string& id) {
        d.snapshot = id;
        // Committed once the snapshot exists: in neither the fingerprint nor the dump.
        other.exec(
            "DELETE FROM llx_facturedet WHERE rowid = (SELECT max(rowid) FROM "
            "llx_facturedet)");
    };
    o.before_release = [&] {
        io::NullSink sink;
        shared_dump = pgdump::dump(d, sink);
    };
    const auto shared = fingerprint::fingerprint_database(db().conn(), o);
    REQUIRE_FALSE(d.snapshot.empty());
    CHECK(shared.value == before);
    CHECK(rows(shared_dump) == rows_before);
    // The deletion is committed: a fingerprint or a dump of their own see it.
    CHECK(db().fp(DbMode::content) != before);
    d.snapshot.clear();
    CHECK(rows(pgdump::dump(d, discard)) == rows_before - 1);
}
