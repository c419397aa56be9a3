// The environment of libpq children: the password in a sealed memory file that only the
// libpq child inherits (nothing on disk, even if dolibak is killed), the temporary-file
// fallback, and real logins with both on the PostgreSQL fixture.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/pg/client_env.hpp>
#include <dolibak/process/process.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

using namespace dolibak;

namespace {

std::optional<std::string> var(const pg::ClientEnvironment& env, const std::string& name) {
    std::optional<std::string> value;
    for (const auto& [n, v] : env.vars())
        if (n == name) value = v;  // the last one counts, as in ProcessOptions::env
    return value;
}

bool is_empty_dir(const std::filesystem::path& d) {
    return std::filesystem::directory_iterator(d) == std::filesystem::directory_iterator();
}

pg::ConnectionParams fixture_conn(const std::string& role) {
    const auto& info = test::pg();
    const auto& r = info.at(role);
    pg::ConnectionParams c;
    c.host = info.at("host").get<std::string>();
    c.port = info.at("port").get<int>();
    c.user = r.at("user").get<std::string>();
    c.dbname = r.at("dbname").get<std::string>();
    c.password = Secret(r.at("password").get<std::string>());
    return c;
}

// psql as a libpq child of ours: the environment ClientEnvironment built, and its descriptors
// unless `pass_fds` is false.
process::RunResult psql_current_user(const pg::ClientEnvironment& env, bool pass_fds = true) {
    process::ProcessOptions o;
    o.argv = {test::pg().at("bin_dir").get<std::string>() + "/psql",
              "-X",
              "-At",
              "-w",
              "-c",
              "SELECT current_user"};
    o.env = env.vars();
    if (pass_fds) o.inherit_fds = env.inherit_fds();
    return process::run(std::move(o));
}

}  // namespace

TEST_CASE("the password goes in a sealed 0600 memory file named through /proc/self/fd") {
    test::TempDir d;
    pg::ConnectionParams p;
    p.host = "db.example";
    p.password = Secret("pa:ss\\word");
    {
        const pg::ClientEnvironment env(p, d.path());
        REQUIRE(env.inherit_fds().size() == 1);
        const int fd = env.inherit_fds()[0];
        CHECK(fd >= 3);
        const std::string path = "/proc/self/fd/" + std::to_string(fd);
        CHECK(var(env, "PGPASSFILE") == path);
        CHECK(env.password_file() == path);
        CHECK_FALSE(var(env, "PGPASSWORD"));
        // Nothing on disk, in the temporary directory or elsewhere.
        CHECK(is_empty_dir(d.path()));
        // What libpq checks: a regular file without group or other bits; then its line.
        struct stat st {};
        REQUIRE(::stat(path.c_str(), &st) == 0);
        CHECK(S_ISREG(st.st_mode));
        CHECK((st.st_mode & 0777) == 0600);
        CHECK(test::read_file(path) == "*:*:*:*:pa\\:ss\\\\word\n");
        // Sealed: it cannot change; and close-on-exec, so that no child gets it unasked.
        CHECK(::fcntl(fd, F_GET_SEALS) ==
              (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL));
        CHECK(::write(fd, "x", 1) == -1);
        CHECK(::ftruncate(fd, 0) == -1);
        CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    }
    CHECK(is_empty_dir(d.path()));
}

TEST_CASE("only the child given inherit_fds sees the memory file") {
    pg::ConnectionParams p;
    p.password = Secret("only-for-libpq");
    const pg::ClientEnvironment env(p);
    process::ProcessOptions o;
    o.argv = {"ls", "-l", "/proc/self/fd"};
    o.env = env.vars();
    // A hook, a notifier, a credential process: spawned without it.
    auto r = process::run(o);
    REQUIRE(r.status.success());
    CHECK(r.out.find("memfd:dolibak-pgpass") == std::string::npos);
    // The libpq child: at the number PGPASSFILE names.
    o.inherit_fds = env.inherit_fds();
    r = process::run(o);
    REQUIRE(r.status.success());
    INFO(r.out);
    CHECK(r.out.find(" " + std::to_string(env.inherit_fds().at(0)) + " -> /memfd:dolibak-pgpass") !=
          std::string::npos);
    o.argv = {"/bin/sh", "-c", "stat -L -c %a \"$PGPASSFILE\"; cat \"$PGPASSFILE\""};
    r = process::run(o);
    CHECK(r.out == "600\n*:*:*:*:only-for-libpq\n");
}

TEST_CASE("psql logs in with the memory file, and without its descriptor it cannot") {
    test::TempDir d;
    const auto c = fixture_conn("prod");
    const pg::ClientEnvironment env(c, d.path());
    REQUIRE(env.inherit_fds().size() == 1);
    auto r = psql_current_user(env);
    INFO(r.err);
    CHECK(r.status.success());
    CHECK(r.out == c.user + "\n");
    // The password reached psql through that descriptor alone.
    r = psql_current_user(env, false);
    CHECK_FALSE(r.status.success());
    CHECK(r.err.find("no password supplied") != std::string::npos);
    CHECK(is_empty_dir(d.path()));
}

TEST_CASE("fallback: a 0600 file in a private 0700 directory, removed afterwards") {
    test::TempDir d;
    const auto c = fixture_conn("prod");
    {
        const pg::ClientEnvironment env(c, d.path(), pg::detail::PasswordFileKind::temp_file);
        CHECK(env.inherit_fds().empty());
        const auto file = env.password_file();
        CHECK(var(env, "PGPASSFILE") == file.string());
        CHECK(file.filename() == "pgpass");
        CHECK(file.parent_path().parent_path() == d.path());
        CHECK(file.parent_path().filename().string().starts_with("dolibak-pgpass-"));
        CHECK((std::filesystem::status(file).permissions() & std::filesystem::perms::all) ==
              (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
        CHECK((std::filesystem::status(file.parent_path()).permissions() &
               std::filesystem::perms::all) == std::filesystem::perms::owner_all);
        const auto r = psql_current_user(env);
        INFO(r.err);
        CHECK(r.status.success());
        CHECK(r.out == c.user + "\n");
    }
    CHECK(is_empty_dir(d.path()));
}

TEST_CASE("a password with a line break goes in PGPASSWORD; no password, no file of ours") {
    test::TempDir d;
    pg::ConnectionParams p;
    p.password = Secret("two\nlines");
    {
        const pg::ClientEnvironment env(p, d.path());
        CHECK(var(env, "PGPASSWORD") == "two\nlines");
        CHECK(var(env, "PGPASSFILE") == "/dev/null");
        CHECK(env.inherit_fds().empty());
        CHECK(env.password_file().empty());
    }
    p.password = Secret("");
    {
        const pg::ClientEnvironment env(p, d.path());
        CHECK_FALSE(var(env, "PGPASSWORD"));
        CHECK(env.inherit_fds().empty());
        CHECK(env.password_file().empty());
    }
    CHECK(is_empty_dir(d.path()));
}
