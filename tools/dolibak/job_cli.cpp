#include "job_cli.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/job/report.hpp>

#include <fmt/core.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

namespace dolibak::cli {

namespace {

// ---- signals -------------------------------------------------------------------------------
// The handler only stores into lock-free atomics and calls write(2)/_exit(2): async-signal-safe.
std::atomic<CancelToken*> g_cancel{nullptr};
std::atomic<int> g_signals{0};
std::atomic<bool> g_stderr_tty{false};

extern "C" void on_signal(int sig) {
    if (g_signals.fetch_add(1) >= 1) ::_exit(128 + sig);  // a second signal: stop now
    if (CancelToken* t = g_cancel.load()) t->cancel(sig);
    if (g_stderr_tty.load()) {
        static const char msg[] = "\ndolibak: interrupted, stopping cleanly (again to force)\n";
        [[maybe_unused]] const auto n = ::write(2, msg, sizeof msg - 1);
    }
}

class SignalGuard {
public:
    explicit SignalGuard(CancelToken* token) {
        g_signals.store(0);
        g_cancel.store(token);
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        ::sigaction(SIGINT, &sa, &old_int_);
        ::sigaction(SIGTERM, &sa, &old_term_);
    }
    ~SignalGuard() {
        ::sigaction(SIGINT, &old_int_, nullptr);
        ::sigaction(SIGTERM, &old_term_, nullptr);
        g_cancel.store(nullptr);
    }
    SignalGuard(const SignalGuard&) = delete;
    SignalGuard& operator=(const SignalGuard&) = delete;

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

std::string upper(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

std::string signal_name(int sig) {
    if (sig == SIGINT) return "SIGINT";
    if (sig == SIGTERM) return "SIGTERM";
    return "signal " + std::to_string(sig);
}

void add_env_secrets(Output& out) {
    for (const char* var :
         {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD", "DOLIBAK_DB_PASSWORD",
          "DOLIBAK_S3_SECRET_ACCESS_KEY", "DOLIBAK_S3_SESSION_TOKEN", "DOLIBAK_TARGET_PASSWORD",
          "DOLIBAK_WEBHOOK_URL"})
        if (const char* v = std::getenv(var)) out.add_secret(v);
}

}  // namespace

/// The last resort after SIGINT/SIGTERM: the job stops at its next block, but a step that
/// waits without data (a child that prints nothing, a slow query) would keep it running; the
/// process then exits anyway after a grace period (as Kubernetes would kill it), leaving the
/// lock to expire.
class Watchdog {
public:
    Watchdog(const CancelToken& token, Output& out, std::chrono::seconds grace)
        : thread_([this, &token, &out, grace] {
              std::unique_lock lock(mutex_);
              while (!done_ && !token.cancelled())
                  cv_.wait_for(lock, std::chrono::milliseconds(100));
              if (done_) return;
              if (cv_.wait_for(lock, grace, [this] { return done_; })) return;
              const int sig = token.signal() ? token.signal() : SIGINT;
              out.end_progress();
              out.log("error", "",
                      "still running " + std::to_string(grace.count()) + "s after " +
                          signal_name(sig) +
                          ": exiting without cleanup (the store's lock expires after lock_ttl)");
              std::fflush(nullptr);
              ::_exit(128 + sig);
          }) {}
    ~Watchdog() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
};

// ---- helpers -------------------------------------------------------------------------------

std::string human_bytes(std::uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string human_seconds(double seconds) {
    if (seconds < 0) seconds = 0;
    const auto s = static_cast<long long>(std::llround(seconds));
    if (s < 60) return fmt::format("{}s", s);
    if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
    if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
    return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

bool stdout_is_terminal() {
    return ::isatty(1) == 1;
}

// ---- options -------------------------------------------------------------------------------

std::string setting_type_name(const job::SettingInfo& info) {
    switch (info.kind) {
        case job::SettingKind::boolean:
            return {};
        case job::SettingKind::path:
            return "PATH";
        case job::SettingKind::integer:
            return "N";
        case job::SettingKind::count:
            return "N|unlimited";
        case job::SettingKind::size:
            return "SIZE";
        case job::SettingKind::duration:
            return "DURATION";
        case job::SettingKind::list:
            return "LIST";
        case job::SettingKind::choice: {
            std::string type;
            for (const auto& c : info.choices) type += (type.empty() ? "" : "|") + c;
            return type;
        }
        default:
            return "TEXT";
    }
}

std::shared_ptr<JobOptions> add_job_options(CLI::App* sub) {
    auto o = std::make_shared<JobOptions>();
    sub->add_option("--config", o->config_file,
                    "Config file (JSON object of settings; default: $DOLIBAK_CONFIG)")
        ->type_name("FILE");
    sub->add_flag("--json", o->json, "Print the result as JSON on stdout");
    sub->add_option("--now", o->now,
                    "Run as if the clock said this time (YYYYMMDDTHHMMSSZ; drills and tests: "
                    "time stamps, retention and staleness follow it)");
    // The settings flags work on every job command but are listed once, by topic, in
    // `dolibak help settings`: an empty group keeps them out of each command's --help.
    sub->footer(std::string(settings_footer));
    for (const auto& info : job::setting_keys()) {
        if (info.secret) continue;  // never from argv
        const std::string flag = job::flag_name(info.key);
        const std::string key = info.key;
        std::weak_ptr<JobOptions> weak = o;
        if (info.kind == job::SettingKind::boolean) {
            sub->add_flag_callback(
                   flag,
                   [weak, key, flag] {
                       if (auto p = weak.lock())
                           p->flags[key] = job::Setting{"true", std::nullopt, flag};
                   },
                   info.help)
                ->group("");
            const std::string no_flag = job::negated_flag_name(key);
            sub->add_flag_callback(
                   no_flag,
                   [weak, key, no_flag] {
                       if (auto p = weak.lock())
                           p->flags[key] = job::Setting{"false", std::nullopt, no_flag};
                   },
                   "Turn " + flag + " off")
                ->group("");
            continue;
        }
        sub->add_option_function<std::string>(
               flag,
               [weak, key, flag](const std::string& v) {
                   if (auto p = weak.lock()) p->flags[key] = job::Setting{v, std::nullopt, flag};
               },
               info.help)
            ->type_name(setting_type_name(info))
            ->group("");
    }
    return o;
}

// ---- output --------------------------------------------------------------------------------

Output::Output(Format format, bool terminal) : format_(format), terminal_(terminal) {}

Output::~Output() {
    end_progress();
}

void Output::add_secret(std::string value) {
    if (value.size() < 3) return;  // would mask ordinary text; such a secret is no secret
    std::lock_guard lock(mutex_);
    secrets_.push_back(std::move(value));
}

std::string Output::redact(std::string text) const {
    std::lock_guard lock(mutex_);
    for (const auto& s : secrets_) {
        for (auto pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos + 3))
            text.replace(pos, s.size(), "***");
    }
    return text;
}

void Output::clear_progress_locked() {
    if (progress_shown_) {
        std::fputs("\r\x1b[2K", stderr);
        progress_shown_ = false;
    }
}

std::string Output::progress_text_locked() const {
    std::string line;
    for (const auto& [half, p] : progress_) {
        if (!line.empty()) line += "  |  ";
        // The rate of the bytes counted so far, over the time they took: a half that
        // finished (or waits) keeps its rate instead of decaying towards zero.
        const double secs = std::chrono::duration<double>(p.last - p.start).count();
        const double rate = secs > 0.2 ? static_cast<double>(p.bytes) / secs : 0;
        const std::string name = half.empty() ? std::string("job") : half;
        if (p.done) {
            line +=
                fmt::format("{} done: {} in {}", name, human_bytes(p.bytes), human_seconds(secs));
            if (rate > 0) line += " (" + human_bytes(static_cast<std::uint64_t>(rate)) + "/s)";
            continue;
        }
        line += name + " " + human_bytes(p.bytes);
        // An estimated total (the previous backup's size) that was passed says nothing more.
        const bool total_known = p.total && *p.total > 0 && (!p.estimated || *p.total > p.bytes);
        if (total_known) {
            line +=
                fmt::format(" / {}{} ({:.0f}%)", p.estimated ? "~" : "", human_bytes(*p.total),
                            100.0 * static_cast<double>(p.bytes) / static_cast<double>(*p.total));
        }
        if (rate > 0) line += " " + human_bytes(static_cast<std::uint64_t>(rate)) + "/s";
        if (total_known && rate > 0 && *p.total > p.bytes)
            line += fmt::format(" ETA {}{}", p.estimated ? "~" : "",
                                human_seconds(static_cast<double>(*p.total - p.bytes) / rate));
    }
    return line;
}

void Output::draw_progress_locked() {
    const std::string line = progress_text_locked();
    std::fputs("\r\x1b[2K", stderr);
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    progress_shown_ = true;
    last_draw_ = std::chrono::steady_clock::now();
}

void Output::set_progress_interval(std::chrono::seconds interval) {
    std::lock_guard lock(mutex_);
    progress_interval_ = interval;
}

void Output::set_drop_events(bool drop) {
    std::lock_guard lock(mutex_);
    drop_events_ = drop;
}

void Output::end_progress() {
    std::lock_guard lock(mutex_);
    if (progress_shown_) {
        std::fputs("\n", stderr);
        progress_shown_ = false;
    }
    progress_.clear();
    said_at_.clear();
}

void Output::event(const job::Event& e) {
    if (e.kind == job::Event::Kind::progress) {
        std::unique_lock lock(mutex_);
        const auto now = std::chrono::steady_clock::now();
        auto& p = progress_[e.half];
        if (p.start == std::chrono::steady_clock::time_point{}) {
            // From the half's last message before its transfer ("dumping into ..."), else now.
            const auto said = said_at_.find(e.half);
            p.start = said == said_at_.end() ? now : said->second;
        }
        p.bytes = e.bytes;
        p.total = e.total;
        p.estimated = e.estimated;
        p.last = now;
        p.done = e.done;
        if (terminal_) {
            // The end of a half is always drawn: its final count and rate stay on the line.
            if (e.done || now - last_draw_ > std::chrono::milliseconds(100)) draw_progress_locked();
            return;
        }
        // Logs (cron, systemd, Kubernetes): one progress line now and then while data flows.
        if (progress_interval_.count() <= 0) return;
        if (last_progress_log_ == std::chrono::steady_clock::time_point{}) {
            last_progress_log_ = now;
            return;
        }
        if (now - last_progress_log_ < progress_interval_) return;
        last_progress_log_ = now;
        const std::string text = "progress: " + progress_text_locked();
        lock.unlock();
        log("info", "", text);
        return;
    }
    {
        std::lock_guard lock(mutex_);
        if (!e.half.empty() && !progress_.count(e.half))
            said_at_[e.half] = std::chrono::steady_clock::now();
        if (drop_events_) return;
    }
    log(job::log_record(
        e, std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())));
}

void Output::log(const std::string& level, const std::string& half, const std::string& message) {
    job::LogRecord r;
    r.time = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
    r.level = level;
    r.half = half;
    r.message = message;
    log(std::move(r));
}

void Output::log(job::LogRecord r) {
    r.message = redact(r.message);
    r.key = redact(r.key);
    std::lock_guard lock(mutex_);
    std::string line;
    if (format_ == Format::json) {
        line = job::to_json_line(r) + "\n";  // "dolibak.log/1", docs/json.md
    } else {
        line = format_rfc3339(r.time) + " " + upper(r.level) + " " +
               (r.half.empty() ? "" : r.half + ": ") + r.message + "\n";
    }
    const bool redraw = progress_shown_;
    clear_progress_locked();
    std::fputs(line.c_str(), stderr);
    if (redraw && !progress_.empty()) draw_progress_locked();
    std::fflush(stderr);
}

void Output::print(const std::string& text) {
    const std::string t = redact(text);
    std::lock_guard lock(mutex_);
    clear_progress_locked();
    std::fputs(t.c_str(), stdout);
    if (!t.empty() && t.back() != '\n') std::fputc('\n', stdout);
    std::fflush(stdout);
}

// ---- running -------------------------------------------------------------------------------

int run_job(const JobOptions& options, const JobBody& body, const RunOptions& run) {
    const bool stderr_tty = ::isatty(2) == 1;
    g_stderr_tty.store(stderr_tty);
    auto format_of = [](const job::Settings& s) {
        auto it = s.find("log_format");
        return it != s.end() && it->second.value == "json" ? Output::Format::json
                                                           : Output::Format::text;
    };
    Output::Format format = format_of(options.flags);
    if (format == Output::Format::text) {
        const char* env = std::getenv("DOLIBAK_LOG_FORMAT");
        if (env && std::string(env) == "json") format = Output::Format::json;
    }
    auto out = std::make_unique<Output>(format, stderr_tty && format == Output::Format::text);
    add_env_secrets(*out);
    auto token = std::make_shared<CancelToken>();
    SignalGuard guard(token.get());
    auto interrupted = [&]() {
        const int sig = token->signal() ? token->signal() : SIGINT;
        out->end_progress();
        out->log(
            "error", "",
            "interrupted by " + signal_name(sig) + ": stopped, nothing half-written was published");
        return sig == SIGTERM ? exit_sigterm : 128 + sig;
    };
    try {
        job::SettingsSources src;
        src.overrides = options.flags;
        if (!options.config_file.empty()) src.config_file = options.config_file;
        Output* o = out.get();
        src.warn = [o](const std::string& m) { o->log("warning", "", m); };
        job::Settings settings = job::load_settings(src);
        if (const auto f = format_of(settings); f != format) {
            format = f;
            out = std::make_unique<Output>(f, stderr_tty && f == Output::Format::text);
            add_env_secrets(*out);
        }
        for (auto& s : job::secret_values(settings)) out->add_secret(s);
        std::chrono::seconds grace{20};
        if (auto it = settings.find("cancel_grace"); it != settings.end())
            grace = job::parse_duration(it->second.value, "cancel_grace");
        if (auto it = settings.find("progress_interval"); it != settings.end())
            out->set_progress_interval(job::parse_duration(
                it->second.value, "progress_interval (from " + it->second.source + ")"));
        out->set_drop_events(run.result_repeats_events && !options.json && stderr_tty &&
                             stdout_is_terminal());
        if (run.adjust_settings) run.adjust_settings(settings);
        job::Config config = job::config_from_settings(settings);
        if (config.db) out->add_secret(config.db->conn.password.reveal());
        config.cancel = token;
        Output* sink = out.get();
        config.on_event = [sink](const job::Event& e) { sink->event(e); };
        if (!options.now.empty()) {
            // The clock runs on from the given time (the same-second wait still works): it
            // reads that time for a whole second from now, whatever the fraction of the
            // second the process started in.
            const auto offset = parse_time_either(options.now) - std::chrono::system_clock::now();
            config.now = [offset] {
                return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now() +
                                                                offset);
            };
        }
        if (run.adjust_config) run.adjust_config(config);
        int rc = 0;
        {
            Watchdog watchdog(*token, *out, grace);
            job::Job job(std::move(config));
            rc = body(job, *out);
        }
        out->end_progress();
        // The operation completed: what it published stands, and its report says so, even
        // when a signal came after its last step (e.g. after a backup's manifest).
        if (token->cancelled())
            out->log("warning", "",
                     signal_name(token->signal() ? token->signal() : SIGINT) +
                         " arrived after the operation had completed: its result stands");
        return rc;
    } catch (const std::exception& e) {
        out->end_progress();
        if (token->cancelled()) {
            out->log("error", "", e.what());
            return interrupted();
        }
        out->log("error", "", e.what());
        if (dynamic_cast<const ConfigError*>(&e)) return exit_usage;
        if (dynamic_cast<const Cancelled*>(&e)) return exit_sigint;
        return exit_error;
    }
}

}  // namespace dolibak::cli
