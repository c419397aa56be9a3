// The database fingerprint: it must change with every committed business change and with the
// schema, and not with the volatile tables or with uncommitted work. The seed-compatible
// count+max(tms) mode's blind spots are shown too.
#include "support/pgdump_testing.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/fingerprint/db.hpp>
#include <dolibak/job/profile.hpp>

#include <doctest/doctest.h>

#include <libpq-fe.h>

#include <map>
#include <set>

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

// Which modes saw the change made by `sql`.
std::set<DbMode> seen_by(const std::string& sql) {
    const auto before = db().all();
    db().sql(sql);
    const auto after = db().all();
    std::set<DbMode> changed;
    for (const auto& [mode, value] : before)
        if (after.at(mode) != value) changed.insert(mode);
    return changed;
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
    CHECK(seen_by("UPDATE llx_user SET datelastlogin = now(), datepreviouslogin = now()") == none);
    CHECK(seen_by("UPDATE llx_const SET value = value || 'x' WHERE rowid = (SELECT min(rowid) "
                  "FROM llx_const)") == none);
    CHECK(seen_by("UPDATE llx_cronjob SET datelastrun = now()") == none);
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
    CHECK(seen_by("DELETE FROM llx_actioncomm WHERE id = (SELECT max(id) FROM llx_actioncomm)") ==
          every_mode);
    CHECK(seen_by("TRUNCATE llx_ecm_files") == every_mode);
}

TEST_CASE("a schema change is seen by every mode") {
    CHECK(seen_by("ALTER TABLE llx_facture ADD COLUMN dolibak_test_col integer") == every_mode);
    CHECK(seen_by("CREATE INDEX dolibak_test_idx ON llx_product (label)") == every_mode);
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
    CHECK(seen_by("GRANT SELECT ON llx_facture TO dolibak_reader") == every_mode);
    CHECK(seen_by("GRANT SELECT (nom) ON llx_societe TO dolibak_reader") == every_mode);
    CHECK(seen_by("REVOKE SELECT ON llx_facture FROM dolibak_reader") == every_mode);
    CHECK(seen_by("ALTER TABLE llx_product OWNER TO dolibak_reader") == every_mode);
    CHECK(seen_by("COMMENT ON TABLE llx_facture IS 'issued invoices'") == every_mode);
    CHECK(seen_by("COMMENT ON COLUMN llx_facture.ref IS 'the legal number'") == every_mode);
    CHECK(seen_by("COMMENT ON TABLE llx_facture IS 'issued\tinvoices'") == every_mode);
    CHECK(seen_by("ALTER TABLE llx_facture ENABLE ROW LEVEL SECURITY") == every_mode);
    CHECK(seen_by("CREATE POLICY dolibak_p ON llx_facture USING (entity = 1)") == every_mode);
    CHECK(seen_by("ALTER POLICY dolibak_p ON llx_facture USING (entity = 2)") == every_mode);
    CHECK(seen_by("CREATE TYPE dolibak_state AS ENUM ('draft', 'validated')") == every_mode);
    CHECK(seen_by("ALTER TYPE dolibak_state ADD VALUE 'paid'") == every_mode);
    CHECK(seen_by("CREATE DOMAIN dolibak_amount AS numeric(24,8) CHECK (VALUE >= 0)") ==
          every_mode);
    CHECK(seen_by("CREATE SCHEMA dolibak_extra") == every_mode);
    CHECK(seen_by("GRANT USAGE ON SCHEMA dolibak_extra TO dolibak_reader") == every_mode);
    CHECK(seen_by("GRANT EXECUTE ON FUNCTION update_modified_column_tms() TO dolibak_reader") ==
          every_mode);
    CHECK(seen_by("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO dolibak_reader") ==
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
        CHECK(seen_by(undo) == every_mode);
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
    struct ConnDeleter {
        void operator()(PGconn* c) const noexcept { PQfinish(c); }
    };
    const auto c = db().conn();
    const std::string port = std::to_string(c.port);
    const char* keys[] = {"host", "port", "user", "dbname", "password", nullptr};
    const char* values[] = {
        c.host.c_str(), port.c_str(), c.user.c_str(), c.dbname.c_str(), c.password.reveal().c_str(),
        nullptr};
    std::unique_ptr<PGconn, ConnDeleter> other(PQconnectdbParams(keys, values, 0));
    REQUIRE(PQstatus(other.get()) == CONNECTION_OK);
    auto exec = [&](const char* sql) {
        PGresult* r = PQexec(other.get(), sql);
        REQUIRE(PQresultStatus(r) == PGRES_COMMAND_OK);
        PQclear(r);
    };
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
