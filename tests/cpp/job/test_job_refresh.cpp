// Job::refresh: prod's dump streamed into a sandbox reset as the sandbox owner role, the
// documents subtree synced, and the post hook run whatever happens.
#include "support/job_ops_testing.hpp"

#include <dolibak/core/error.hpp>

#include <csignal>

using namespace dolibak;
namespace fs = std::filesystem;

namespace {

// A sandbox database owned by the sandbox role, with something a refresh must remove.
std::string sandbox_with_junk() {
    const auto db = pgt::create_db("sandbox");
    pgt::psql(pgt::conn("sandbox", db), "CREATE TABLE junk (a int); INSERT INTO junk VALUES (1);");
    return db;
}

bool has_junk(const std::string& db) {
    return pgt::psql(pgt::conn("sandbox", db),
                     "SELECT count(*) FROM pg_class WHERE relname = 'junk'") == "1\n";
}

// A post hook that writes $DOLIBAK_REFRESH_RESULT into `file` (argv, no shell string of ours).
std::vector<std::string> recording_hook(const fs::path& file) {
    return {"/bin/sh", "-c", "printf '%s' \"$DOLIBAK_REFRESH_RESULT\" > \"$0\"", file.string()};
}

job::RefreshOptions tiny_refresh(const std::string& sandbox_db, const fs::path& post_file) {
    job::RefreshOptions o;
    o.source = pgt::conn("prod", jt::tiny_db());
    o.sandbox = pgt::conn("sandbox", sandbox_db);
    o.proof = jt::tiny_proof();
    o.post_hook = recording_hook(post_file);
    return o;
}

}  // namespace

TEST_CASE("a sandbox is reset from prod as its owner role, documents subtree synced, hooks run") {
    test::TempDir tmp;
    const jobt::Instance prod(10, 5);
    prod.sql(
        "CREATE FUNCTION user_lookup(i_username text, OUT uname text, OUT phash text) "
        "RETURNS record LANGUAGE sql SECURITY DEFINER AS $$ SELECT i_username, 'x' $$;");
    const auto sandbox = sandbox_with_junk();
    const auto sdocs = tmp / "sandbox-docs";
    test::write_file(sdocs / "other/keep.txt", "kept");
    test::write_file(sdocs / "mycompany/stale.txt", "stale");

    job::Job j(jt::config("file://" + (tmp / "store").string()));
    job::RefreshOptions o;
    o.source = prod.conn();
    o.sandbox = pgt::conn("sandbox", sandbox);
    o.exclude = {"FUNCTION::user_lookup(*"};
    o.docs_source = prod.docs;
    o.docs_target = sdocs;
    o.docs_subtree = "mycompany";
    o.pre_hook = {"/usr/bin/touch", (tmp / "pre-ran").string()};
    o.post_hook = recording_hook(tmp / "post");
    const auto r = j.refresh(o);

    CHECK(fs::exists(tmp / "pre-ran"));
    CHECK(test::read_file(tmp / "post") == "ok");
    CHECK(r.post_hook_exit == 0);
    // The proof: at least 250 llx_ tables and every table's row count.
    CHECK(r.restore.pattern_tables >= 250);
    CHECK(!r.restore.tables.empty());
    const auto sconn = pgt::conn("sandbox", sandbox);
    CHECK(jt::row_counts(sconn) == jt::row_counts(prod.conn()));
    CHECK(!has_junk(sandbox));
    CHECK(pgt::psql(sconn, "SELECT count(*) FROM pg_proc WHERE proname = 'user_lookup'") == "0\n");
    // Done as the sandbox owner, which is no superuser, and owns what was restored.
    CHECK(pgt::psql(sconn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") == "f\n");
    CHECK(pgt::psql(sconn,
                    "SELECT DISTINCT tableowner FROM pg_tables WHERE tablename LIKE "
                    "'llx\\_%'") == "sandbox_owner\n");
    // Documents: the subtree mirrors prod's, the rest of the sandbox tree is left alone.
    REQUIRE(r.docs);
    CHECK(r.docs->files > 0);
    CHECK(jt::tree(sdocs / "mycompany", false) == jt::tree(prod.docs / "mycompany"));
    CHECK(!fs::exists(sdocs / "mycompany/stale.txt"));
    CHECK(test::read_file(sdocs / "other/keep.txt") == "kept");
}

TEST_CASE("a failing refresh leaves the sandbox untouched and still runs the post hook") {
    test::TempDir tmp;
    job::Job j(jt::config("file://" + (tmp / "store").string()));
    const auto sandbox = sandbox_with_junk();
    SUBCASE("the source is not reachable") {
        auto o = tiny_refresh(sandbox, tmp / "post");
        o.source = pgt::conn("prod", "no_such_database");
        CHECK_THROWS_AS(j.refresh(o), DatabaseError);
    }
    SUBCASE("the pre hook fails") {
        auto o = tiny_refresh(sandbox, tmp / "post");
        o.pre_hook = {"/bin/false"};
        CHECK_THROWS_AS(j.refresh(o), ProcessError);
    }
    CHECK(test::read_file(tmp / "post") == "failed");
    CHECK(has_junk(sandbox));
}

TEST_CASE("a cancelled refresh stops, and the post hook runs") {
    test::TempDir tmp;
    auto cancel = std::make_shared<CancelToken>();
    auto c = jt::config("file://" + (tmp / "store").string());
    c.cancel = cancel;
    std::string cancel_on;
    c.on_event = [&](const job::Event& e) {
        if (!cancel_on.empty() && e.message.rfind(cancel_on, 0) == 0) cancel->cancel(SIGTERM);
    };
    job::Job j(std::move(c));
    const auto sandbox = sandbox_with_junk();
    auto o = tiny_refresh(sandbox, tmp / "post");
    SUBCASE("while prod's dump streams, before the sandbox is touched") {
        cancel_on = "source TOC read";
        try {
            j.refresh(o);
            FAIL("expected Cancelled");
        } catch (const Cancelled& e) {
            CHECK(std::string(e.what()).find("SIGTERM") != std::string::npos);
        }
        CHECK(has_junk(sandbox));
    }
    SUBCASE("while the restore reads the stream: the sandbox is put back as it was") {
        cancel_on = "sandbox reset";  // the restore's first read, after DROP OWNED
        CHECK_THROWS_AS(j.refresh(o), Cancelled);
        // The reset dropped the old objects, the cancelled restore committed nothing, and
        // the sandbox's safety dump was restored (it was empty before).
        CHECK(has_junk(sandbox));
        CHECK(pgt::psql(pgt::conn("sandbox", sandbox), "SELECT count(*) FROM junk") == "1\n");
    }
    CHECK(test::read_file(tmp / "post") == "cancelled");
}

TEST_CASE("hooks get a documented minimal environment: secrets only when named in hook_env") {
    test::TempDir tmp;
    job::Job j(jt::config("file://" + (tmp / "store").string()));
    ::setenv("AWS_SECRET_ACCESS_KEY", "parent-aws-secret", 1);
    ::setenv("DOLIBAK_DB_PASSWORD", "parent-db-password", 1);
    ::setenv("DOLIBAK_TEST_HOOK_TOKEN", "named-token", 1);
    // Each hook copies its environment as the kernel holds it (/proc/<pid>/environ); the pre
    // hook then fails, so that nothing else runs.
    auto copier = [](const fs::path& out, int code) {
        return std::vector<std::string>{
            "/bin/sh", "-c",
            "tr '\\0' '\\n' < /proc/$$/environ > \"$0\"; exit " + std::to_string(code),
            out.string()};
    };
    job::RefreshOptions o;
    o.source = pgt::conn("prod", "refresh_hooks_source");
    o.sandbox = pgt::conn("sandbox", "refresh_hooks_sandbox");
    o.pre_hook = copier(tmp / "pre.env", 3);
    o.post_hook = copier(tmp / "post.env", 0);
    SUBCASE("by default") {
        CHECK_THROWS_AS(j.refresh(o), ProcessError);
        for (const auto* name : {"pre.env", "post.env"}) {
            const auto env = test::read_file(tmp / name);
            INFO(name << ":\n" << env);
            CHECK(env.find("parent-aws-secret") == std::string::npos);
            CHECK(env.find("parent-db-password") == std::string::npos);
            CHECK(env.find("named-token") == std::string::npos);
            for (const auto* c : {&o.source, &o.sandbox}) {
                REQUIRE_FALSE(c->password.empty());
                CHECK(env.find(c->password.reveal()) == std::string::npos);
            }
            CHECK(("\n" + env).find("\nPATH=") != std::string::npos);
            CHECK(env.find("DOLIBAK_REFRESH_SANDBOX=" + o.sandbox.describe() + "\n") !=
                  std::string::npos);
        }
        CHECK(test::read_file(tmp / "pre.env").find("DOLIBAK_REFRESH_PHASE=pre\n") !=
              std::string::npos);
        CHECK(test::read_file(tmp / "post.env").find("DOLIBAK_REFRESH_RESULT=failed\n") !=
              std::string::npos);
    }
    SUBCASE("a variable named in hook_env reaches the hooks") {
        o.hook_env = {"DOLIBAK_TEST_HOOK_TOKEN"};
        CHECK_THROWS_AS(j.refresh(o), ProcessError);
        CHECK(test::read_file(tmp / "post.env").find("DOLIBAK_TEST_HOOK_TOKEN=named-token\n") !=
              std::string::npos);
        CHECK(test::read_file(tmp / "post.env").find("parent-aws-secret") == std::string::npos);
    }
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    ::unsetenv("DOLIBAK_DB_PASSWORD");
    ::unsetenv("DOLIBAK_TEST_HOOK_TOKEN");
}

TEST_CASE("a refresh that fails after the reset puts the sandbox back; the post hook runs") {
    test::TempDir tmp;
    auto c = jt::config("file://" + (tmp / "store").string());
    c.temp_dir = tmp / "temp";
    fs::create_directories(c.temp_dir);
    job::Job j(std::move(c));
    const auto sandbox = sandbox_with_junk();
    auto o = tiny_refresh(sandbox, tmp / "post");
    o.proof.min_tables = 999;  // the restore happens, its proof fails
    CHECK_THROWS_AS(j.refresh(o), VerificationError);
    CHECK(test::read_file(tmp / "post") == "failed");
    CHECK(has_junk(sandbox));
    CHECK(pgt::psql(pgt::conn("sandbox", sandbox),
                    "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'llx%'") == "0\n");
    CHECK(fs::is_empty(tmp / "temp"));  // the safety dump is removed once put back
}

TEST_CASE("a refresh needs no store, nor its credentials") {
    test::TempDir tmp;
    job::Config c;
    c.store_url = "s3://production-backups/erp";  // never opened
    c.store.use_environment = false;              // and no credentials anywhere
    job::Job j(std::move(c));
    const auto sandbox = sandbox_with_junk();
    const auto r = j.refresh(tiny_refresh(sandbox, tmp / "post"));
    CHECK(r.restore.tables.size() == 3);
    CHECK(!has_junk(sandbox));
    CHECK(test::read_file(tmp / "post") == "ok");
    CHECK_THROWS_AS(j.list(), ConfigError);  // the store is still needed where it is used
}
