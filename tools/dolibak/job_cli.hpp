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
#include <vector>

namespace dolibak::cli {

struct JobOptions {
    job::Settings flags;  ///< settings given as flags
    std::string config_file;
    bool json = false;
    /// --now: run as if the clock said this (drills, and histories simulated in days).
    std::string now;
};

/// Adds --config, --json and the settings flags (--log-format included) to `sub`.
std::shared_ptr<JobOptions> add_job_options(CLI::App* sub);

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

private:
    void draw_progress_locked();
    void clear_progress_locked();
    struct HalfProgress {
        std::uint64_t bytes = 0;
        std::optional<std::uint64_t> total;
        bool estimated = false;
        std::chrono::steady_clock::time_point start;
        bool done = false;
    };
    Format format_;
    bool terminal_;
    std::vector<std::string> secrets_;
    mutable std::mutex mutex_;
    std::map<std::string, HalfProgress> progress_;
    bool progress_shown_ = false;
    std::chrono::steady_clock::time_point last_draw_{};
};

/// A subcommand's work: gets the job and the output, returns the exit code.
using JobBody = std::function<int(job::Job& job, Output& out)>;

struct RunOptions {
    /// Called on the settings before the config is built (e.g. --db-only turns db off).
    std::function<void(job::Settings&)> adjust_settings;
    /// Called on the config before the job is created.
    std::function<void(job::Config&)> adjust_config;
};

/// Loads the settings (flags > DOLIBAK_* > config file), builds the job, wires events,
/// signals and redaction, runs `body`, and maps errors to exit codes (2 config, 3 failure,
/// 130/143 interrupted).
int run_job(const JobOptions& options, const JobBody& body, const RunOptions& run = {});

/// The target of `restore db --to` / `refresh --to-db` (see job::target_connection).
inline pgdump::ConnectionParams parse_target(const std::string& to, const std::string& flag) {
    return job::target_connection(to, flag);
}

/// Human-readable helpers for the text output.
std::string human_bytes(std::uint64_t bytes);
std::string human_seconds(double seconds);
/// True when stdout is a terminal.
bool stdout_is_terminal();

}  // namespace dolibak::cli
