// A backup run's Prometheus textfile metrics: whether the run succeeded, each half's outcome,
// and what the prune after it did, so that an alert sees a schedule that stops pruning.
#include "job/metrics_text.hpp"

#include <dolibak/job/report.hpp>

#include <fmt/core.h>

namespace dolibak::job {

std::string to_prometheus(const BackupReport& r, std::string_view store_url) {
    metrics::Gauges g(store_url);
    g.gauge("dolibak_backup_run_timestamp_seconds", "Time stamp of this backup run (Unix time).",
            metrics::epoch(r.time));
    g.gauge("dolibak_backup_run_success", "1 when no half of the run failed.", r.ok() ? 1 : 0);
    g.gauge("dolibak_backup_run_duration_seconds", "Duration of the run, its prune included.",
            r.seconds);
    g.describe("dolibak_backup_half_outcome",
               "1 for each half's outcome in this run (uploaded, unchanged, skipped, failed).");
    for (const auto& h : r.halves)
        g.sample("dolibak_backup_half_outcome", 1,
                 g.half(h.half) + ",outcome=\"" + std::string(to_string(h.outcome)) + "\"");
    g.gauge("dolibak_backup_prune_requested",
            "1 when a prune was asked for after the run (prune_after_backup or --prune).",
            r.prune_requested ? 1 : 0);
    const bool pruned = r.prune.has_value() && r.prune_error.empty() && r.prune->failures.empty();
    g.gauge("dolibak_backup_prune_success",
            "1 when the prune after the run ran and removed everything it meant to; 0 when it "
            "was asked for and did not run (a failed run), failed, or left objects behind.",
            pruned ? 1 : 0);
    if (r.prune) {
        g.gauge("dolibak_backup_prune_deleted_objects",
                "Objects (backups, manifests, records) the prune after the run removed.",
                r.prune->deleted.size());
        g.gauge("dolibak_backup_prune_failed_objects",
                "Objects the prune after the run could not remove.", r.prune->failures.size());
        g.gauge("dolibak_backup_prune_kept_backups",
                "Backups (one per run and half) the retention policy keeps.", r.prune->plan.kept());
    }
    return g.text();
}

}  // namespace dolibak::job
