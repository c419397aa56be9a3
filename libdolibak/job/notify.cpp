// Notifications: after backup, prune and verify (success or failure), the outcome's hook runs
// with the notification's JSON on stdin, and the webhook receives it as a JSON POST. Both are
// bounded by Config::notify.timeout; a notification that fails is a warning, never the
// operation's failure. The payload holds no secret: the report (report_json.cpp has none), the
// store's URL, and an error message (errors never hold secrets); the webhook URL itself is
// never printed, and curl's own error text (which may name the URL) is not used.
#include "job/job_impl.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/core/text.hpp>
#include <dolibak/job/report.hpp>
#include <dolibak/process/process.hpp>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <memory>
#include <mutex>
#include <thread>

namespace dolibak::job {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds left(Clock::time_point deadline) {
    return std::max(milliseconds(0),
                    std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

// The hook's last stderr line, for the warning.
std::string last_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    const auto nl = text.rfind('\n');
    if (nl != std::string::npos) text.erase(0, nl + 1);
    if (text.size() > 300) text = text.substr(0, 300) + "...";
    return text;
}

/// Runs `argv` with `input` on stdin and `env` on top of the minimal environment; kills its
/// process group after `timeout`. Returns an empty string on success, else what went wrong.
std::string run_hook(const std::vector<std::string>& argv, const std::string& input,
                     std::vector<std::pair<std::string, std::optional<std::string>>> env,
                     std::chrono::seconds timeout) {
    process::ProcessOptions o;
    o.argv = argv;
    o.env = std::move(env);
    o.in = process::Stdio::pipe;
    o.out = process::Stdio::null;
    o.err = process::Stdio::capture;
    o.stderr_tail_bytes = 4096;
    o.new_process_group = true;
    process::Process p(std::move(o));
    const auto deadline = Clock::now() + timeout;
    // The writer may block on a hook that does not read its stdin: it is left to the pipe's
    // EPIPE once the hook exits or is killed.
    std::atomic<bool> written{false};
    std::thread writer([&p, &input, &written] {
        try {
            p.in().write(io::as_bytes(input));
            p.in().finish();
        } catch (...) {
            try {
                p.in().abort();
            } catch (...) {
            }
        }
        written = true;
    });
    while (!written && Clock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
    std::optional<process::ExitStatus> status;
    if (written) status = p.wait_for(left(deadline));
    if (!status) {
        p.kill(SIGKILL);
        writer.join();
        p.wait();
        return "killed after " + std::to_string(timeout.count()) + " s (notify_timeout)";
    }
    writer.join();
    if (status->success()) return {};
    std::string why = status->describe();
    if (auto line = last_line(p.stderr_tail()); !line.empty()) why += ": " + line;
    return why;
}

struct CurlDeleter {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};

std::size_t discard(char*, std::size_t size, std::size_t n, void*) {
    return size * n;
}

std::once_flag curl_init_once;

/// One POST; an empty string when the server answered 2xx, else what went wrong (never the
/// URL).
std::string post_once(const Secret& url, const std::string& body, milliseconds timeout) {
    std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return "cannot create a curl handle";
    std::unique_ptr<curl_slist, SlistDeleter> headers(
        curl_slist_append(nullptr, "Content-Type: application/json"));
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.reveal().c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(std::max<long long>(1, timeout.count())));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "dolibak");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) return curl_easy_strerror(rc);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) return "HTTP " + std::to_string(status);
    return {};
}

/// Up to 3 attempts (0.5 s, then 1 s apart), all within `timeout`.
std::string post(const Secret& url, const std::string& body, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string why;
    for (int attempt = 0; attempt < 3; ++attempt) {
        if (attempt > 0) {
            const auto pause = milliseconds(500 * attempt);
            if (left(deadline) <= pause) break;
            std::this_thread::sleep_for(pause);
        }
        const auto budget = left(deadline);
        if (budget.count() <= 0) break;
        why = post_once(url, body, budget);
        if (why.empty()) return {};
        why += " (attempt " + std::to_string(attempt + 1) + ")";
    }
    return why;
}

}  // namespace

void Job::Impl::notify(const std::string& event, bool ok, const std::string& report_json,
                       const std::string& detail) noexcept {
    const NotifySettings& n = config.notify;
    const auto& hook = ok ? n.on_success : n.on_failure;
    if (hook.empty() && n.webhook_url.empty()) return;
    try {
        const std::string where = config.store_url.empty() ? "the store" : config.store_url;
        std::string text = "dolibak " + event + " of " + where + (ok ? " ok" : " FAILED");
        if (!detail.empty()) text += ": " + detail;
        for (auto& ch : text)
            if (ch == '\n' || ch == '\r') ch = ' ';
        nlohmann::json j;
        j["schema"] = schema_id("notification");  // docs/json.md
        j["text"] = text;
        j["event"] = event;
        j["ok"] = ok;
        j["store"] = config.store_url;
        j["report"] = report_json.empty() ? nlohmann::json(nullptr)
                                          : nlohmann::json::parse(report_json, nullptr, false);
        if (!ok && !detail.empty()) j["error"] = detail;
        const std::string body = j.dump();
        if (!hook.empty()) {
            std::string why;
            try {
                why = run_hook(hook, body + "\n",
                               {{"DOLIBAK_EVENT", event},
                                {"DOLIBAK_OK", ok ? "1" : "0"},
                                {"DOLIBAK_STORE", config.store_url},
                                {"DOLIBAK_MESSAGE", text}},
                               n.timeout);
            } catch (const std::exception& e) {
                why = e.what();
            }
            if (!why.empty())
                warn("", std::string("notification: the on_") + (ok ? "success" : "failure") +
                             " hook failed: " + why);
        }
        if (!n.webhook_url.empty()) {
            const std::string why = post(n.webhook_url, body, n.timeout);
            if (!why.empty()) warn("", "notification: the webhook failed: " + why);
        }
    } catch (const std::exception& e) {
        warn("", std::string("notification failed: ") + e.what());
    } catch (...) {
        warn("", "notification failed");
    }
}

namespace {

std::string first_failure(const BackupReport& r) {
    std::string s;
    for (const auto& h : r.halves)
        if (h.outcome == HalfReport::Outcome::failed)
            s += (s.empty() ? "" : "; ") + h.half + ": " + h.error;
    return s;
}

std::string first_failure(const VerifyReport& r) {
    if (r.objects.empty()) return "nothing to verify";
    for (const auto& o : r.objects)
        if (!o.ok) return o.key + ": " + o.problem;
    return {};
}

std::string first_failure(const PruneReport& r) {
    if (r.failures.empty()) return {};
    return count_noun(r.failures.size(), "object") + " could not be deleted, first " +
           r.failures.front().key + ": " + r.failures.front().message;
}

bool succeeded(const BackupReport& r) {
    return r.ok();
}
bool succeeded(const VerifyReport& r) {
    return r.ok();
}
bool succeeded(const PruneReport& r) {
    return r.failures.empty();
}

/// Runs an operation and notifies its outcome; an exception is notified, then rethrown.
template <typename Run>
auto notified(Job::Impl& im, const std::string& event, bool dry_run, Run&& run) {
    if (dry_run || !im.config.notify.any()) return run();
    decltype(run()) report;
    try {
        report = run();
    } catch (const std::exception& e) {
        im.notify(event, false, "", e.what());
        throw;
    }
    const bool ok = succeeded(report);
    im.notify(event, ok, to_json(report), ok ? "" : first_failure(report));
    return report;
}

}  // namespace

BackupReport Job::backup(const BackupOptions& options) {
    return notified(*impl_, "backup", options.dry_run, [&] { return impl_->backup(options); });
}

PruneReport Job::prune(bool dry_run, bool force) {
    return notified(*impl_, "prune", dry_run, [&] { return impl_->prune(dry_run, force); });
}

VerifyReport Job::verify(const std::string& which, const VerifyOptions& options) {
    return notified(*impl_, "verify", false, [&] { return impl_->verify(which, options); });
}

}  // namespace dolibak::job
