// Job::status: the last successful run (an unchanged run counts as a success) and its age,
// and Prometheus textfile metrics for node-exporter's textfile collector.
#include "job/job_impl.hpp"
#include "job/metrics_text.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/file_io.hpp>

#include <fmt/core.h>

#include <algorithm>

namespace dolibak::job {

namespace {

using metrics::epoch;
using metrics::label_value;

void write_metrics(const std::filesystem::path& path, const std::string& store_url,
                   const StatusReport& s, TimePoint now) {
    const std::string store = "store=\"" + label_value(store_url) + "\"";
    std::string out;
    auto metric = [&](const char* name, const char* type, const char* help) {
        metrics::describe(out, name, type, help);
    };
    metric("dolibak_status_time_seconds", "gauge", "When this status was computed (Unix time).");
    out += fmt::format("dolibak_status_time_seconds{{{}}} {:.0f}\n", store, epoch(now));
    metric("dolibak_last_success_timestamp_seconds", "gauge",
           "Time stamp of the newest successful run (Unix time); 0 when there is none.");
    out += fmt::format("dolibak_last_success_timestamp_seconds{{{}}} {:.0f}\n", store,
                       s.last_success ? epoch(s.last_success->time) : 0.0);
    metric("dolibak_stale", "gauge", "1 when the last success is missing or older than max-age.");
    out += fmt::format("dolibak_stale{{{}}} {}\n", store, s.stale ? 1 : 0);
    if (s.last_run && s.last_run->loaded) {
        const auto& m = s.last_run->manifest;
        metric("dolibak_last_run_timestamp_seconds", "gauge",
               "Time stamp of the newest run (Unix time).");
        out += fmt::format("dolibak_last_run_timestamp_seconds{{{}}} {:.0f}\n", store,
                           epoch(s.last_run->time));
        metric("dolibak_last_run_success", "gauge",
               "1 when every half of the newest run succeeded.");
        out += fmt::format("dolibak_last_run_success{{{}}} {}\n", store, m.succeeded() ? 1 : 0);
        metric("dolibak_last_run_duration_seconds", "gauge", "Duration of the newest run.");
        const double duration =
            m.finished_at > m.started_at ? epoch(m.finished_at) - epoch(m.started_at) : 0.0;
        out += fmt::format("dolibak_last_run_duration_seconds{{{}}} {:.0f}\n", store, duration);
        metric("dolibak_half_bytes", "gauge",
               "Size of the object holding each half in the newest run (new or unchanged).");
        for (const auto& [half, h] : m.halves)
            out += fmt::format("dolibak_half_bytes{{{},half=\"{}\"}} {}\n", store,
                               label_value(half), h.bytes);
        metric("dolibak_half_uploaded", "gauge",
               "1 when the newest run uploaded the half, 0 when unchanged, skipped or failed.");
        for (const auto& [half, h] : m.halves)
            out += fmt::format("dolibak_half_uploaded{{{},half=\"{}\"}} {}\n", store,
                               label_value(half),
                               h.status == catalog::ManifestHalf::Status::uploaded ? 1 : 0);
        metric("dolibak_half_failed", "gauge", "1 when the half failed in the newest run.");
        for (const auto& [half, h] : m.halves)
            out +=
                fmt::format("dolibak_half_failed{{{},half=\"{}\"}} {}\n", store, label_value(half),
                            h.status == catalog::ManifestHalf::Status::failed ? 1 : 0);
    }
    io::AtomicFileSink sink(path, 0644);
    io::write(sink, out);
    sink.finish();
}

}  // namespace

StatusReport Job::status(std::chrono::seconds max_age,
                         const std::optional<std::filesystem::path>& metrics_file) {
    auto& im = *impl_;
    if (max_age.count() <= 0) throw ConfigError("--max-age must be positive");
    const auto listing = im.catalog->scan(catalog::Catalog::Load::none);
    const TimePoint now = im.now();
    StatusReport s;
    // Newest first: usually one or two manifests are read. A run stamped in the future (a
    // machine with a wrong clock) would otherwise stand as fresh forever.
    for (auto it = listing.runs.rbegin(); it != listing.runs.rend(); ++it) {
        if (catalog::is_future(it->time, now)) {
            s.future_runs.push_back(it->time);
            continue;
        }
        RunEntry run = *it;
        try {
            run.manifest = im.catalog->load_manifest(run.manifest_key);
            run.loaded = true;
        } catch (const Error& e) {
            im.warn("", std::string("unreadable manifest skipped: ") + e.what());
            continue;
        }
        if (!s.last_run) s.last_run = run;
        if (run.manifest.succeeded()) {
            s.last_success = run;
            break;
        }
    }
    std::reverse(s.future_runs.begin(), s.future_runs.end());
    if (s.last_success) {
        const auto done = s.last_success->manifest.finished_at.time_since_epoch().count() > 0
                              ? s.last_success->manifest.finished_at
                              : s.last_success->time;
        s.age_seconds = static_cast<double>((now - done).count());
        s.stale = *s.age_seconds > static_cast<double>(max_age.count());
        if (s.stale)
            s.reason = fmt::format("the last success ({}) is older than {} s",
                                   format_timestamp(s.last_success->time), max_age.count());
    } else {
        s.reason = "no successful run";
    }
    if (!s.future_runs.empty()) {
        s.stale = true;
        s.reason = fmt::format(
            "{} run(s) stamped in the future (the newest {}, now {}): a wrong clock; they are "
            "not counted",
            s.future_runs.size(), format_timestamp(s.future_runs.back()), format_timestamp(now));
        im.warn("", s.reason);
    }
    if (metrics_file) write_metrics(*metrics_file, im.store().url(), s, now);
    return s;
}

}  // namespace dolibak::job
