#pragma once
// What the job subcommands (backup, list, verify, restore, prune, status, check, refresh)
// share: the settings flags (one per key of docs/configuration.md), --config, --json and
// --log-format; loading and merging the settings; the log and progress output; secrets
// redacted from everything printed; SIGINT/SIGTERM turned into the job's cancellation; and
// exceptions mapped to the documented exit codes.
#include "command.hpp"

#include <dolibak/core/cancel.hpp>
#include <dolibak/job/job.hpp>
#include <dolibak/job/report.hpp>
#include <dolibak/job/settings.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::cli {

struct JobOptions {
    job::Settings flags;  ///< settings given as flags
    std::string config_file;
    bool json = false;
    /// --now: run as if the clock said this (drills, and histories simulated in days).
    std::string now;
};

/// Adds --config, --json and the settings flags (--log-format included) to `sub`. The
/// settings flags are left out of the command's --help (a footer points to `dolibak help
/// settings`, which lists them by topic).
std::shared_ptr<JobOptions> add_job_options(CLI::App* sub);

/// The footer of every job command's --help.
inline constexpr std::string_view settings_footer =
    "Settings: every key of docs/configuration.md is also a flag here (--store, --docs-dir, "
    "--keep-daily-days, ...): dolibak help settings";

/// The value placeholder of a setting's flag: "PATH", "N", "pg_dump|zstd"; empty for a
/// boolean (--x / --no-x).
std::string setting_type_name(const job::SettingInfo& info);

/// Everything the CLI prints goes through here: log lines (text or JSON), the progress line on
/// a terminal, and results on stdout; known secret values are replaced by "***".
class Output {
public:
    enum class Format { text, json };
    Output(Format format, bool terminal);
    ~Output();

    void add_secret(std::string value);
    std::string redact(std::string text) const;

    /// An event of the job (from any thread).
    void event(const job::Event& e);
    /// A log line: level "info", "warning", "error".
    void log(const std::string& level, const std::string& half, const std::string& message);
    /// A log line with its structured fields (JSON format: docs/json.md, "dolibak.log/1").
    void log(job::LogRecord record);
    /// Results on stdout (redacted).
    void print(const std::string& text);
    /// Ends the progress line (before printing anything else on a terminal).
    void end_progress();
    /// Not on a terminal: log a progress line this often while data flows (0: never).
    void set_progress_interval(std::chrono::seconds interval);
    /// Drop the job's info and warning events (not its progress): for a command whose
    /// result on stdout repeats them, when both go to the same terminal.
    void set_drop_events(bool drop);

private:
    void draw_progress_locked();
    void clear_progress_locked();
    /// "db 412 MiB / ~780 MiB (53%) 61 MiB/s ETA ~6s  |  docs done: 1.2 GiB in 40s (30 MiB/s)".
    std::string progress_text_locked() const;
    struct HalfProgress {
        std::uint64_t bytes = 0;
        std::optional<std::uint64_t> total;
        bool estimated = false;
        std::chrono::steady_clock::time_point start;
        std::chrono::steady_clock::time_point last;  ///< of the latest count
        bool done = false;
    };
    Format format_;
    bool terminal_;
    std::vector<std::string> secrets_;
    mutable std::mutex mutex_;
    std::map<std::string, HalfProgress> progress_;
    bool progress_shown_ = false;
    std::chrono::steady_clock::time_point last_draw_{};
    std::chrono::seconds progress_interval_{30};
    std::chrono::steady_clock::time_point last_progress_log_{};
    bool drop_events_ = false;
    /// When each half last said something before its progress began.
    std::map<std::string, std::chrono::steady_clock::time_point> said_at_;
};

/// A subcommand's work: gets the job and the output, returns the exit code.
using JobBody = std::function<int(job::Job& job, Output& out)>;

struct RunOptions {
    /// Called on the settings before the config is built (e.g. --db-only turns db off).
    std::function<void(job::Settings&)> adjust_settings;
    /// Called on the config before the job is created.
    std::function<void(job::Config&)> adjust_config;
    /// The result printed on stdout repeats the job's info and warning events (check's
    /// items): when stdout and stderr are the same terminal they are not logged too.
    bool result_repeats_events = false;
};

/// Loads the settings (flags > DOLIBAK_* > config file), builds the job, wires events,
/// signals and redaction, runs `body`, and maps errors to exit codes (2 config, 3 failure,
/// 130/143 interrupted).
int run_job(const JobOptions& options, const JobBody& body, const RunOptions& run = {});

/// The target of `restore db --to` / `refresh --to-db` (see job::target_connection);
/// `configured`: the configured database, whose connection a name or conninfo keeps.
inline pgdump::ConnectionParams parse_target(const std::string& to, const std::string& flag,
                                             const pgdump::ConnectionParams* configured = nullptr) {
    return job::target_connection(to, flag, nullptr, configured);
}

/// Human-readable helpers for the text output.
std::string human_bytes(std::uint64_t bytes);
std::string human_seconds(double seconds);
/// True when stdout is a terminal.
bool stdout_is_terminal();

}  // namespace dolibak::cli
