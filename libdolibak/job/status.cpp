// Job::status: the last successful run (an unchanged run counts as a success) and its age,
// and Prometheus textfile metrics for node-exporter's textfile collector.
#include "job/job_impl.hpp"
#include "job/metrics_text.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/core/text.hpp>
#include <dolibak/io/file_io.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <map>

namespace dolibak::job {

namespace {

using metrics::epoch;

void write_file(const std::filesystem::path& path, const std::string& text) {
    io::AtomicFileSink sink(path, 0644);
    io::write(sink, text);
    sink.finish();
}

// `s` is null when the store could not be read: only dolibak_up 0 and the time are written.
void write_metrics(const std::filesystem::path& path, const std::string& store_url,
                   const StatusReport* s, TimePoint now) {
    metrics::Gauges g(store_url);
    g.gauge("dolibak_up", "1 when the store could be read, 0 when it could not.", s ? 1 : 0);
    g.gauge("dolibak_status_time_seconds", "When this status was computed (Unix time).",
            epoch(now));
    if (!s) {
        write_file(path, g.text());
        return;
    }
    g.describe("dolibak_half_last_success_timestamp_seconds",
               "Time stamp of the newest run in which the half succeeded (Unix time); 0: none "
               "found.");
    for (const auto& h : s->halves)
        g.sample("dolibak_half_last_success_timestamp_seconds",
                 h.last_success ? epoch(*h.last_success) : 0.0, g.half(h.half));
    g.describe("dolibak_half_stale",
               "1 when the half has no success within max-age (each configured half).");
    for (const auto& h : s->halves) g.sample("dolibak_half_stale", h.stale ? 1 : 0, g.half(h.half));
    if (s->last_verification) {
        g.gauge("dolibak_last_verification_timestamp_seconds",
                "When the newest verification was recorded (Unix time).",
                epoch(s->last_verification->at));
        g.gauge("dolibak_last_verification_success",
                "1 when the newest verification found no problem.",
                s->last_verification->ok ? 1 : 0);
    }
    g.gauge("dolibak_last_success_timestamp_seconds",
            "Time stamp of the newest successful run (Unix time); 0 when there is none.",
            s->last_success ? epoch(s->last_success->time) : 0.0);
    g.gauge("dolibak_stale", "1 when the last success is missing or older than max-age.",
            s->stale ? 1 : 0);
    if (s->last_run && s->last_run->loaded) {
        const auto& m = s->last_run->manifest;
        g.gauge("dolibak_last_run_timestamp_seconds", "Time stamp of the newest run (Unix time).",
                epoch(s->last_run->time));
        g.gauge("dolibak_last_run_success", "1 when every half of the newest run succeeded.",
                m.succeeded() ? 1 : 0);
        g.gauge("dolibak_last_run_duration_seconds", "Duration of the newest run.",
                m.finished_at > m.started_at ? epoch(m.finished_at) - epoch(m.started_at) : 0.0);
        using Status = catalog::ManifestHalf::Status;
        g.describe("dolibak_half_bytes",
                   "Size of the object holding each half in the newest run (new or unchanged).");
        for (const auto& [half, h] : m.halves)
            g.sample("dolibak_half_bytes", h.bytes, g.half(half));
        g.describe("dolibak_half_uploaded",
                   "1 when the newest run uploaded the half, 0 when unchanged, skipped or failed.");
        for (const auto& [half, h] : m.halves)
            g.sample("dolibak_half_uploaded", h.status == Status::uploaded ? 1 : 0, g.half(half));
        g.describe("dolibak_half_failed", "1 when the half failed in the newest run.");
        for (const auto& [half, h] : m.halves)
            g.sample("dolibak_half_failed", h.status == Status::failed ? 1 : 0, g.half(half));
    }
    write_file(path, g.text());
}

}  // namespace

StatusReport Job::status(std::chrono::seconds max_age,
                         const std::optional<std::filesystem::path>& metrics_file) {
    auto& im = *impl_;
    if (max_age.count() <= 0) throw ConfigError("--max-age must be positive");
    const TimePoint now = im.now();
    catalog::Listing listing;
    try {
        listing = im.catalog->scan(catalog::Catalog::Load::none);
    } catch (const Cancelled&) {
        throw;
    } catch (const Error&) {
        // The store cannot be read: say so to the monitoring, then fail as before.
        if (metrics_file) write_metrics(*metrics_file, im.store().url(), nullptr, now);
        throw;
    }
    StatusReport s;
    // The halves whose freshness counts: those configured, else those of the newest run.
    std::vector<std::string> wanted;
    if (im.config.db) wanted.emplace_back("db");
    if (im.config.docs) wanted.emplace_back("docs");
    const bool from_newest_run = wanted.empty();
    std::map<std::string, RunEntry> half_success;
    auto done_at = [](const RunEntry& run) {
        return run.manifest.finished_at.time_since_epoch().count() > 0 ? run.manifest.finished_at
                                                                       : run.time;
    };
    auto all_found = [&] {
        return std::all_of(wanted.begin(), wanted.end(),
                           [&](const std::string& h) { return half_success.count(h) > 0; });
    };
    // Newest first: usually one or two manifests are read. A run stamped in the future (a
    // machine with a wrong clock) would otherwise stand as fresh forever. Once the runs are
    // older than max_age, a half not yet found is stale whatever older runs hold: stop there.
    for (auto it = listing.runs.rbegin(); it != listing.runs.rend(); ++it) {
        if (catalog::is_future(it->time, now)) {
            s.future_runs.push_back(it->time);
            continue;
        }
        if (s.last_success && all_found()) break;
        if (s.last_success && now - it->time > max_age) break;
        RunEntry run = *it;
        try {
            run.manifest = im.catalog->load_manifest(run.manifest_key);
            run.loaded = true;
        } catch (const Error& e) {
            im.warn("", std::string("unreadable manifest skipped: ") + e.what());
            continue;
        }
        if (!s.last_run) {
            s.last_run = run;
            if (from_newest_run)
                for (const auto& [half, h] : run.manifest.halves) wanted.push_back(half);
        }
        for (const auto& [half, h] : run.manifest.halves)
            if ((h.status == catalog::ManifestHalf::Status::uploaded ||
                 h.status == catalog::ManifestHalf::Status::unchanged) &&
                !half_success.count(half))
                half_success.emplace(half, run);
        if (!s.last_success && run.manifest.succeeded()) s.last_success = run;
    }
    std::reverse(s.future_runs.begin(), s.future_runs.end());
    if (s.last_success) {
        s.age_seconds = static_cast<double>((now - done_at(*s.last_success)).count());
        s.stale = *s.age_seconds > static_cast<double>(max_age.count());
        if (s.stale)
            s.reason = fmt::format("the last success ({}) is older than {} s",
                                   format_timestamp(s.last_success->time), max_age.count());
    } else {
        s.reason = "no successful run";
    }
    for (const auto& name : wanted) {
        HalfStatus h;
        h.half = name;
        if (const auto found = half_success.find(name); found != half_success.end()) {
            h.last_success = found->second.time;
            h.age_seconds = static_cast<double>((now - done_at(found->second)).count());
            h.stale = *h.age_seconds > static_cast<double>(max_age.count());
            if (h.stale)
                h.reason = fmt::format("its last success ({}) is older than {} s",
                                       format_timestamp(found->second.time), max_age.count());
        } else {
            h.reason = fmt::format("no run within {} s stored it successfully", max_age.count());
        }
        if (h.stale && !s.stale) {
            s.stale = true;
            s.reason = name + ": " + h.reason;
        }
        s.halves.push_back(std::move(h));
    }
    // The newest verification record, by when it was stored (its outcome is in its name).
    for (const auto& v : listing.verifications) {
        const auto k = catalog::parse_store_key(v.key);
        if (!k || k->kind == catalog::ObjectKind::verification) continue;
        const TimePoint at = std::chrono::floor<std::chrono::seconds>(v.modified);
        if (s.last_verification && s.last_verification->at >= at) continue;
        VerificationStatus vs;
        vs.run = k->time;
        vs.at = at;
        vs.ok = k->kind == catalog::ObjectKind::verified_ok;
        vs.age_seconds = static_cast<double>((now - at).count());
        s.last_verification = vs;
    }
    if (!s.future_runs.empty()) {
        s.stale = true;
        s.reason = fmt::format(
            "{} stamped in the future (the newest {}, now {}): a wrong clock; they are "
            "not counted",
            count_noun(s.future_runs.size(), "run"), format_timestamp(s.future_runs.back()),
            format_timestamp(now));
        im.warn("", s.reason);
    }
    if (metrics_file) write_metrics(*metrics_file, im.store().url(), &s, now);
    return s;
}

}  // namespace dolibak::job
