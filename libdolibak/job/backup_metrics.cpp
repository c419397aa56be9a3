// A backup run's Prometheus textfile metrics: whether the run succeeded, each half's outcome,
// and what the prune after it did, so that an alert sees a schedule that stops pruning.
#include "job/metrics_text.hpp"

#include <dolibak/job/report.hpp>

#include <fmt/core.h>

namespace dolibak::job {

std::string to_prometheus(const BackupReport& r, std::string_view store_url) {
    using metrics::describe;
    const std::string store = "store=\"" + metrics::label_value(store_url) + "\"";
    std::string out;
    describe(out, "dolibak_backup_run_timestamp_seconds", "gauge",
             "Time stamp of this backup run (Unix time).");
    out += fmt::format("dolibak_backup_run_timestamp_seconds{{{}}} {:.0f}\n", store,
                       metrics::epoch(r.time));
    describe(out, "dolibak_backup_run_success", "gauge", "1 when no half of the run failed.");
    out += fmt::format("dolibak_backup_run_success{{{}}} {}\n", store, r.ok() ? 1 : 0);
    describe(out, "dolibak_backup_run_duration_seconds", "gauge",
             "Duration of the run, its prune included.");
    out += fmt::format("dolibak_backup_run_duration_seconds{{{}}} {:.0f}\n", store, r.seconds);
    describe(out, "dolibak_backup_half_outcome", "gauge",
             "1 for each half's outcome in this run (uploaded, unchanged, skipped, failed).");
    for (const auto& h : r.halves)
        out += fmt::format("dolibak_backup_half_outcome{{{},half=\"{}\",outcome=\"{}\"}} 1\n",
                           store, metrics::label_value(h.half), to_string(h.outcome));
    describe(out, "dolibak_backup_prune_requested", "gauge",
             "1 when a prune was asked for after the run (prune_after_backup or --prune).");
    out +=
        fmt::format("dolibak_backup_prune_requested{{{}}} {}\n", store, r.prune_requested ? 1 : 0);
    describe(out, "dolibak_backup_prune_success", "gauge",
             "1 when the prune after the run ran and removed everything it meant to; 0 when it "
             "was asked for and did not run (a failed run), failed, or left objects behind.");
    const bool pruned = r.prune.has_value() && r.prune_error.empty() && r.prune->failures.empty();
    out += fmt::format("dolibak_backup_prune_success{{{}}} {}\n", store, pruned ? 1 : 0);
    if (r.prune) {
        describe(out, "dolibak_backup_prune_deleted_objects", "gauge",
                 "Objects (backups, manifests, records) the prune after the run removed.");
        out += fmt::format("dolibak_backup_prune_deleted_objects{{{}}} {}\n", store,
                           r.prune->deleted.size());
        describe(out, "dolibak_backup_prune_failed_objects", "gauge",
                 "Objects the prune after the run could not remove.");
        out += fmt::format("dolibak_backup_prune_failed_objects{{{}}} {}\n", store,
                           r.prune->failures.size());
        describe(out, "dolibak_backup_prune_kept_backups", "gauge",
                 "Backups (one per run and half) the retention policy keeps.");
        out += fmt::format("dolibak_backup_prune_kept_backups{{{}}} {}\n", store,
                           r.prune->plan.kept());
    }
    return out;
}

}  // namespace dolibak::job
