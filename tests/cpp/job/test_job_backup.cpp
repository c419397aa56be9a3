// Job::backup end to end on real PostgreSQL and a real documents tree: what is uploaded, what
// is skipped, what a failure or a cancellation leaves behind.
#include "support/job_testing.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/job/job.hpp>
#include <dolibak/job/profile.hpp>
#include <dolibak/tarball/lister.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <csignal>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

using namespace dolibak;
using Outcome = job::HalfReport::Outcome;

namespace {

jobt::Instance& instance() {
    static jobt::Instance i;
    return i;
}

// Every run gets its own second: <ts> has a one-second resolution.
TimePoint next_second() {
    static TimePoint t =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    t += std::chrono::seconds(1);
    return t;
}

job::Config config_for(const std::filesystem::path& store) {
    auto c = instance().config(jobt::file_url(store));
    c.now = next_second;
    return c;
}

std::vector<std::string> keys_of(store::Store& s) {
    std::vector<std::string> out;
    for (const auto& o : s.list("")) out.push_back(o.key);
    return out;
}

void touch(const std::filesystem::path& p, std::string_view content) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
}

}  // namespace

TEST_CASE("first run uploads both halves; the next uploads nothing; then only what changed") {
    test::TempDir store_dir;
    job::Job j(config_for(store_dir.path()));
    auto& inst = instance();

    auto r1 = j.backup();
    CHECK(r1.ok());
    CHECK(jobt::half(r1, "db").outcome == Outcome::uploaded);
    CHECK(jobt::half(r1, "docs").outcome == Outcome::uploaded);
    CHECK(jobt::half(r1, "db").key.rfind("db/", 0) == 0);
    // A new store's documents go in packs (docs_mode auto: docs/packs.md).
    CHECK(jobt::half(r1, "docs").key.ends_with(".index.zst"));
    CHECK(j.store().head(".fp-db"));
    CHECK(j.store().head(".fp-docs"));
    CHECK_FALSE(j.store().head(".lock"));
    const auto manifest_text = j.store().get_bytes(r1.manifest_key);
    const auto manifest = catalog::Manifest::from_json(manifest_text);
    CHECK(manifest.succeeded());
    CHECK(manifest.halves.at("db").sha256 == jobt::half(r1, "db").sha256);
    CHECK(manifest.halves.at("db").format == "pg_dump-custom");
    CHECK(manifest.halves.at("docs").format == "packs");
    // Per table [rows, bytes]; no copy of the TOC (it was 1.5 MB for a 1.3 MB dump).
    const auto summary = nlohmann::json::parse(manifest.halves.at("db").archive_summary_json);
    CHECK(summary.at("tables").at("llx_facture").at(0).get<std::uint64_t>() > 0);
    CHECK(summary.at("table_count").get<std::size_t>() == summary.at("tables").size());
    CHECK_FALSE(summary.contains("entries"));
    MESSAGE("manifest of " << summary.at("table_count") << " tables: " << manifest_text.size()
                           << " bytes");
    CHECK(manifest_text.size() <= 16 * 1024);

    auto r2 = j.backup();
    CHECK(r2.ok());
    CHECK(jobt::half(r2, "db").outcome == Outcome::unchanged);
    CHECK(jobt::half(r2, "docs").outcome == Outcome::unchanged);
    CHECK(jobt::half(r2, "db").key == jobt::half(r1, "db").key);
    MESSAGE("unchanged run took " << r2.seconds << " s");

    SUBCASE("volatile changes: constants and logins") {
        inst.sql(
            "UPDATE llx_const SET value = value || '1'; "
            "UPDATE llx_user SET datelastlogin = now()");
        auto r = j.backup();
        CHECK(jobt::half(r, "db").outcome == Outcome::unchanged);
    }
    SUBCASE("a new invoice uploads the database only") {
        inst.sql(
            "INSERT INTO llx_facture (ref, entity, fk_soc, datec, fk_statut) "
            "SELECT 'FA2611-0999', 1, min(rowid), now(), 0 FROM llx_societe");
        auto r = j.backup();
        CHECK(jobt::half(r, "db").outcome == Outcome::uploaded);
        CHECK(jobt::half(r, "docs").outcome == Outcome::unchanged);
    }
    SUBCASE("an edited invoice line (a table without tms) uploads the database") {
        inst.sql(
            "UPDATE llx_facturedet SET subprice = subprice + 1 WHERE rowid = "
            "(SELECT min(rowid) FROM llx_facturedet)");
        CHECK(jobt::half(j.backup(), "db").outcome == Outcome::uploaded);
    }
    SUBCASE("an UPDATE of a table whose tms has no trigger uploads the database") {
        inst.sql(
            "UPDATE llx_accounting_bookkeeping SET label_operation = 'fixed' WHERE rowid = "
            "(SELECT min(rowid) FROM llx_accounting_bookkeeping)");
        CHECK(jobt::half(j.backup(), "db").outcome == Outcome::uploaded);
    }
    SUBCASE("temp files, previews and the log change nothing; a new PDF uploads the documents") {
        touch(inst.docs / "facture/temp/cache-widget.png", "x");
        // A preview written beside an existing invoice PDF, as Dolibarr does on first view.
        std::filesystem::path pdf;
        for (auto& e : std::filesystem::recursive_directory_iterator(inst.docs / "facture"))
            if (e.path().extension() == ".pdf" &&
                e.path().string().find("/temp/") == std::string::npos) {
                pdf = e.path();
                break;
            }
        REQUIRE_FALSE(pdf.empty());
        touch(pdf.string() + "_preview.png", "png");
        touch(inst.docs / "dolibarr.log", "GET /index.php\n");
        CHECK(jobt::half(j.backup(), "docs").outcome == Outcome::unchanged);
        touch(inst.docs / "facture/FA2611-0999/FA2611-0999.pdf", "%PDF-1.4 new invoice %%EOF");
        auto r = j.backup();
        CHECK(jobt::half(r, "docs").outcome == Outcome::uploaded);
        CHECK(jobt::half(r, "db").outcome == Outcome::unchanged);
    }
    SUBCASE("an object that the stored fingerprint names disappears: uploaded again") {
        j.store().remove(jobt::half(r1, "db").key);
        auto r = j.backup();
        CHECK(jobt::half(r, "db").outcome == Outcome::uploaded);
        CHECK(jobt::half(r, "db").reason.find("gone from the store") != std::string::npos);
    }
    SUBCASE("--force uploads anyway; --dry-run stores nothing") {
        const auto before = keys_of(j.store());
        job::BackupOptions dry;
        dry.dry_run = true;
        dry.force = true;
        auto d = j.backup(dry);
        CHECK(jobt::half(d, "db").outcome == Outcome::would_upload);
        CHECK(d.manifest_key.empty());
        CHECK(keys_of(j.store()) == before);
        job::BackupOptions force;
        force.force = true;
        force.db = false;
        auto f = j.backup(force);
        CHECK(jobt::half(f, "docs").outcome == Outcome::uploaded);
        CHECK(jobt::half(f, "db").outcome == Outcome::skipped);
    }
}

TEST_CASE("a failing half fails alone, and its fingerprint does not advance") {
    test::TempDir store_dir;
    auto c = config_for(store_dir.path());
    job::Job j(c);
    REQUIRE(j.backup().ok());
    const auto fp_docs = j.store().get_bytes(".fp-docs");
    instance().sql("INSERT INTO llx_c_country (code, label, active) VALUES ('ZZ', 'Test', 1)");

    // An empty documents directory (an unmounted volume) fails its half in the run; a
    // directory that does not exist is a configuration error instead (test_job_docs).
    auto broken = c;
    broken.docs->root = store_dir.path() / "empty-documents";
    std::filesystem::create_directories(broken.docs->root);
    job::Job jb(broken);
    auto r = jb.backup();
    CHECK_FALSE(r.ok());
    CHECK(jobt::half(r, "docs").outcome == Outcome::failed);
    CHECK(jobt::half(r, "docs").error.find("empty-documents") != std::string::npos);
    CHECK(jobt::half(r, "db").outcome == Outcome::uploaded);
    CHECK(jb.store().get_bytes(".fp-docs") == fp_docs);
    const auto m = catalog::Manifest::from_json(jb.store().get_bytes(r.manifest_key));
    CHECK(m.halves.at("docs").status == catalog::ManifestHalf::Status::failed);
    // Prune refuses after a failed run.
    CHECK_THROWS_WITH_AS(jb.prune(), doctest::Contains("failed"), Error);
}

TEST_CASE("a first run takes the fingerprint beside pg_dump; when it fails, nothing is stored") {
    // No stored fingerprint: the dump is written whatever the fingerprint says, so both run
    // at once in one snapshot (job/db_driver.cpp). A table the fingerprint cannot read (and
    // pg_dump is told to leave out) fails the scan while pg_dump succeeds.
    instance().sql(
        "CREATE TABLE llx_zz_unreadable (rowid int); REVOKE SELECT ON llx_zz_unreadable "
        "FROM CURRENT_USER");
    struct Drop {
        ~Drop() { instance().sql("DROP TABLE IF EXISTS llx_zz_unreadable"); }
    } drop;
    test::TempDir store_dir;
    auto c = config_for(store_dir.path());
    c.db->extra_dump_args = {"--exclude-table=llx_zz_unreadable"};
    std::vector<std::string> messages;
    std::mutex m;
    c.on_event = [&](const job::Event& e) {
        std::lock_guard lock(m);
        messages.push_back(e.message);
    };
    job::BackupOptions only_db;
    only_db.docs = false;
    job::Job j(c);
    const auto r = j.backup(only_db);
    CHECK_FALSE(r.ok());
    CHECK(jobt::half(r, "db").outcome == Outcome::failed);
    CHECK(jobt::half(r, "db").error.find("llx_zz_unreadable") != std::string::npos);
    CHECK(std::any_of(messages.begin(), messages.end(), [](const std::string& s) {
        return s.find("beside the dump, in one snapshot") != std::string::npos;
    }));
    for (const auto& k : keys_of(j.store())) {
        CHECK_MESSAGE(k.rfind("db/", 0) != 0, k);
        CHECK(k != ".fp-db");
    }
    std::size_t files = 0;  // nothing half-written in the directory store either
    for (auto& e : std::filesystem::recursive_directory_iterator(store_dir.path()))
        if (e.is_regular_file()) ++files;
    CHECK(files == keys_of(j.store()).size());

    // Readable again: the same first run stores the dump and a fingerprint that the next
    // run finds unchanged (both were of one state).
    instance().sql("GRANT SELECT ON llx_zz_unreadable TO CURRENT_USER");
    const auto ok = job::Job(c).backup(only_db);
    REQUIRE(ok.ok());
    CHECK(jobt::half(ok, "db").outcome == Outcome::uploaded);
    CHECK(jobt::half(ok, "db").reason == "no stored fingerprint");
    const auto again = job::Job(c).backup(only_db);
    CHECK(jobt::half(again, "db").outcome == Outcome::unchanged);
}

TEST_CASE("a cancelled run leaves no object, no lock and an unchanged fingerprint") {
    test::TempDir store_dir;
    auto c = config_for(store_dir.path());
    job::Job first(c);
    REQUIRE(first.backup().ok());
    const auto fp_before = first.store().get_bytes(".fp-db");
    const auto keys_before = keys_of(first.store());
    instance().sql(
        "UPDATE llx_product SET label = label || '!' WHERE rowid = "
        "(SELECT min(rowid) FROM llx_product)");

    auto token = std::make_shared<CancelToken>();
    c.cancel = token;
    c.on_event = [token](const job::Event& e) {
        if (e.kind == job::Event::Kind::progress && e.half == "db") token->cancel(SIGTERM);
    };
    job::BackupOptions only_db;
    only_db.docs = false;
    job::Job j(c);
    CHECK_THROWS_AS(j.backup(only_db), Cancelled);
    CHECK(j.store().get_bytes(".fp-db") == fp_before);
    CHECK(keys_of(j.store()) == keys_before);
    // Nothing half-written either (temporary files of the directory store).
    std::size_t files = 0;
    for (auto& e : std::filesystem::recursive_directory_iterator(store_dir.path()))
        if (e.is_regular_file()) ++files;
    CHECK(files == keys_before.size());
    // The next run succeeds.
    c.cancel.reset();
    c.on_event = nullptr;
    auto r = job::Job(c).backup(only_db);
    CHECK(jobt::half(r, "db").outcome == Outcome::uploaded);
}

TEST_CASE("progress: a backup estimates its total from the previous object; verify knows it") {
    test::TempDir store_dir;
    auto c = config_for(store_dir.path());
    std::mutex m;
    std::vector<job::Event> progress;
    c.on_event = [&](const job::Event& e) {
        if (e.kind != job::Event::Kind::progress) return;
        std::lock_guard lock(m);
        progress.push_back(e);
    };
    job::Job j(c);
    const auto first = j.backup();
    REQUIRE(first.ok());
    auto of = [&](const std::string& half) {
        std::vector<job::Event> out;
        for (const auto& e : progress)
            if (e.half == half) out.push_back(e);
        return out;
    };
    // The first backup of a half has nothing to go by.
    REQUIRE(!of("db").empty());
    for (const auto& e : progress) CHECK_FALSE(e.total);
    progress.clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a new <ts>
    job::BackupOptions force;
    force.force = true;
    const auto second = j.backup(force);
    REQUIRE(second.ok());
    for (const char* half : {"db", "docs"}) {
        INFO(half);
        const auto events = of(half);
        REQUIRE(!events.empty());
        for (const auto& e : events) {
            REQUIRE(e.total);
            CHECK(*e.total == jobt::half(first, half).bytes);
            CHECK(e.estimated);
        }
        // The half's progress ends with one `done` event carrying its final count.
        CHECK(events.back().done);
        CHECK(events.back().bytes == jobt::half(second, half).bytes);
        CHECK(std::count_if(events.begin(), events.end(), [](const auto& e) { return e.done; }) ==
              1);
    }
    // verify reads objects of a known size: exact totals, never passed.
    progress.clear();
    REQUIRE(j.verify().ok());
    REQUIRE(!progress.empty());
    for (const auto& e : progress) {
        REQUIRE(e.total);
        CHECK_FALSE(e.estimated);
        CHECK(e.bytes <= *e.total);
    }
}

TEST_CASE("the lock keeps two runs apart; an expired lock is taken over") {
    test::TempDir store_dir;
    auto c = config_for(store_dir.path());
    job::Job j(c);
    const auto now =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    j.store().put_bytes(".lock", R"({"host":"other","pid":42,"since":")" + format_rfc3339(now) +
                                     R"(","expires":")" +
                                     format_rfc3339(now + std::chrono::hours(1)) + "\"}");
    CHECK_THROWS_WITH_AS(j.backup(), doctest::Contains("locked by the run of pid 42 on other"),
                         Error);
    j.store().put_bytes(".lock", R"({"host":"other","pid":42,"since":"2020-01-01T00:00:00Z",)"
                                 R"("expires":"2020-01-01T12:00:00Z"})");
    std::vector<std::string> warnings;
    c.on_event = [&](const job::Event& e) {
        if (e.kind == job::Event::Kind::warning) warnings.push_back(e.message);
    };
    CHECK(job::Job(c).backup().ok());
    REQUIRE_FALSE(warnings.empty());
    CHECK(warnings.front().find("(expired)") != std::string::npos);
    CHECK_FALSE(j.store().head(".lock"));

    // A lock of this machine whose process is gone is taken over at once.
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    process::ProcessOptions o;
    o.argv = {"true"};
    o.out = process::Stdio::null;
    process::Process dead(o);
    const auto dead_pid = dead.pid();
    dead.wait();
    j.store().put_bytes(".lock", R"({"host":")" + std::string(host) + R"(","pid":)" +
                                     std::to_string(dead_pid) + R"(,"since":")" +
                                     format_rfc3339(now) + R"(","expires":")" +
                                     format_rfc3339(now + std::chrono::hours(1)) + "\"}");
    warnings.clear();
    CHECK(job::Job(c).backup().ok());
    REQUIRE_FALSE(warnings.empty());
    CHECK(warnings.front().find("that process is gone") != std::string::npos);
}

TEST_CASE("status: age of the last success, staleness and Prometheus metrics") {
    test::TempDir store_dir;
    auto c = config_for(store_dir.path());
    job::Job j(c);
    auto empty = j.status(std::chrono::hours(26));
    CHECK(empty.stale);
    CHECK_FALSE(empty.last_success);
    REQUIRE(j.backup().ok());

    const auto metrics = store_dir.path() / "dolibak.prom";
    auto fresh = j.status(std::chrono::hours(26), metrics);
    REQUIRE(fresh.last_success);
    CHECK_FALSE(fresh.stale);
    // Thirty hours later, the same run is stale.
    auto later = c;
    const auto t = fresh.last_success->time + std::chrono::hours(30);
    later.now = [t] { return t; };
    auto old = job::Job(later).status(std::chrono::hours(26));
    CHECK(old.stale);
    // The age counts from the run's end (its manifest's finished_at), so exactly 30 h less the
    // run's own duration, however long the backup took on a loaded machine.
    const auto& done = fresh.last_success->manifest.finished_at;
    REQUIRE(done.time_since_epoch().count() > 0);
    CHECK(*old.age_seconds ==
          doctest::Approx(static_cast<double>(
              std::chrono::duration_cast<std::chrono::seconds>(t - done).count())));
    CHECK(*old.age_seconds <= 30 * 3600);

    // The textfile parses: HELP/TYPE comments, then `name{labels} value` lines.
    const std::string text = test::read_file(metrics);
    std::istringstream lines(text);
    std::string line;
    int samples = 0;
    while (std::getline(lines, line)) {
        if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
        const auto brace = line.find('{');
        const auto close = line.rfind('}');
        REQUIRE_MESSAGE(brace != std::string::npos, line);
        REQUIRE_MESSAGE(close != std::string::npos, line);
        const std::string name = line.substr(0, brace);
        CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string::npos);
        const std::string value = line.substr(close + 2);
        CHECK_NOTHROW((void)std::stod(value));
        ++samples;
    }
    CHECK(samples >= 8);
    CHECK(text.find("dolibak_stale{") != std::string::npos);
    CHECK(text.find("dolibak_last_run_success{") != std::string::npos);
}

TEST_CASE("backup and skip on the signature-checking S3 server") {
    const auto& s3 = test::s3();
    auto c = instance().config("s3://" + s3.at("bucket").get<std::string>() + "/job-test");
    c.now = next_second;
    c.store.s3.endpoint = s3.at("endpoint").get<std::string>();
    c.store.s3.region = s3.at("region").get<std::string>();
    c.store.credentials = s3::Credentials{s3.at("access_key").get<std::string>(),
                                          Secret(s3.at("secret_key").get<std::string>()), Secret(),
                                          "test", std::nullopt};
    job::Job j(c);
    auto r1 = j.backup();
    REQUIRE(r1.ok());
    CHECK(jobt::half(r1, "db").outcome == Outcome::uploaded);
    CHECK(jobt::half(r1, "docs").outcome == Outcome::uploaded);
    auto r2 = j.backup();
    CHECK(jobt::half(r2, "db").outcome == Outcome::unchanged);
    CHECK(jobt::half(r2, "docs").outcome == Outcome::unchanged);
    const auto listing = j.list();
    CHECK(listing.runs.size() == 2);
    CHECK(listing.backups.size() == 2);
}

TEST_CASE("globals: roles stored beside an uploaded dump, without passwords by default") {
    test::TempDir store_dir;
    auto c = config_for(store_dir.path());
    c.db->globals = true;
    job::Job j(c);
    job::BackupOptions force;
    force.force = true;
    auto r = j.backup(force);
    REQUIRE(r.ok());
    const auto& g = jobt::half(r, "globals");
    CHECK(g.outcome == Outcome::uploaded);
    CHECK(g.key.rfind("globals/", 0) == 0);
    const auto sql = j.store().get_bytes(g.key);
    CHECK(sql.find("CREATE ROLE prod_owner") != std::string::npos);
    CHECK(sql.find("SCRAM-SHA-256$") == std::string::npos);
    CHECK(
        catalog::Manifest::from_json(j.store().get_bytes(r.manifest_key)).halves.count("globals") ==
        1);
}

TEST_CASE(
    "globals have their own fingerprint: a new role is stored though the data did not change") {
    test::TempDir store_dir;
    auto c = config_for(store_dir.path());
    c.db->globals = true;
    job::Job j(c);
    const auto r1 = j.backup();
    REQUIRE(r1.ok());
    CHECK(jobt::half(r1, "globals").outcome == Outcome::uploaded);
    const auto r2 = j.backup();
    CHECK(jobt::half(r2, "db").outcome == Outcome::unchanged);
    CHECK(jobt::half(r2, "globals").outcome == Outcome::unchanged);
    CHECK(jobt::half(r2, "globals").key == jobt::half(r1, "globals").key);
    CHECK(j.store().head(".fp-globals").has_value());

    const std::string role = "dolibak_new_role_" + std::to_string(::getpid());
    pgt::psql(pgt::conn("superuser"), "CREATE ROLE " + role + ";");
    const auto r3 = j.backup();
    pgt::psql(pgt::conn("superuser"), "DROP ROLE " + role + ";");
    CHECK(jobt::half(r3, "db").outcome == Outcome::unchanged);
    const auto& g = jobt::half(r3, "globals");
    CHECK(g.outcome == Outcome::uploaded);
    CHECK(g.reason == "roles changed");
    CHECK(j.store().get_bytes(g.key).find("CREATE ROLE " + role) != std::string::npos);
}

TEST_CASE("the odoo profile: write_date tables, volatile bus and cron, filestore checklist churn") {
    // An Odoo-shaped database and filestore, built here (dolibarr-model.md, "Odoo").
    const std::string db = pgt::create_db("prod");
    const auto conn = pgt::conn("prod", db);
    pgt::psql(conn,
              "CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar NOT NULL, "
              "write_date timestamp DEFAULT now());"
              "CREATE TABLE account_move (id serial PRIMARY KEY, name varchar, amount_total "
              "numeric, partner_id int REFERENCES res_partner, write_date timestamp DEFAULT "
              "now());"
              "CREATE TABLE bus_bus (id serial PRIMARY KEY, channel varchar, message text, "
              "create_date timestamp DEFAULT now());"
              "CREATE TABLE ir_cron (id serial PRIMARY KEY, name varchar, nextcall timestamp);"
              "CREATE TABLE res_users_log (id serial PRIMARY KEY, create_uid int);"
              "CREATE TABLE sale_order_cancel_wizard (id serial PRIMARY KEY, reason text);"
              "INSERT INTO res_partner (name) SELECT 'partner ' || i FROM generate_series(1, 50) i;"
              "INSERT INTO account_move (name, amount_total, partner_id) "
              "SELECT 'INV/2026/' || i, i * 10, 1 + i % 50 FROM generate_series(1, 200) i;"
              "INSERT INTO ir_cron (name, nextcall) VALUES ('mail queue', now());");
    test::TempDir tmp;
    const auto filestore = tmp / "filestore" / db;
    test::write_file(filestore / "3f/3f786850e387550fdab836ed7e6dc881de23001b", "%PDF invoice 1");
    test::write_file(filestore / "89/89e6c98d92887913cadf06b2adb97f26cde4849b", "%PDF invoice 2");
    test::write_file(filestore / "checklist/3f/3f786850e387550fdab836ed7e6dc881de23001b", "");

    job::Config c;
    c.store_url = jobt::file_url(tmp / "store");
    c.store.create_directory = true;
    c.profile = job::builtin_profile("odoo");
    job::DatabaseSettings d;
    d.conn = conn;
    d.tools_dir = pgt::pg_bin();
    c.db = d;
    job::DocumentsSettings s;
    s.root = filestore;
    c.docs = s;
    job::Job j(c);
    auto run = [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a new <ts>
        const auto r = j.backup();
        REQUIRE(r.ok());
        return std::pair{jobt::half(r, "db").outcome, jobt::half(r, "docs").outcome};
    };
    using P = std::pair<Outcome, Outcome>;
    CHECK(run() == P{Outcome::uploaded, Outcome::uploaded});
    // The checklist marker is in the backup (a new store's packs), though out of the
    // fingerprint.
    {
        job::RestoreDocsOptions o;
        o.target = tmp / "restored";
        j.restore_docs(o);
        CHECK(std::filesystem::exists(
            tmp / "restored/checklist/3f/3f786850e387550fdab836ed7e6dc881de23001b"));
        CHECK(test::read_file(tmp / "restored/3f/3f786850e387550fdab836ed7e6dc881de23001b") ==
              "%PDF invoice 1");
    }
    // Presence, cron state, login log, a wizard's transient rows: nothing to upload.
    pgt::psql(conn,
              "INSERT INTO bus_bus (channel, message) VALUES ('presence', '{}');"
              "UPDATE ir_cron SET nextcall = now() + interval '1 minute';"
              "INSERT INTO res_users_log (create_uid) VALUES (2);"
              "INSERT INTO sale_order_cancel_wizard (reason) VALUES ('changed mind');");
    test::write_file(filestore / "checklist/89/89e6c98d92887913cadf06b2adb97f26cde4849b", "");
    CHECK(run() == P{Outcome::unchanged, Outcome::unchanged});
    // A raw SQL edit that bypasses the ORM (write_date untouched): still seen.
    pgt::psql(conn, "UPDATE account_move SET amount_total = amount_total + 1 WHERE id = 7;");
    CHECK(run() == P{Outcome::uploaded, Outcome::unchanged});
    // A new attachment in the filestore.
    test::write_file(filestore / "c1/c1dfd96eea8cc2b62785275bca38ac261256e278", "%PDF invoice 3");
    CHECK(run() == P{Outcome::unchanged, Outcome::uploaded});
}

TEST_CASE("the fingerprint's pre-check state: stored with the fingerprint, renewed when stale") {
    test::TempDir store_dir;
    auto c = config_for(store_dir.path());
    std::mutex m;
    std::vector<std::string> scans;
    c.on_event = [&](const job::Event& e) {
        if (e.kind == job::Event::Kind::info && e.half == "db" &&
            e.message.rfind("fingerprint: ", 0) == 0) {
            std::lock_guard lock(m);
            scans.push_back(e.message);
        }
    };
    job::BackupOptions only_db;
    only_db.docs = false;
    job::Job j(c);
    REQUIRE(j.backup(only_db).ok());
    auto stored = nlohmann::json::parse(j.store().get_bytes(".fp-db"));
    REQUIRE(stored.contains("precheck"));
    // A .fp-db as an earlier dolibak wrote it: every table is read once, then the state is
    // stored with the same fingerprint and object.
    stored.erase("precheck");
    j.store().put_bytes(".fp-db", stored.dump());
    scans.clear();
    auto r = j.backup(only_db);
    REQUIRE(r.ok());
    CHECK(jobt::half(r, "db").outcome == Outcome::unchanged);
    REQUIRE(scans.size() == 1);
    CHECK(scans[0].find("(no stored pre-check state)") != std::string::npos);
    CHECK(scans[0].rfind("fingerprint: 0 of", 0) != 0);
    const auto renewed = nlohmann::json::parse(j.store().get_bytes(".fp-db"));
    CHECK(renewed.contains("precheck"));
    CHECK(renewed.at("fingerprint") == stored.at("fingerprint"));
    CHECK(renewed.at("object") == stored.at("object"));
    // The next unchanged run reads no table (the sessions of the runs before have ended or
    // are idle: retried until they are).
    for (int i = 0; i < 50; ++i) {
        scans.clear();
        r = j.backup(only_db);
        REQUIRE(r.ok());
        REQUIRE(scans.size() == 1);
        if (scans[0].find("unflushed") == std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
    }
    CHECK(jobt::half(r, "db").outcome == Outcome::unchanged);
    CHECK(scans[0].rfind("fingerprint: 0 of", 0) == 0);
}
