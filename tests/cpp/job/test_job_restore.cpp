// Job::restore_db / restore_docs against a real PostgreSQL and generated documents, from a
// file:// store and from the signature-checking S3 fixture.
#include "support/job_ops_testing.hpp"

#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/pgdump/restore.hpp>

using namespace dolibak;
namespace fs = std::filesystem;

namespace {

const TimePoint t_old = parse_timestamp("20260101T020000Z");
const TimePoint t_new = parse_timestamp("20260102T020000Z");

job::RestoreDbOptions db_to(const std::string& dbname) {
    job::RestoreDbOptions o;
    o.restore.target = pgt::conn("prod", dbname);
    return o;
}

job::RestoreDocsOptions docs_to(const fs::path& target) {
    job::RestoreDocsOptions o;
    o.target = target;
    return o;
}

// Sets the SHA-256 the manifest of `t` records for `half` to another (valid) digest.
void tamper_manifest_sha(store::Store& s, TimePoint t, const std::string& half) {
    const auto key = catalog::make_store_key("", catalog::ObjectKind::manifest, t);
    auto m = catalog::Manifest::from_json(s.get_bytes(key));
    m.halves.at(half).sha256 = io::sha256_hex("not the object");
    s.put_bytes(key, m.to_json());
}

}  // namespace

TEST_CASE("restore of latest into a fresh database and directory equals the source") {
    test::TempDir tmp;
    const jobt::Instance inst(40, 11);
    // The filtered restore below leaves this function out.
    inst.sql(
        "CREATE FUNCTION user_lookup(i_username text, OUT uname text, OUT phash text) "
        "RETURNS record LANGUAGE sql SECURITY DEFINER AS $$ SELECT i_username, 'x' $$;");
    // An older run with other content: latest must not pick it.
    job::Job j(jt::config("file://" + (tmp / "store").string()));
    const auto other_db = pgt::create_db("prod");
    pgt::psql(pgt::conn("prod", other_db), "CREATE TABLE llx_other (a int);");
    test::write_file(tmp / "old-docs/install.lock", "");
    jt::make_run(j.store(), {t_old, other_db, tmp / "old-docs"});
    // The latest run: the job's own backup of the generated instance.
    {
        job::Job b(inst.config("file://" + (tmp / "store").string()));
        const auto rep = b.backup();
        REQUIRE(rep.ok());
    }
    const auto src_db = inst.db;
    const auto& src_docs = inst.docs;

    const auto v = j.verify();
    CHECK(v.ok());
    CHECK(v.objects.size() == 2);

    const auto target_db = pgt::create_db("prod");
    auto opts = db_to(target_db);
    const auto rep = j.restore_db(opts);
    CHECK(rep.pg_restore_exit == 0);
    CHECK(rep.pattern_tables >= 250);
    // The object matched the manifest's digest: its rows are proven against the counts the
    // backup recorded, its blocks walked, not inflated again.
    CHECK(rep.recorded_counts);
    const auto expected = jt::row_counts(pgt::conn("prod", src_db));
    CHECK(expected.size() > 250);
    CHECK(jt::row_counts(pgt::conn("prod", target_db)) == expected);

    const auto target_dir = tmp / "restored";
    const auto drep = j.restore_docs(docs_to(target_dir));
    CHECK(drep.key.rfind("docs/", 0) == 0);
    CHECK(drep.key != catalog::make_store_key("", catalog::ObjectKind::docs_tar_gz, t_old));
    // The store held a gzip run; the next run is zstd all the same (docs/store-layout.md,
    // "Documents compression"), and both restore (the older one below).
    CHECK(drep.key.ends_with(".tar.zst"));
    CHECK(drep.missing_required.empty());
    CHECK(drep.summary.files > 50);
    CHECK(jt::tree(target_dir, false) == jt::tree(src_docs));

    // A non-empty target is refused without confirmation.
    CHECK_THROWS_AS(j.restore_db(db_to(target_db)), ConfigError);
    test::write_file(target_dir / "stray.txt", "x");
    CHECK_THROWS_AS(j.restore_docs(docs_to(target_dir)), ConfigError);
    CHECK(fs::exists(target_dir / "stray.txt"));
    auto again = docs_to(target_dir);
    again.confirm_non_empty = true;
    j.restore_docs(again);
    CHECK(!fs::exists(target_dir / "stray.txt"));
    CHECK(jt::tree(target_dir, false) == jt::tree(src_docs));

    // A named run is restored, not the latest.
    auto o = docs_to(tmp / "older");
    o.which = format_timestamp(t_old);
    const auto r = j.restore_docs(o);
    CHECK(r.key == catalog::make_store_key("", catalog::ObjectKind::docs_tar_gz, t_old));
    CHECK(fs::exists(tmp / "older/install.lock"));
    CHECK(!fs::exists(tmp / "older/facture"));
    auto d = db_to(pgt::create_db("prod"));
    d.which = format_timestamp(t_old);
    d.restore.proof.min_tables = 0;
    const auto r2 = j.restore_db(d);
    CHECK(r2.tables.size() == 1);  // llx_other, empty
    CHECK(pgt::psql(d.restore.target, "SELECT count(*) FROM llx_other") == "0\n");
    d.which = "20250101T000000Z";
    CHECK_THROWS_AS(j.restore_db(d), ConfigError);

    // A filtered restore: pg_restore needs its -L list before the archive, so the TOC is read
    // off the head of the streamed object first.
    const auto filtered = pgt::create_db("prod");
    auto f = db_to(filtered);
    f.exclude = {"FUNCTION::user_lookup(*"};
    f.restore.jobs = 2;  // and through the spool, checked whole before pg_restore starts
    f.restore.temp_dir = tmp / "spool";
    fs::create_directories(f.restore.temp_dir);
    const auto rf = j.restore_db(f);
    CHECK(rf.pattern_tables >= 250);
    CHECK(rf.recorded_counts);
    CHECK(fs::is_empty(f.restore.temp_dir));
    CHECK(pgt::psql(pgt::conn("prod", filtered),
                    "SELECT count(*) FROM pg_proc WHERE proname = 'user_lookup'") == "0\n");
    CHECK(pgt::psql(pgt::conn("prod", src_db),
                    "SELECT count(*) FROM pg_proc WHERE proname = 'user_lookup'") == "1\n");
    CHECK(jt::row_counts(pgt::conn("prod", filtered)) == expected);

    // One byte of the latest object changed, its size kept (the store is a directory): the
    // digest no longer matches, and with -j the restore stops before pg_restore starts, with
    // the spool removed and the target untouched.
    fs::path latest;
    for (const auto& e : fs::directory_iterator(tmp / "store/db"))
        if (latest.empty() || e.path().filename() > latest.filename()) latest = e.path();
    {
        std::string bytes = test::read_file(latest);
        bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 1);
        fs::permissions(latest, fs::perms::owner_write, fs::perm_options::add);
        test::write_file(latest, bytes);
    }
    const auto untouched = pgt::create_db("prod");
    auto bad = db_to(untouched);
    bad.restore.jobs = 2;
    bad.restore.temp_dir = f.restore.temp_dir;
    CHECK_THROWS_WITH_AS(j.restore_db(bad), doctest::Contains("SHA-256"), VerificationError);
    CHECK(pgdump::count_user_objects(pgt::conn("prod", untouched)) == 0);
    CHECK(fs::is_empty(f.restore.temp_dir));
}

TEST_CASE("a digest that differs from the manifest commits nothing") {
    test::TempDir tmp;
    job::Job j(jt::config("file://" + (tmp / "store").string()));
    test::write_file(tmp / "docs/install.lock", "");
    test::write_file(tmp / "docs/facture/F1/F1.pdf", std::string(300000, 'p'));
    jt::make_run(j.store(), {t_new, jt::tiny_db(), tmp / "docs"});
    tamper_manifest_sha(j.store(), t_new, "db");
    tamper_manifest_sha(j.store(), t_new, "docs");

    const auto target = pgt::create_db("prod");
    try {
        auto o = db_to(target);
        o.restore.proof = jt::tiny_proof();
        j.restore_db(o);
        FAIL("expected VerificationError");
    } catch (const VerificationError& e) {
        CHECK(std::string(e.what()).find("SHA-256") != std::string::npos);
    }
    // pg_restore ran in one transaction and was stopped before its commit.
    CHECK(pgdump::count_user_objects(pgt::conn("prod", target)) == 0);

    CHECK_THROWS_AS(j.restore_docs(docs_to(tmp / "out")), VerificationError);
    CHECK(!fs::exists(tmp / "out"));

    // A bad exclusion rule is refused before anything is restored.
    auto o = db_to(target);
    o.exclude = {"a:b:c:d:e"};
    CHECK_THROWS_AS(j.restore_db(o), ConfigError);
    CHECK(pgdump::count_user_objects(pgt::conn("prod", target)) == 0);
}

TEST_CASE("archives of the old scripts (no manifest, leading documents/) restore") {
    test::TempDir tmp;
    job::Job j(jt::config("file://" + (tmp / "store").string()));
    jt::RunSpec spec{t_new, jt::tiny_db(), jt::generated_docs()};
    spec.manifest = false;
    spec.old_prefix = true;
    jt::make_run(j.store(), spec);
    const auto target = tmp / "restored";
    const auto rep = j.restore_docs(docs_to(target));
    CHECK(rep.missing_required.empty());
    CHECK(!fs::exists(target / "documents"));
    CHECK(jt::tree(target, false) == jt::tree(jt::generated_docs()));
    const auto db = pgt::create_db("prod");
    auto o = db_to(db);
    o.restore.proof = jt::tiny_proof();
    // No manifest, no recorded counts: every block is inflated and its rows counted.
    CHECK_FALSE(j.restore_db(o).recorded_counts);
    CHECK(jt::row_counts(pgt::conn("prod", db)) ==
          jt::row_counts(pgt::conn("prod", jt::tiny_db())));
}

TEST_CASE("a restore reports the profile's required documents that are missing") {
    test::TempDir tmp;
    job::Job j(jt::config("file://" + (tmp / "store").string()));
    test::write_file(tmp / "docs/facture/a.pdf", "pdf");
    jt::make_run(j.store(), {t_new, {}, tmp / "docs"});
    const auto rep = j.restore_docs(docs_to(tmp / "out"));
    CHECK(rep.missing_required == std::vector<std::string>{"install.lock"});
    CHECK(test::read_file(tmp / "out/facture/a.pdf") == "pdf");
}

TEST_CASE("restore and verify from the S3 fixture (zstd dump, zstd tar)") {
    job::Job j(jt::config(jt::s3_url(), jt::s3_options()));
    jt::RunSpec spec{t_new, jt::tiny_db(), jt::generated_docs()};
    spec.zstd_dump = true;
    spec.zstd_docs = true;
    jt::make_run(j.store(), spec);

    const auto v = j.verify();
    CHECK(v.ok());
    REQUIRE(v.objects.size() == 2);
    CHECK(v.time == t_new);

    const auto db = pgt::create_db("prod");
    auto o = db_to(db);
    o.restore.proof = jt::tiny_proof();
    j.restore_db(o);
    CHECK(jt::row_counts(pgt::conn("prod", db)) ==
          jt::row_counts(pgt::conn("prod", jt::tiny_db())));
    test::TempDir tmp;
    const auto rep = j.restore_docs(docs_to(tmp / "restored"));
    CHECK(rep.key == catalog::make_store_key("", catalog::ObjectKind::docs_tar_zst, t_new));
    CHECK(jt::tree(tmp / "restored", false) == jt::tree(jt::generated_docs()));
}

TEST_CASE("each proof setting left unset takes the profile's, each one given is kept") {
    test::TempDir tmp;
    auto cfg = jt::config("file://" + (tmp / "store").string());
    // tiny_db holds llx_societe, llx_facture, llx_const: the profile's pattern matches one.
    cfg.profile.table_prefix = "llx_fac";
    cfg.profile.min_restored_tables = 0;
    job::Job j(cfg);
    jt::make_run(j.store(), {t_new, jt::tiny_db(), {}});

    SUBCASE("only the minimum given: the pattern is the profile's") {
        auto o = db_to(pgt::create_db("prod"));
        o.restore.proof.min_tables = 1;
        CHECK(j.restore_db(o).pattern_tables == 1);
    }
    SUBCASE("a minimum equal to the library's default is still the caller's") {
        auto o = db_to(pgt::create_db("prod"));
        o.restore.proof.min_tables = 250;  // the library's default
        CHECK_THROWS_AS(j.restore_db(o), VerificationError);
    }
    SUBCASE("nothing given: both are the profile's") {
        const auto rep = j.restore_db(db_to(pgt::create_db("prod")));
        CHECK(rep.pattern_tables == 1);
    }
}

TEST_CASE(
    "a restore over the configured (source) database needs overwrite_source and takes a "
    "safety dump first") {
    test::TempDir tmp;
    const auto src = pgt::create_db("prod");
    pgt::psql(pgt::conn("prod", src), "CREATE TABLE llx_a (id int); INSERT INTO llx_a VALUES (1);");
    auto cfg = jt::config("file://" + (tmp / "store").string());
    job::DatabaseSettings d;
    d.conn = pgt::conn("prod", src);
    cfg.db = d;
    cfg.temp_dir = tmp / "temp";
    fs::create_directories(cfg.temp_dir);
    job::Job j(cfg);
    jt::make_run(j.store(), {t_new, src, {}});
    pgt::psql(pgt::conn("prod", src), "INSERT INTO llx_a VALUES (2);");  // after the backup
    auto o = db_to(src);
    o.restore.confirm_non_empty = true;
    o.restore.clean = true;
    o.restore.proof.min_tables = 1;
    CHECK_THROWS_AS(j.restore_db(o), ConfigError);
    CHECK(pgt::psql(pgt::conn("prod", src), "SELECT count(*) FROM llx_a") == "2\n");

    o.overwrite_source = true;
    const auto rep = j.restore_db(o);
    CHECK(pgt::psql(pgt::conn("prod", src), "SELECT count(*) FROM llx_a") == "1\n");
    REQUIRE(rep.safety_dump.has_value());
    CHECK(rep.safety_dump->parent_path() == cfg.temp_dir);
    const auto before = pgdump::read_archive(*rep.safety_dump);
    REQUIRE(before.tables.size() == 1);
    CHECK(before.tables[0].rows == 2u);  // what the restore rolled back is kept

    // The configured database, empty (a rebuild after a disaster): nothing to lose, no flag.
    const auto rebuilt = pgt::create_db("prod");
    auto cfg2 = cfg;
    cfg2.db->conn = pgt::conn("prod", rebuilt);
    job::Job j2(cfg2);
    auto o2 = db_to(rebuilt);
    o2.restore.proof.min_tables = 1;
    CHECK_FALSE(j2.restore_db(o2).safety_dump.has_value());
    CHECK(pgt::psql(pgt::conn("prod", rebuilt), "SELECT count(*) FROM llx_a") == "1\n");
}
