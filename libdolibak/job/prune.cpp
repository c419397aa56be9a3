// Job::prune: the retention plan applied to the store. The newest backup of each half and
// every object the newest manifest names are never deleted; manifests and verification records
// go with their run.
#include "job/job_impl.hpp"

#include <dolibak/error.hpp>

#include <set>

namespace dolibak::job {

PruneReport Job::prune(bool dry_run, bool force) {
    auto& im = *impl_;
    std::optional<detail::Lease> lease;
    if (!dry_run)
        lease.emplace(*im.store, im.config.lock_ttl, im.now(),
                      [&im](const Event& e) { im.emit(e); });
    const auto listing = im.scan(Impl::ManifestLoad::newest);
    std::set<std::string> protected_keys;
    if (!listing.runs.empty()) {
        const auto& newest = listing.runs.back();
        if (!newest.loaded)
            throw Error("the newest manifest " + newest.manifest_key +
                        " cannot be read: prune refused (the objects it names are unknown)");
        if (!newest.manifest.succeeded() && !force)
            throw Error("the last run (" + format_timestamp(newest.time) +
                        ") failed: prune refused until a run succeeds (or force it)");
        for (const auto& k : newest.manifest.keys()) protected_keys.insert(k);
    }
    std::vector<retention::Backup> backups;
    for (const auto& b : listing.backups) backups.push_back({b.key, b.time, b.half, true});

    PruneReport report;
    report.dry_run = dry_run;
    report.plan = retention::plan(backups, im.now(), im.config.retention, protected_keys);
    auto drop = report.plan.drop_keys();

    // A run's manifest goes when none of the objects of its time stamp is kept; the newest
    // manifest always stays.
    std::set<TimePoint> kept_times;
    for (const auto& d : report.plan.decisions)
        if (d.keep) kept_times.insert(d.backup.time);
    for (std::size_t i = 0; i + 1 < listing.runs.size(); ++i)
        if (!kept_times.count(listing.runs[i].time)) drop.push_back(listing.runs[i].manifest_key);
    // A verification record goes with its run, by the same rule.
    const std::optional<TimePoint> newest_run =
        listing.runs.empty() ? std::nullopt : std::optional(listing.runs.back().time);
    for (const auto& v : listing.verifications) {
        const auto t = parse_store_key(v.key)->time;
        if (!kept_times.count(t) && t != newest_run) drop.push_back(v.key);
    }

    report.to_delete = drop;
    im.info("", std::to_string(report.plan.kept()) + " backups kept, " +
                    std::to_string(report.plan.dropped()) + " dropped" +
                    (dry_run ? " (dry run: nothing deleted)" : ""));
    if (!dry_run && !drop.empty()) {
        im.check_cancel("pruning");
        report.failures = im.store->remove_many(drop);
        std::set<std::string> failed;
        for (const auto& f : report.failures) failed.insert(f.key);
        for (const auto& k : drop)
            if (!failed.count(k)) report.deleted.push_back(k);
        for (const auto& f : report.failures)
            im.warn("", "could not delete " + f.key + ": " + f.message);
    }
    return report;
}

}  // namespace dolibak::job
