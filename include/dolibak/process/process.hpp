#pragma once
// Child processes spawned from an argv (posix_spawn; never a shell), with their stdin and
// stdout as streams and the tail of their stderr captured. A Process that is destroyed while
// its child still runs kills the child (SIGKILL) and reaps it.
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dolibak::process {

struct DOLIBAK_API ExitStatus {
    int code = -1;   ///< exit code, or -1 when killed by a signal
    int signal = 0;  ///< the signal that killed the child, or 0
    bool success() const noexcept { return code == 0; }
    /// "exited with status 3", "killed by signal 9 (Killed)".
    std::string describe() const;
};

enum class Stdio {
    inherit,  ///< the parent's own descriptor
    null,     ///< /dev/null
    pipe,     ///< a pipe to the parent (stdin: Process::in(); stdout: Process::out())
    capture,  ///< stderr only: read by a thread, the last stderr_tail_bytes kept
};

/// What a child's environment starts from (ProcessOptions::env is applied on top).
enum class EnvBase {
    /// Only the parent's minimal_environment_names() (PATH, HOME, locale, TZ, TMPDIR, ...):
    /// nothing secret. PATH defaults to /usr/local/bin:/usr/bin:/bin when the parent has none.
    minimal,
    /// The parent's whole environment (test tools that need it; never for a child that does
    /// not need the parent's secrets).
    parent,
    /// Nothing but ProcessOptions::env.
    empty,
};

/// The variables EnvBase::minimal takes from the parent: PATH, HOME, USER, LOGNAME, LANG,
/// LANGUAGE, every LC_*, TZ and TMPDIR.
DOLIBAK_API bool is_minimal_environment_name(std::string_view name);

struct DOLIBAK_API ProcessOptions {
    /// argv[0] is the program: a path, or a name looked up in PATH.
    std::vector<std::string> argv;
    /// Variables set (value) or removed (nullopt) on top of `env_base`. What a child needs
    /// is given here explicitly; a secret it needs comes this way too (or in a private file
    /// named here), never through argv.
    std::vector<std::pair<std::string, std::optional<std::string>>> env;
    /// What the child's environment starts from. The default, `minimal`, keeps the parent's
    /// secrets (AWS_SECRET_ACCESS_KEY, DOLIBAK_DB_PASSWORD, ...) away from every child.
    EnvBase env_base = EnvBase::minimal;
    Stdio in = Stdio::null;
    Stdio out = Stdio::pipe;
    Stdio err = Stdio::capture;
    std::size_t stderr_tail_bytes = 64 * 1024;
    std::filesystem::path working_dir;
    /// Put the child in its own process group (so a terminal's Ctrl-C reaches only us, and we
    /// decide how the child stops).
    bool new_process_group = false;
    /// Descriptors of ours the child gets, each at its own number (>= 3: 0, 1 and 2 are the
    /// child's stdio), whether or not they are close-on-exec here. Every other descriptor of
    /// ours that is close-on-exec (dolibak opens all of its own so) stays out of the child.
    std::vector<int> inherit_fds;
};

class DOLIBAK_API Process {
public:
    /// Spawns the child. Throws ProcessError when it cannot be started (program not found,
    /// not executable).
    explicit Process(ProcessOptions options);
    ~Process();
    Process(Process&&) noexcept;
    Process& operator=(Process&&) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const noexcept;
    /// The program name as given in argv[0].
    const std::string& program() const noexcept;

    /// The child's stdout (options.out == Stdio::pipe).
    io::Source& out();
    /// The child's stdin (options.in == Stdio::pipe); finish() closes it (EOF for the child).
    io::Sink& in();

    /// Sends a signal to the child (and its group when it has its own).
    void kill(int signal) noexcept;
    /// Closes our ends of stdin and stdout, waits for the child to exit and for the stderr
    /// reader to drain. Idempotent.
    ExitStatus wait();
    /// Like wait(), but gives up after `timeout` and returns nothing.
    std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
    /// The last bytes the child wrote to stderr (options.err == Stdio::capture).
    std::string stderr_tail() const;

    /// wait(), then throws ProcessError (with the stderr tail) unless the child exited 0.
    void check();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct DOLIBAK_API RunResult {
    ExitStatus status;
    std::string out;
    std::string err;
};

/// Runs a child to completion, feeding `input` to its stdin (when given) and collecting its
/// stdout (at most max_output bytes, else FormatError) and stderr tail.
DOLIBAK_API RunResult run(ProcessOptions options,
                          std::optional<std::string_view> input = std::nullopt,
                          std::size_t max_output = 64 * 1024 * 1024);

/// Finds an executable by name in PATH (or checks a path containing '/').
DOLIBAK_API std::optional<std::filesystem::path> find_program(const std::string& name);

}  // namespace dolibak::process
