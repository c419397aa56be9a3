// Child processes: argv spawning, streams, stderr tails, exit statuses, signals, cleanup.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/fd.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/process/process.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <thread>

using namespace dolibak;

namespace {
long rss_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

process::ProcessOptions sh(const std::string& script) {
    process::ProcessOptions o;
    o.argv = {"/bin/sh", "-c", script};
    return o;
}
}  // namespace

TEST_CASE("run captures stdout, stderr and the exit code") {
    auto r = run(sh("printf 'out'; printf 'err' >&2; exit 3"));
    CHECK(r.out == "out");
    CHECK(r.err == "err");
    CHECK(r.status.code == 3);
    CHECK_FALSE(r.status.success());
    CHECK(r.status.describe() == "exited with status 3");
}

TEST_CASE("arguments are passed verbatim, never through a shell") {
    process::ProcessOptions o;
    o.argv = {"printf", "%s|", "a b", "$HOME", "`id`", "*", ""};
    auto r = run(o);
    CHECK(r.status.success());
    CHECK(r.out == "a b|$HOME|`id`|*||");
}

TEST_CASE("environment: set and remove variables; secrets travel this way") {
    ::setenv("DOLIBAK_TEST_REMOVED", "visible", 1);
    auto o = sh("printf '%s/%s' \"$DOLIBAK_TEST_SECRET\" \"${DOLIBAK_TEST_REMOVED-unset}\"");
    o.env = {{"DOLIBAK_TEST_SECRET", "s3cr3t"}, {"DOLIBAK_TEST_REMOVED", std::nullopt}};
    auto r = run(o);
    CHECK(r.out == "s3cr3t/unset");
    ::unsetenv("DOLIBAK_TEST_REMOVED");
}

TEST_CASE("a child's environment is minimal by default: the parent's secrets stay home") {
    ::setenv("AWS_SECRET_ACCESS_KEY", "parent-aws-secret", 1);
    ::setenv("DOLIBAK_DB_PASSWORD", "parent-db-password", 1);
    ::setenv("LC_TIME", "C.UTF-8", 1);
    // The child's environment exactly as the kernel holds it (/proc/<pid>/environ).
    auto o = sh("tr '\\0' '\\n' < /proc/$$/environ");
    SUBCASE("minimal (the default)") {
        const auto r = run(o);
        REQUIRE(r.status.success());
        CHECK(r.out.find("parent-aws-secret") == std::string::npos);
        CHECK(r.out.find("parent-db-password") == std::string::npos);
        CHECK(r.out.find("PATH=") != std::string::npos);
        CHECK(r.out.find("LC_TIME=C.UTF-8\n") != std::string::npos);
        for (std::size_t at = 0; at < r.out.size();) {
            const auto nl = r.out.find('\n', at);
            const auto line = r.out.substr(at, nl - at);
            at = nl == std::string::npos ? r.out.size() : nl + 1;
            const auto name = line.substr(0, line.find('='));
            INFO(line);
            CHECK(process::is_minimal_environment_name(name));
        }
    }
    SUBCASE("parent, asked for explicitly") {
        o.env_base = process::EnvBase::parent;
        CHECK(run(o).out.find("AWS_SECRET_ACCESS_KEY=parent-aws-secret") != std::string::npos);
    }
    SUBCASE("empty") {
        o.env_base = process::EnvBase::empty;
        o.env = {{"ONLY", "this"}};
        CHECK(run(o).out == "ONLY=this\n");
    }
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    ::unsetenv("DOLIBAK_DB_PASSWORD");
    ::unsetenv("LC_TIME");
}

TEST_CASE("a missing program is a clear error naming it") {
    process::ProcessOptions o;
    o.argv = {"dolibak-no-such-program-xyz"};
    try {
        process::Process p(o);
        FAIL("started");
    } catch (const ProcessError& e) {
        CHECK(std::string(e.what()).find("dolibak-no-such-program-xyz") != std::string::npos);
        CHECK(std::string(e.what()).find("not found") != std::string::npos);
    }
}

TEST_CASE("stdin and stdout stream concurrently through a child (100 MiB)") {
    process::ProcessOptions o;
    o.argv = {"cat"};
    o.in = process::Stdio::pipe;
    process::Process p(o);
    const std::size_t total = 100u << 20;
    io::Sha256 sent;
    std::thread writer([&] {
        std::mt19937 rng(7);
        std::string chunk(1 << 16, '\0');
        for (std::size_t done = 0; done < total; done += chunk.size()) {
            for (auto& c : chunk) c = static_cast<char>(rng());
            sent.update(chunk);
            io::write(p.in(), std::string_view(chunk));
        }
        p.in().finish();
    });
    io::Sha256 received;
    io::ByteCounter count;
    io::NullSink null;
    io::ObservedSink sink(null, {&received, &count});
    io::pump(p.out(), sink);
    writer.join();
    CHECK(p.wait().success());
    CHECK(count.bytes() == total);
    CHECK(received.hex() == sent.hex());
}

TEST_CASE("a child that writes gigabytes streams in bounded memory") {
    process::ProcessOptions o;
    o.argv = {"head", "-c", "2147483648", "/dev/zero"};
    process::Process p(o);
    const long before = rss_kib();
    io::NullSink sink;
    const auto n = io::pump(p.out(), sink);
    const long after = rss_kib();
    CHECK(p.wait().success());
    CHECK(n == 2147483648ull);
    CHECK(after - before < 32 * 1024);  // KiB: far below the 2 GiB streamed
}

TEST_CASE("a child dying mid-stream gives a short stream and its signal") {
    auto o = sh("head -c 1000000 /dev/zero; kill -KILL $$; echo never");
    process::Process p(o);
    io::NullSink sink;
    CHECK(io::pump(p.out(), sink) == 1000000);
    const auto status = p.wait();
    CHECK(status.signal == SIGKILL);
    CHECK(status.code == -1);
    CHECK(status.describe().find("killed by signal 9") == 0);
    CHECK_THROWS_AS(p.check(), ProcessError);
}

TEST_CASE("check() reports the exit status and the tail of stderr") {
    auto o = sh("echo 'pg_dump: error: connection refused' >&2; exit 1");
    process::Process p(o);
    try {
        p.check();
        FAIL("no error");
    } catch (const ProcessError& e) {
        CHECK(e.exit_code() == 1);
        CHECK(e.stderr_tail().find("connection refused") != std::string::npos);
        CHECK(std::string(e.what()).find("exited with status 1") != std::string::npos);
    }
}

TEST_CASE("a child flooding stderr does not deadlock, and only the tail is kept") {
    auto o = sh("head -c 20000000 /dev/zero | tr '\\0' 'e' >&2; printf end >&2; echo done");
    o.stderr_tail_bytes = 4096;
    auto r = run(o);
    CHECK(r.status.success());
    CHECK(r.out == "done\n");
    CHECK(r.err.size() == 4096);
    CHECK(r.err.substr(r.err.size() - 3) == "end");
}

TEST_CASE("writing to a child that exited raises EPIPE, not SIGPIPE") {
    process::ProcessOptions o;
    o.argv = {"true"};
    o.in = process::Stdio::pipe;
    o.out = process::Stdio::null;
    process::Process p(o);
    const std::string chunk(1 << 20, 'z');
    bool got_epipe = false;
    try {
        for (int i = 0; i < 64; ++i) io::write(p.in(), std::string_view(chunk));
    } catch (const IoError& e) {
        got_epipe = e.error_number() == EPIPE;
    }
    CHECK(got_epipe);
    CHECK(p.wait().success());
}

TEST_CASE("destroying a Process kills and reaps a running child") {
    pid_t pid;
    {
        process::ProcessOptions o;
        o.argv = {"sleep", "1000"};
        o.out = process::Stdio::null;
        process::Process p(o);
        pid = p.pid();
        CHECK(::kill(pid, 0) == 0);
    }
    // Reaped: the pid no longer names our child.
    CHECK(::kill(pid, 0) == -1);
    CHECK(errno == ESRCH);
}

TEST_CASE("wait_for times out on a running child, kill stops it") {
    process::ProcessOptions o;
    o.argv = {"sleep", "1000"};
    o.out = process::Stdio::null;
    o.new_process_group = true;
    process::Process p(o);
    CHECK_FALSE(p.wait_for(std::chrono::milliseconds(50)).has_value());
    p.kill(SIGTERM);
    const auto s = p.wait_for(std::chrono::seconds(10));
    REQUIRE(s.has_value());
    CHECK(s->signal == SIGTERM);
}

TEST_CASE("the child starts with default signal handling even if the parent ignores SIGINT") {
    struct sigaction old {};
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGINT, &ignore, &old);
    process::ProcessOptions o;
    o.argv = {"sleep", "1000"};
    o.out = process::Stdio::null;
    process::Process p(o);
    p.kill(SIGINT);
    const auto s = p.wait_for(std::chrono::seconds(10));
    ::sigaction(SIGINT, &old, nullptr);
    REQUIRE(s.has_value());
    CHECK(s->signal == SIGINT);
}

TEST_CASE("working directory") {
    dolibak::test::TempDir dir;
    auto o = sh("pwd -P");
    o.working_dir = dir.path();
    auto r = run(o);
    CHECK(r.out == std::filesystem::canonical(dir.path()).string() + "\n");
}

TEST_CASE("inherit_fds: the child gets those descriptors at their numbers, no other") {
    test::TempDir d;
    test::write_file(d / "given", "given bytes\n");
    test::write_file(d / "kept", "kept bytes\n");
    // Both close-on-exec, as all of ours are.
    io::UniqueFd given(::open((d / "given").c_str(), O_RDONLY | O_CLOEXEC));
    io::UniqueFd kept(::open((d / "kept").c_str(), O_RDONLY | O_CLOEXEC));
    REQUIRE(given);
    REQUIRE(kept);
    const auto g = std::to_string(given.get());
    const auto k = std::to_string(kept.get());
    // The shell looks at its own descriptors (/proc/$$), which its children would inherit.
    auto o = sh("for n in " + g + " " + k +
                "; do if [ -e /proc/$$/fd/$n ]; then echo $n open; else echo $n closed; fi; "
                "done; cat /proc/$$/fd/" +
                g);
    o.inherit_fds = {given.get()};
    auto r = process::run(o);
    CHECK(r.status.success());
    CHECK(r.out == g + " open\n" + k + " closed\n" + "given bytes\n");
    // Still close-on-exec here: only the child's copy lost the flag.
    CHECK((::fcntl(given.get(), F_GETFD) & FD_CLOEXEC) != 0);
    // Without inherit_fds (a hook, say), neither.
    o.inherit_fds.clear();
    r = process::run(o);
    CHECK(r.out == g + " closed\n" + k + " closed\n");
    // 0, 1 and 2 are the child's stdio; a closed descriptor cannot be given.
    o.inherit_fds = {1};
    CHECK_THROWS_AS(process::Process{o}, ConfigError);
    const int closed = ::dup(given.get());
    ::close(closed);
    o.inherit_fds = {closed};
    CHECK_THROWS_AS(process::Process{o}, IoError);
}
