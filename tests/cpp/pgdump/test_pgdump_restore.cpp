// Streamed dumps (pg_dump -Fc and the zstd mode) and restores with proof, on the real
// PostgreSQL 15 fixture and a generated Dolibarr-like database.
#include "support/pgdump_testing.hpp"

#include <dolibak/io/file_io.hpp>
#include <dolibak/pgdump/dump.hpp>
#include <dolibak/pgdump/restore.hpp>
#include <dolibak/pgdump/toc_filter.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

using namespace dolibak;
using namespace dolibak::pgdump;

namespace {

DumpOptions dump_opts(DumpMode mode = DumpMode::pg_dump_compressed) {
    DumpOptions o;
    o.conn = pgt::conn("prod", pgt::generated_db());
    o.mode = mode;
    return o;
}

RestoreOptions restore_opts(const std::string& db, const std::string& role = "sandbox") {
    RestoreOptions o;
    o.target = pgt::conn(role, db);
    return o;
}

const std::string& dumped() {
    static const std::string bytes = [] {
        io::MemorySink sink;
        dump(dump_opts(), sink);
        return sink.data();
    }();
    return bytes;
}

std::vector<std::string> files_in(const std::filesystem::path& d) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(d))
        out.push_back(e.path().filename().string());
    return out;
}

}  // namespace

TEST_CASE("tools of the server's version are found; older ones are refused naming both versions") {
    const int server = server_version_num(pgt::conn("prod"));
    CHECK(server / 10000 == 15);
    const auto t = find_tools(15);
    CHECK(t.major == 15);
    CHECK(t.pg_dump.filename() == "pg_dump");
    CHECK(std::filesystem::exists(t.pg_restore));
    try {
        find_tools(99);
        FAIL("expected ConfigError");
    } catch (const ConfigError& e) {
        const std::string m = e.what();
        CHECK(m.find("99") != std::string::npos);
        CHECK(m.find("15.") != std::string::npos);
    }
    CHECK_THROWS_AS(find_tools(15, std::filesystem::path("/nonexistent")), ConfigError);
    // Tools given explicitly are checked too, and nothing reaches the sink.
    auto o = dump_opts();
    PgTools old = t;
    old.major = 14;
    old.version = "14.11";
    o.tools = old;
    io::MemorySink sink;
    try {
        dump(o, sink);
        FAIL("expected ConfigError");
    } catch (const ConfigError& e) {
        const std::string m = e.what();
        CHECK(m.find("pg_dump 14.11") != std::string::npos);
        CHECK(m.find(fmt::format("PostgreSQL {}.{} server", server / 10000, server % 10000)) !=
              std::string::npos);
    }
    CHECK(sink.aborted());
    CHECK_FALSE(sink.finished());
}

TEST_CASE("streamed dump: verified while written, sink finished, password never in argv") {
    io::MemorySink sink;
    auto o = dump_opts();
    const auto res = dump(o, sink);
    CHECK(sink.finished());
    CHECK(res.bytes_out == sink.data().size());
    CHECK(res.summary.header.dbname == pgt::generated_db());
    CHECK(res.summary.tables.size() > 250);
    CHECK(res.summary.large_objects == 1);
    CHECK(res.server_version / 10000 == 15);
    for (const auto& a : dump_argv(o, res.tools))
        CHECK(a.find(o.conn.password.reveal()) == std::string::npos);
    // The same bytes read back give the same summary.
    io::MemorySource src(sink.data());
    const auto again = read_archive(src);
    CHECK(listing(again) == listing(res.summary));
}

TEST_CASE("pg_dump gets its libpq settings and a password file in memory, nothing of ours") {
    test::TempDir d;
    // The temporary directory stays empty: the password file is not on disk.
    const auto tmp = d / "tmp";
    std::filesystem::create_directories(tmp);
    const auto tools = find_tools(15);
    // A stand-in pg_dump: copies its environment as the kernel holds it, its password file's
    // mode and content, then runs the real one (which must log in with that file alone).
    // The password file is a link in /proc: stat -L looks at the file it leads to.
    const auto fake = d / "pg_dump";
    test::write_file(fake, "#!/bin/sh\ntr '\\0' '\\n' < /proc/$$/environ > '" +
                               (d / "environ").string() + "'\nstat -L -c %a \"$PGPASSFILE\" > '" +
                               (d / "mode").string() + "'\ncat \"$PGPASSFILE\" > '" +
                               (d / "passfile").string() + "'\nexec '" + tools.pg_dump.string() +
                               "' \"$@\"\n");
    ::chmod(fake.c_str(), 0755);
    ::setenv("AWS_SECRET_ACCESS_KEY", "parent-aws-secret", 1);
    ::setenv("DOLIBAK_DB_PASSWORD", "parent-db-password", 1);
    ::setenv("PGPASSWORD", "parent-pgpassword", 1);
    const char* const tmpdir_before = std::getenv("TMPDIR");
    const std::optional<std::string> saved_tmpdir =
        tmpdir_before ? std::optional<std::string>(tmpdir_before) : std::nullopt;
    ::setenv("TMPDIR", tmp.c_str(), 1);
    DumpOptions o;
    o.conn = pgt::conn("prod", pgt::create_db("prod"));
    PgTools t = tools;
    t.pg_dump = fake;
    o.tools = t;
    io::MemorySink sink;
    const auto res = dump(o, sink);
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    ::unsetenv("DOLIBAK_DB_PASSWORD");
    ::unsetenv("PGPASSWORD");
    if (saved_tmpdir)
        ::setenv("TMPDIR", saved_tmpdir->c_str(), 1);
    else
        ::unsetenv("TMPDIR");
    CHECK(sink.finished());
    CHECK(res.summary.header.dbname == o.conn.dbname);
    const auto env = "\n" + test::read_file(d / "environ");
    INFO(env);
    CHECK(env.find("parent-aws-secret") == std::string::npos);
    CHECK(env.find("parent-db-password") == std::string::npos);
    CHECK(env.find("parent-pgpassword") == std::string::npos);
    CHECK(env.find("\nPGPASSWORD=") == std::string::npos);
    CHECK(env.find(o.conn.password.reveal()) == std::string::npos);
    CHECK(env.find("\nPGUSER=" + o.conn.user + "\n") != std::string::npos);
    CHECK(env.find("\nPGDATABASE=" + o.conn.dbname + "\n") != std::string::npos);
    for (std::size_t at = 1; at < env.size();) {
        const auto nl = env.find('\n', at);
        const auto name = env.substr(at, env.find('=', at) - at);
        at = nl == std::string::npos ? env.size() : nl + 1;
        CHECK_MESSAGE((process::is_minimal_environment_name(name) || name.starts_with("PG")), name);
    }
    CHECK(test::read_file(d / "mode") == "600\n");
    CHECK(test::read_file(d / "passfile").find(o.conn.password.reveal()) != std::string::npos);
    // The password file was the descriptor pg_dump inherited; nothing of it is on disk.
    const auto at = env.find("\nPGPASSFILE=");
    REQUIRE(at != std::string::npos);
    const auto passfile = env.substr(at + 12, env.find('\n', at + 1) - at - 12);
    CHECK(passfile.starts_with("/proc/self/fd/"));
    CHECK(std::filesystem::directory_iterator(tmp) == std::filesystem::directory_iterator());
}

TEST_CASE("the dump session is read-only, whatever the role's own settings") {
    // The role's own default would leave its sessions writable.
    auto o = dump_opts();
    pgt::psql(pgt::conn("superuser"),
              "ALTER ROLE " + o.conn.user + " SET default_transaction_read_only = off;");
    // A pg_dump in a tools directory of ours records its argv, tries a write and reads the
    // setting through psql in the environment dump() gave it, then runs the real pg_dump.
    test::TempDir d;
    const auto tools = d / "tools";
    std::filesystem::create_directories(tools);
    const auto record = d / "record";
    test::write_file(tools / "pg_dump",
                     "#!/bin/sh\n"
                     "case \"$1\" in --version) exec " +
                         pgt::pg_bin() +
                         "/pg_dump --version;; esac\n"
                         "printf '%s\\n' \"$@\" > '" +
                         (d / "argv").string() +
                         "'\n"
                         "" +
                         pgt::pg_bin() +
                         "/psql -X -At -c 'SHOW default_transaction_read_only' "
                         "> '" +
                         record.string() +
                         "' 2>&1\n"
                         "" +
                         pgt::pg_bin() +
                         "/psql -X -At -c 'CREATE TABLE dump_wrote (a int)' "
                         ">> '" +
                         record.string() +
                         "' 2>&1\n"
                         "exec " +
                         pgt::pg_bin() + "/pg_dump \"$@\"\n");
    ::chmod((tools / "pg_dump").c_str(), 0755);
    std::filesystem::create_symlink(pgt::pg_bin() + "/pg_restore", tools / "pg_restore");
    o.tools_dir = tools;
    io::MemorySink sink;
    const auto res = dump(o, sink);
    CHECK(res.summary.tables.size() >= 250);
    const auto seen = test::read_file(record);
    INFO(seen);
    CHECK(seen.rfind("on\n", 0) == 0);
    CHECK(seen.find("cannot execute CREATE TABLE in a read-only transaction") != std::string::npos);
    CHECK(pgt::psql(o.conn, "SELECT count(*) FROM pg_class WHERE relname = 'dump_wrote'") == "0\n");
    // The password reached it through the environment only.
    const auto argv = test::read_file(d / "argv");
    CHECK(argv.find("--format=custom\n") != std::string::npos);
    REQUIRE(!o.conn.password.empty());
    CHECK(argv.find(o.conn.password.reveal()) == std::string::npos);
    pgt::psql(pgt::conn("superuser"),
              "ALTER ROLE " + o.conn.user + " RESET default_transaction_read_only;");
}

TEST_CASE("zstd mode: pg_dump -Z0 compressed in-process, restorable after zstd -d") {
    test::TempDir d;
    io::AtomicFileSink file(d / "x.dump.zst");
    const auto res = dump(dump_opts(DumpMode::zstd), file);
    CHECK(res.summary.header.compression == Compression::none);
    const auto size = std::filesystem::file_size(d / "x.dump.zst");
    CHECK(res.bytes_out == size);
    CHECK(size < res.summary.archive_bytes / 2);
    // The object is read transparently, and zstd -d gives what pg_restore reads.
    io::FileSource src(d / "x.dump.zst");
    auto [r, s] = open_and_verify(src, "x.dump.zst");
    CHECK(r.ok());
    CHECK(listing(s) == listing(res.summary));
    if (auto zstd = process::find_program("zstd")) {
        process::ProcessOptions po;
        po.argv = {zstd->string(),         "-q", "-d", (d / "x.dump.zst").string(), "-o",
                   (d / "x.dump").string()};
        REQUIRE(run(std::move(po)).status.success());
        CHECK(pgt::without_comments(listing(s)) == pgt::pg_restore_list(d / "x.dump"));
    }
}

TEST_CASE("a pg_dump killed mid-stream, or one whose output is cut, publishes nothing") {
    test::TempDir d;
    auto tools = find_tools(15);
    for (const char* how : {"kill", "truncate"}) {
        CAPTURE(how);
        // A stand-in pg_dump: the real one, cut after 20000 bytes, then killed or exiting 0.
        const auto fake = d / (std::string("pg_dump_") + how);
        test::write_file(fake, std::string("#!/bin/sh\n\"") + tools.pg_dump.string() +
                                   "\" \"$@\" | head -c 20000\n" +
                                   (std::string(how) == "kill" ? "kill -9 $$\n" : "exit 0\n"));
        ::chmod(fake.c_str(), 0755);
        auto o = dump_opts();
        PgTools t = tools;
        t.pg_dump = fake;
        o.tools = t;
        const auto out_dir = d / how;
        std::filesystem::create_directories(out_dir);
        io::AtomicFileSink sink(out_dir / "x.dump");
        if (std::string(how) == "kill") {
            try {
                dump(o, sink);
                FAIL("expected ProcessError");
            } catch (const ProcessError& e) {
                CHECK(e.signal() == 9);
            }
        } else {
            try {
                dump(o, sink);
                FAIL("expected FormatError");
            } catch (const FormatError& e) {
                CHECK(std::string(e.what()).find("truncated") != std::string::npos);
            }
        }
        CHECK(files_in(out_dir).empty());
    }
    // A failing pg_dump (no such database) reports its stderr.
    auto o = dump_opts();
    o.conn.dbname = "no_such_db";
    io::MemorySink sink;
    try {
        dump(o, sink);
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("no_such_db") != std::string::npos);
    }
    CHECK(sink.aborted());
}

TEST_CASE("restore into a fresh database passes the proof") {
    const auto db = pgt::create_db("sandbox");
    io::MemorySource src(dumped());
    const auto rep = restore(src, restore_opts(db));
    CHECK(rep.pg_restore_exit == 0);
    CHECK(rep.pattern_tables >= 250);
    CHECK(rep.tables.size() == rep.archive.tables.size());
    for (const auto& t : rep.tables) CHECK(t.actual_rows == t.expected_rows);
    CHECK(pgt::psql(pgt::conn("sandbox", db), "SELECT count(*) FROM pg_largeobject_metadata") ==
          "1\n");

    SUBCASE("a non-empty target is refused without confirmation") {
        io::MemorySource again(dumped());
        CHECK_THROWS_AS(restore(again, restore_opts(db)), ConfigError);
    }
    SUBCASE("tampered data fails the proof with the table named") {
        pgt::psql(pgt::conn("sandbox", db), "DELETE FROM llx_facturedet WHERE rowid % 2 = 0;");
        try {
            prove_restored(pgt::conn("sandbox", db), rep.archive, ProofOptions{});
            FAIL("expected VerificationError");
        } catch (const VerificationError& e) {
            REQUIRE(e.differences().size() == 1);
            CHECK(e.differences()[0].find("public.llx_facturedet") != std::string::npos);
        }
        pgt::psql(pgt::conn("sandbox", db), "DROP TABLE llx_c_country CASCADE;");
        ProofOptions p;
        p.min_tables = 400;
        try {
            prove_restored(pgt::conn("sandbox", db), rep.archive, p);
            FAIL("expected VerificationError");
        } catch (const VerificationError& e) {
            CHECK(e.differences().size() == 3);
        }
    }
    SUBCASE("a large object gone fails the proof") {
        REQUIRE(rep.archive.large_objects == 1);
        pgt::psql(pgt::conn("sandbox", db), "SELECT lo_unlink(oid) FROM pg_largeobject_metadata;");
        try {
            prove_restored(pgt::conn("sandbox", db), rep.archive, ProofOptions{});
            FAIL("expected VerificationError");
        } catch (const VerificationError& e) {
            REQUIRE(e.differences().size() == 1);
            CHECK(e.differences()[0] == "1 large object in the archive, 0 in the database");
        }
    }
    SUBCASE("sandbox reset: DROP OWNED then restore, as the sandbox owner") {
        pgt::psql(pgt::conn("sandbox", db),
                  "DELETE FROM llx_societe_extrafields; CREATE TABLE junk(a int);");
        io::MemorySource again(dumped());
        const auto rep2 = reset_sandbox(again, restore_opts(db));
        CHECK(rep2.pattern_tables >= 250);
        CHECK(pgt::psql(pgt::conn("sandbox", db),
                        "SELECT count(*) FROM pg_class WHERE relname = 'junk'") == "0\n");
    }
}

TEST_CASE("restore of a zstd object with -j through a spooled file, and with a filtered list") {
    io::MemorySink zs;
    dump(dump_opts(DumpMode::zstd), zs);
    const auto db = pgt::create_db("sandbox");
    io::MemorySource src(zs.data());
    auto o = restore_opts(db);
    o.jobs = 2;
    test::TempDir spool_dir;
    o.temp_dir = spool_dir.path();
    const auto rep = restore(src, o);
    CHECK(rep.pattern_tables >= 250);
    // The spool is removed once pg_restore has read it.
    CHECK(std::filesystem::is_empty(spool_dir.path()));

    const auto db2 = pgt::create_db("sandbox");
    io::MemorySource plain(dumped());
    const auto summary = read_archive(plain);
    TocFilter f;
    f.exclude.push_back(parse_rule("FUNCTION::user_lookup(*"));
    f.exclude.push_back(parse_rule("ACL"));
    auto o2 = restore_opts(db2);
    o2.list = f.list(summary);
    io::MemorySource src2(dumped());
    restore(src2, o2);
    CHECK(pgt::psql(pgt::conn("sandbox", db2),
                    "SELECT count(*) FROM pg_proc WHERE proname = 'user_lookup'") == "0\n");
    CHECK(pgt::psql(pgt::conn("sandbox", db2),
                    "SELECT count(*) FROM pg_proc WHERE proname = 'ifnull'") == "1\n");
}

TEST_CASE("with -j, a bad archive fails the restore: checked beside pg_restore, or before it") {
    // Bytes after the last block: pg_restore -j never reads them, the archive's check refuses
    // them. The check is the only thing that can fail here.
    const std::string bad = dumped() + std::string(100, 'x');
    test::TempDir spool_dir;
    SUBCASE("an empty target: the check runs while pg_restore restores, and fails the restore") {
        const auto db = pgt::create_db("sandbox");
        io::MemorySource src(bad);
        auto o = restore_opts(db);
        o.jobs = 2;
        o.temp_dir = spool_dir.path();
        CHECK_THROWS_WITH_AS(restore(src, o), doctest::Contains("trailing garbage"), FormatError);
        CHECK(std::filesystem::is_empty(spool_dir.path()));
    }
    SUBCASE("a target that holds objects: checked before pg_restore starts, left untouched") {
        const auto db = pgt::create_db("sandbox");
        pgt::psql(pgt::conn("sandbox", db), "CREATE TABLE mine (a int);");
        io::MemorySource src(bad);
        auto o = restore_opts(db);
        o.jobs = 2;
        o.confirm_non_empty = true;
        o.temp_dir = spool_dir.path();
        CHECK_THROWS_WITH_AS(restore(src, o), doctest::Contains("trailing garbage"), FormatError);
        CHECK(pgt::psql(pgt::conn("sandbox", db),
                        "SELECT count(*) FROM pg_class WHERE relname LIKE 'llx_%'") == "0\n");
    }
}

TEST_CASE(
    "a pg_restore that fails half-way fails the restore, with its error and the differences") {
    const auto db = pgt::create_db("sandbox");
    // A conflicting object: pg_restore stops on it and its single transaction rolls back.
    pgt::psql(pgt::conn("sandbox", db), "CREATE TABLE llx_facture (x int);");
    io::MemorySource src(dumped());
    auto o = restore_opts(db);
    o.confirm_non_empty = true;
    try {
        restore(src, o);
        FAIL("expected VerificationError");
    } catch (const VerificationError& e) {
        REQUIRE(e.differences().size() > 2);
        CHECK(e.differences()[0].find("pg_restore exited with status") != std::string::npos);
        CHECK(e.differences()[0].find("llx_facture") != std::string::npos);
        bool missing = false;
        for (const auto& d : e.differences())
            missing = missing || d.find("is missing") != std::string::npos;
        CHECK(missing);
    }
}

TEST_CASE("safety dump of the target before a restore over it") {
    const auto db = pgt::create_db("sandbox");
    pgt::psql(pgt::conn("sandbox", db),
              "CREATE TABLE keepme (a int); INSERT INTO keepme VALUES (1), (2);");
    test::TempDir d;
    io::MemorySource src(dumped());
    auto o = restore_opts(db);
    o.confirm_non_empty = true;
    o.clean = true;
    o.safety_dump = d / "safety.dump";
    restore(src, o);
    const auto safety = read_archive(d / "safety.dump");
    const auto* t = safety.table("public", "keepme");
    REQUIRE(t);
    CHECK(t->rows == 2u);
}

TEST_CASE(
    "an archive with the TOC's copy after its data restores; a newer format than "
    "pg_restore reads is refused up front, naming the version it needs") {
    test::TempDir tmp;
    const auto src = pgt::create_db("prod");
    pgt::psql(pgt::conn("prod", src),
              "CREATE TABLE llx_a (id int); INSERT INTO llx_a SELECT generate_series(1, 70);"
              "CREATE TABLE llx_b (t text); INSERT INTO llx_b VALUES ('x'), ('y');");
    ProofOptions proof;
    proof.min_tables = 2;

    pgt::pg_dump_to(tmp / "file.dump", src, {}, false);
    const auto appended = pgt::with_appended_toc_copy(test::read_file(tmp / "file.dump"));
    const auto db = pgt::create_db("sandbox");
    io::MemorySource in(appended);
    auto o = restore_opts(db);
    o.proof = proof;
    const auto rep = restore(in, o);
    CHECK(rep.pg_restore_exit == 0);
    CHECK(rep.archive.toc_copy_bytes > 0);
    REQUIRE(rep.tables.size() == 2);
    for (const auto& t : rep.tables) CHECK(t.actual_rows == t.expected_rows);
    CHECK(rep.rows_matched() == 2);
    // A filtered restore that kept none of the archive's tables proves nothing: it fails,
    // whatever the minimum.
    ProofOptions none;
    none.min_tables = 0;
    const std::vector<int> kept_nothing;
    CHECK_THROWS_AS(prove_restored(pgt::conn("sandbox", db), rep.archive, none, &kept_nothing),
                    VerificationError);

    // pg_dump 16's format (1.15) for the fixture's pg_restore 15.
    pgt::pg_dump_to(tmp / "pipe.dump", src, {}, true);
    const auto v115 = pgt::as_format_1_15(test::read_file(tmp / "pipe.dump"));
    {
        io::MemorySource check(v115);
        REQUIRE(read_archive(check).header.version_minor == 15);
    }
    const auto target = pgt::create_db("sandbox");
    io::MemorySource newer(v115);
    auto o2 = restore_opts(target);
    o2.proof = proof;
    try {
        restore(newer, o2);
        FAIL("expected ConfigError");
    } catch (const ConfigError& e) {
        const std::string m = e.what();
        CHECK(m.find("1.15") != std::string::npos);
        CHECK(m.find("needs pg_restore 16 or later") != std::string::npos);
        CHECK(m.find("15.") != std::string::npos);  // the pg_restore found
    }
    CHECK(count_user_objects(pgt::conn("sandbox", target)) == 0);
}

TEST_CASE("a recorded summary: blocks walked, not inflated, rows proven against the record") {
    ArchiveSummary whole;
    {
        io::MemorySource src(dumped());
        whole = read_archive(src);
    }
    const std::string record = manifest_summary_json(whole);
    // The TOC alone (what restore() reads before deciding) gets the recorded counts.
    ArchiveSummary toc = whole;
    for (auto& e : toc.entries) e.rows.reset();
    const auto rc = recorded_counts(toc, record);
    REQUIRE(rc.has_value());
    REQUIRE(rc->tables.size() == whole.tables.size());
    for (std::size_t i = 0; i < whole.tables.size(); ++i) {
        CHECK(rc->tables[i].dump_id == whole.tables[i].dump_id);
        CHECK(rc->tables[i].rows == whole.tables[i].rows);
    }
    CHECK(rc->data_bytes == whole.data_bytes);
    // A record that does not describe exactly these tables is not used.
    auto j = nlohmann::json::parse(record);
    auto fewer = j;
    fewer["tables"].erase("llx_facture");
    fewer["table_count"] = whole.tables.size() - 1;
    CHECK_FALSE(recorded_counts(toc, fewer.dump()).has_value());
    auto no_rows = j;
    no_rows["tables"]["llx_facture"][0] = nullptr;  // COPY data with no count
    CHECK_FALSE(recorded_counts(toc, no_rows.dump()).has_value());
    CHECK_FALSE(recorded_counts(toc, "not json").has_value());

    test::TempDir spool_dir;
    SUBCASE("a count the database does not hold fails the proof, naming the table") {
        // The record, not the archive, is what the rows are proven against: a record that
        // says one more row than the archive (and so the restored database) holds fails.
        auto wrong = j;
        wrong["tables"]["llx_facture"][0] = wrong["tables"]["llx_facture"][0].get<int>() + 1;
        // With -j: the blocks are walked while the spool is written, then the proof.
        const auto db = pgt::create_db("sandbox");
        io::MemorySource src(dumped());
        auto o = restore_opts(db);
        o.jobs = 2;
        o.temp_dir = spool_dir.path();
        o.recorded_summary = wrong.dump();
        try {
            restore(src, o);
            FAIL("expected VerificationError");
        } catch (const VerificationError& e) {
            REQUIRE(e.differences().size() == 1);
            CHECK(e.differences()[0].find("public.llx_facture") != std::string::npos);
        }
        CHECK(std::filesystem::is_empty(spool_dir.path()));
        // Every other table was proven with the record's count, which is the archive's.
        auto rep = prove_restored(pgt::conn("sandbox", db), whole, ProofOptions{}, nullptr, 2);
        CHECK(rep.rows_matched() == whole.tables.size());
    }
    SUBCASE("a record that does not match the TOC: every block inflated and counted") {
        const auto db = pgt::create_db("sandbox");
        io::MemorySource src(dumped());
        auto o = restore_opts(db);
        o.recorded_summary = fewer.dump();
        const auto rep = restore(src, o);
        CHECK_FALSE(rep.recorded_counts);
        CHECK(rep.rows_matched() == whole.tables.size());
    }
    SUBCASE(
        "a structural defect still fails, before pg_restore starts, even into an empty "
        "target") {
        const auto db = pgt::create_db("sandbox");
        const std::string bad = dumped() + std::string(100, 'x');
        io::MemorySource src(bad);
        auto o = restore_opts(db);
        o.jobs = 2;
        o.temp_dir = spool_dir.path();
        o.recorded_summary = record;
        CHECK_THROWS_WITH_AS(restore(src, o), doctest::Contains("trailing garbage"), FormatError);
        CHECK(pgt::psql(pgt::conn("sandbox", db),
                        "SELECT count(*) FROM pg_class WHERE relname LIKE 'llx_%'") == "0\n");
        CHECK(std::filesystem::is_empty(spool_dir.path()));
    }
}

TEST_CASE("the reader's structure-only walk skips the payload, not the framing") {
    // A byte flipped inside a data block's compressed payload: only inflating finds it.
    io::MemorySource src(dumped());
    const auto whole = read_archive(src);
    const TocEntry* big = nullptr;
    for (const auto& e : whole.entries)
        if (e.desc == "TABLE DATA" && (!big || e.stored_bytes > big->stored_bytes)) big = &e;
    REQUIRE(big != nullptr);
    std::string bad = dumped();
    bad[big->block_offset + 64] = static_cast<char>(bad[big->block_offset + 64] ^ 0x5a);
    const auto walk = [&](bool inflate) {
        ReaderOptions ro;
        ro.inflate_data = inflate;
        ArchiveReader r(ro);
        r.update(io::Bytes(reinterpret_cast<const std::byte*>(bad.data()), bad.size()));
        r.finish();
        return std::make_pair(r.result(), r.summary());
    };
    const auto [inflated, s1] = walk(true);
    CHECK(inflated.defect == Defect::bad_compressed_stream);
    const auto [walked, s2] = walk(false);
    CHECK(walked.ok());
    CHECK(s2.tables.size() == whole.tables.size());
    CHECK(s2.large_objects == whole.large_objects);
    for (const auto& t : s2.tables) CHECK_FALSE(t.rows.has_value());
    // A cut archive is a framing defect: found either way.
    ReaderOptions ro;
    ro.inflate_data = false;
    ArchiveReader cut(ro);
    cut.update(io::Bytes(reinterpret_cast<const std::byte*>(bad.data()), bad.size() - 10));
    cut.finish();
    CHECK(cut.result().defect == Defect::truncated_block);
}
