#include <dolibak/core/error.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/process/process.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

extern char** environ;

// ProcessOptions::inherit_fds relies on posix_spawn_file_actions_adddup2(fd, fd) clearing
// FD_CLOEXEC in the child, which glibc does since 2.29 (test_process checks it).
#ifdef __GLIBC__
#if !__GLIBC_PREREQ(2, 29)
#error "glibc 2.29 or later is needed (posix_spawn_file_actions_adddup2 onto the same number)"
#endif
#endif

namespace dolibak::process {

std::string ExitStatus::describe() const {
    if (signal != 0) {
        const char* name = ::strsignal(signal);
        return "killed by signal " + std::to_string(signal) +
               (name ? " (" + std::string(name) + ")" : std::string());
    }
    return "exited with status " + std::to_string(code);
}

std::optional<std::filesystem::path> find_program(const std::string& name) {
    if (name.empty()) return std::nullopt;
    auto executable = [](const std::filesystem::path& p) {
        struct stat st {};
        return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
    };
    if (name.find('/') != std::string::npos) {
        if (executable(name)) return std::filesystem::path(name);
        return std::nullopt;
    }
    const char* path_env = std::getenv("PATH");
    const std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= path.size()) {
        const auto end = std::min(path.find(':', start), path.size());
        const std::string dir = path.substr(start, end - start);
        const auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / name;
        if (executable(candidate)) return candidate;
        start = end + 1;
    }
    return std::nullopt;
}

bool is_minimal_environment_name(std::string_view name) {
    static constexpr std::string_view names[] = {"PATH", "HOME", "USER",     "LOGNAME",
                                                 "LANG", "TZ",   "LANGUAGE", "TMPDIR"};
    for (const auto n : names)
        if (name == n) return true;
    return name.starts_with("LC_");
}

namespace {

struct SpawnActions {
    posix_spawn_file_actions_t fa{};
    SpawnActions() { posix_spawn_file_actions_init(&fa); }
    ~SpawnActions() { posix_spawn_file_actions_destroy(&fa); }
    SpawnActions(const SpawnActions&) = delete;
    SpawnActions& operator=(const SpawnActions&) = delete;
};

struct SpawnAttr {
    posix_spawnattr_t attr{};
    SpawnAttr() { posix_spawnattr_init(&attr); }
    ~SpawnAttr() { posix_spawnattr_destroy(&attr); }
    SpawnAttr(const SpawnAttr&) = delete;
    SpawnAttr& operator=(const SpawnAttr&) = delete;
};

// `large`: a data stream (the child's stdin or stdout). A 64 KiB pipe fills in milliseconds
// at pg_dump's rate, so the child stalls whenever this side spends a moment on a chunk (the
// archive verifier inflating a block); 1 MiB (Linux's default pipe-max-size, allowed without
// privilege) absorbs that. Best effort: a kernel that refuses keeps its default.
std::pair<io::UniqueFd, io::UniqueFd> make_pipe(bool large = false) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw IoError("cannot create a pipe", "", errno);
#ifdef F_SETPIPE_SZ
    if (large) (void)::fcntl(fds[0], F_SETPIPE_SZ, 1 << 20);
#endif
    return {io::UniqueFd(fds[0]), io::UniqueFd(fds[1])};
}

std::vector<std::string> build_environment(const ProcessOptions& o) {
    std::map<std::string, std::string> vars;
    if (o.env_base != EnvBase::empty) {
        for (char** e = environ; e && *e; ++e) {
            const std::string_view kv(*e);
            const auto eq = kv.find('=');
            if (eq == std::string_view::npos) continue;
            const auto name = kv.substr(0, eq);
            if (o.env_base == EnvBase::minimal && !is_minimal_environment_name(name)) continue;
            vars.emplace(std::string(name), std::string(kv.substr(eq + 1)));
        }
        if (o.env_base == EnvBase::minimal) vars.emplace("PATH", "/usr/local/bin:/usr/bin:/bin");
    }
    for (const auto& [name, value] : o.env) {
        if (value)
            vars[name] = *value;
        else
            vars.erase(name);
    }
    std::vector<std::string> out;
    out.reserve(vars.size());
    for (auto& [k, v] : vars) out.push_back(k + "=" + v);
    return out;
}

}  // namespace

struct Process::Impl {
    pid_t pid = -1;
    bool own_group = false;
    std::string program;
    std::optional<ExitStatus> status;
    std::unique_ptr<io::FdSink> in;
    std::unique_ptr<io::FdSource> out;

    std::size_t tail_limit = 0;
    mutable std::mutex tail_mutex;
    std::string tail;
    std::thread err_reader;

    void read_stderr(io::UniqueFd fd) {
        char buf[8192];
        for (;;) {
            const ssize_t n = ::read(fd.get(), buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return;
            std::lock_guard lock(tail_mutex);
            tail.append(buf, static_cast<std::size_t>(n));
            if (tail.size() > 2 * tail_limit) tail.erase(0, tail.size() - tail_limit);
        }
    }

    void reap(int options_for_waitpid, bool& done) {
        done = false;
        if (status) {
            done = true;
            return;
        }
        int st = 0;
        pid_t r;
        do {
            r = ::waitpid(pid, &st, options_for_waitpid);
        } while (r < 0 && errno == EINTR);
        if (r == 0) return;  // still running (WNOHANG)
        ExitStatus s;
        if (r < 0) {
            s.code = -1;  // cannot happen unless someone else reaped our child
        } else if (WIFEXITED(st)) {
            s.code = WEXITSTATUS(st);
        } else if (WIFSIGNALED(st)) {
            s.signal = WTERMSIG(st);
        }
        status = s;
        done = true;
    }

    void close_pipes() noexcept {
        if (in) in->abort();
        if (out) out->close();
    }

    void finish_reader() {
        if (err_reader.joinable()) err_reader.join();
    }
};

Process::Process(ProcessOptions o) : impl_(std::make_unique<Impl>()) {
    if (o.argv.empty()) throw ConfigError("cannot start a process: empty argv");
    impl_->program = o.argv[0];
    const auto exe = find_program(o.argv[0]);
    if (!exe)
        throw ProcessError("cannot start '" + o.argv[0] + "': program not found" +
                               (o.argv[0].find('/') == std::string::npos ? " in PATH" : ""),
                           o.argv[0], -1, 0, "");
    if (o.err == Stdio::pipe) throw ConfigError("stderr can be inherited, null or captured");
    if (o.in == Stdio::capture || o.out == Stdio::capture)
        throw ConfigError("only stderr can be captured");

    SpawnActions actions;
    auto* fa = &actions.fa;
    // Checked before our pipes are made, which could take the number of one that is closed.
    for (const int fd : o.inherit_fds) {
        if (fd < 3)
            throw ConfigError("cannot pass descriptor " + std::to_string(fd) +
                              " to a child: 0, 1 and 2 are its stdio");
        if (::fcntl(fd, F_GETFD) < 0)
            throw IoError("cannot pass descriptor " + std::to_string(fd) + " to a child", "",
                          errno);
        // dup2 onto itself: glibc (2.29 and later) then clears FD_CLOEXEC in the child alone.
        if (const int rc = posix_spawn_file_actions_adddup2(fa, fd, fd); rc != 0)
            throw IoError("cannot prepare a descriptor for the child", "", rc);
    }
    io::UniqueFd in_read, in_write, out_read, out_write, err_read, err_write;
    auto null_stream = [&](int target, int flags) {
        if (posix_spawn_file_actions_addopen(fa, target, "/dev/null", flags, 0) != 0)
            throw IoError("cannot prepare /dev/null for the child", "", errno);
    };
    switch (o.in) {
        case Stdio::pipe:
            std::tie(in_read, in_write) = make_pipe(true);
            posix_spawn_file_actions_adddup2(fa, in_read.get(), 0);
            break;
        case Stdio::null:
            null_stream(0, O_RDONLY);
            break;
        default:
            break;
    }
    switch (o.out) {
        case Stdio::pipe:
            std::tie(out_read, out_write) = make_pipe(true);
            posix_spawn_file_actions_adddup2(fa, out_write.get(), 1);
            break;
        case Stdio::null:
            null_stream(1, O_WRONLY);
            break;
        default:
            break;
    }
    switch (o.err) {
        case Stdio::capture:
            std::tie(err_read, err_write) = make_pipe();
            posix_spawn_file_actions_adddup2(fa, err_write.get(), 2);
            break;
        case Stdio::null:
            null_stream(2, O_WRONLY);
            break;
        default:
            break;
    }
    if (!o.working_dir.empty()) posix_spawn_file_actions_addchdir_np(fa, o.working_dir.c_str());

    SpawnAttr attr;
    sigset_t empty, all;
    sigemptyset(&empty);
    sigfillset(&all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    posix_spawnattr_setsigmask(&attr.attr, &empty);
    posix_spawnattr_setsigdefault(&attr.attr, &all);
    if (o.new_process_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setpgroup(&attr.attr, 0);
    }
    posix_spawnattr_setflags(&attr.attr, flags);

    std::vector<std::string> env_strings = build_environment(o);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<char*> argv;
    for (auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, exe->c_str(), fa, &attr.attr, argv.data(), envp.data());
    if (rc != 0)
        throw ProcessError("cannot start '" + o.argv[0] + "': " + errno_text(rc), o.argv[0], -1, 0,
                           "");
    impl_->pid = pid;
    impl_->own_group = o.new_process_group;
    // Close the child's ends in the parent.
    in_read.reset();
    out_write.reset();
    err_write.reset();
    if (in_write)
        impl_->in = std::make_unique<io::FdSink>(std::move(in_write), o.argv[0] + " stdin");
    if (out_read)
        impl_->out = std::make_unique<io::FdSource>(std::move(out_read), o.argv[0] + " stdout");
    if (err_read) {
        impl_->tail_limit = o.stderr_tail_bytes;
        impl_->err_reader = std::thread([impl = impl_.get(), fd = std::move(err_read)]() mutable {
            impl->read_stderr(std::move(fd));
        });
    }
}

Process::~Process() {
    if (!impl_) return;
    if (!impl_->status && impl_->pid > 0) {
        kill(SIGKILL);
        impl_->close_pipes();
        bool done = false;
        impl_->reap(0, done);
    }
    impl_->close_pipes();
    impl_->finish_reader();
}

Process::Process(Process&&) noexcept = default;
Process& Process::operator=(Process&& other) noexcept {
    if (this != &other) {
        Process dying(std::move(*this));
        impl_ = std::move(other.impl_);
    }
    return *this;
}

pid_t Process::pid() const noexcept {
    return impl_->pid;
}
const std::string& Process::program() const noexcept {
    return impl_->program;
}

io::Source& Process::out() {
    if (!impl_->out) throw ConfigError("the child's stdout is not a pipe");
    return *impl_->out;
}

io::Sink& Process::in() {
    if (!impl_->in) throw ConfigError("the child's stdin is not a pipe");
    return *impl_->in;
}

void Process::kill(int sig) noexcept {
    if (impl_->status || impl_->pid <= 0) return;
    if (impl_->own_group)
        ::kill(-impl_->pid, sig);
    else
        ::kill(impl_->pid, sig);
}

ExitStatus Process::wait() {
    impl_->close_pipes();
    bool done = false;
    impl_->reap(0, done);
    impl_->finish_reader();
    return *impl_->status;
}

std::optional<ExitStatus> Process::wait_for(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        bool done = false;
        impl_->reap(WNOHANG, done);
        if (done) {
            impl_->close_pipes();
            impl_->finish_reader();
            return impl_->status;
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::string Process::stderr_tail() const {
    std::lock_guard lock(impl_->tail_mutex);
    if (impl_->tail.size() <= impl_->tail_limit) return impl_->tail;
    return impl_->tail.substr(impl_->tail.size() - impl_->tail_limit);
}

void Process::check() {
    const auto s = wait();
    if (!s.success())
        throw ProcessError("'" + impl_->program + "' " + s.describe(), impl_->program, s.code,
                           s.signal, stderr_tail());
}

RunResult run(ProcessOptions options, std::optional<std::string_view> input,
              std::size_t max_output) {
    options.in = input ? Stdio::pipe : Stdio::null;
    options.out = Stdio::pipe;
    if (options.err == Stdio::pipe) options.err = Stdio::capture;
    Process p(std::move(options));
    std::thread writer;
    std::exception_ptr writer_error;
    if (input) {
        writer = std::thread([&] {
            try {
                p.in().write(io::as_bytes(*input));
                p.in().finish();
            } catch (const IoError& e) {
                // The child may legitimately exit without reading all its input.
                if (e.error_number() != EPIPE) writer_error = std::current_exception();
                p.in().abort();
            } catch (...) {
                writer_error = std::current_exception();
                p.in().abort();
            }
        });
    }
    RunResult r;
    try {
        r.out = io::read_all(p.out(), max_output);
    } catch (...) {
        p.kill(SIGKILL);
        if (writer.joinable()) writer.join();
        throw;
    }
    if (writer.joinable()) writer.join();
    r.status = p.wait();
    r.err = p.stderr_tail();
    if (writer_error) std::rethrow_exception(writer_error);
    return r;
}

}  // namespace dolibak::process
