// Job::prune: the retention plan applied to the store, over runs (catalog/prune_plan.hpp): an
// object stays while any kept run names it; the newest run is always kept; manifests and
// verification records of the runs that go are deleted before the objects, so that an
// interruption never leaves a listed run without its objects.
#include "job/job_impl.hpp"

#include <dolibak/catalog/prune_plan.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/text.hpp>
#include <dolibak/packs/gc.hpp>

#include <fmt/format.h>

#include <set>

namespace dolibak::job {

PruneReport Job::Impl::prune(bool dry_run, bool force) {
    auto& im = *this;
    std::unique_ptr<catalog::Lease> lease;
    if (!dry_run) lease = im.lock();
    const auto listing = im.catalog->scan(catalog::Catalog::Load::all, true);
    im.check_cancel("pruning");
    const TimePoint now = im.now();
    for (auto it = listing.runs.rbegin(); it != listing.runs.rend(); ++it) {
        // A run stamped in the future (a wrong clock) is not the last run: it would block
        // prune until the clock reaches it.
        if (!it->loaded || catalog::is_future(it->time, now)) continue;
        if (!it->manifest.succeeded() && !force)
            throw Error("the last run (" + format_timestamp(it->time) +
                        ") failed: prune refused until a run succeeds (or force it)");
        break;
    }
    // The objects the stored fingerprints name: the next unchanged run names them.
    std::set<std::string> in_use;
    for (const char* half : {"db", "docs"})
        if (auto fp = im.catalog->fingerprint(half)) in_use.insert(fp->object);
    const auto pp = catalog::plan_prune(listing, now, im.config.retention, force, in_use,
                                        im.catalog->marked_since());
    for (const auto& k : pp.unreadable)
        im.warn("", "the manifest " + k +
                        " cannot be read: kept, with the objects of its time stamp (--force)");

    PruneReport report;
    report.dry_run = dry_run;
    report.plan = pp.plan;
    report.objects = pp.objects;
    report.to_delete = pp.drop_runs;
    report.to_delete.insert(report.to_delete.end(), pp.drop_objects.begin(), pp.drop_objects.end());
    im.info("", std::to_string(report.plan.kept()) + " run halves kept, " +
                    std::to_string(report.plan.dropped()) + " dropped; " +
                    count_noun(report.to_delete.size(), "object") + " to delete" +
                    (dry_run ? " (dry run: nothing deleted)" : ""));
    if (dry_run) return report;
    // A store that holds packs-mode runs (or packs, once their last index went) collects
    // the packs no remaining index references, after the runs' objects are deleted.
    bool has_packs = false;
    for (const auto& b : listing.backups)
        if (auto k = catalog::parse_store_key(b.key);
            k && k->kind == catalog::ObjectKind::docs_index)
            has_packs = true;
    for (const auto& o : listing.other)
        if (o.key.rfind("packs/", 0) == 0) has_packs = true;
    // Which packs are still in use is in the indexes: encrypted ones need the identity. Refused
    // before anything is deleted (the collection would refuse anyway, after the runs went).
    if (has_packs && !im.has_identities())
        for (const auto& b : listing.backups)
            if (auto k = catalog::parse_store_key(b.key);
                k && k->kind == catalog::ObjectKind::docs_index && k->encrypted)
                throw ConfigError("prune: " + b.key +
                                  " is encrypted, and collecting the packs no run uses reads "
                                  "every index: give an age identity (age_identity_file); "
                                  "nothing was deleted");
    if (report.to_delete.empty()) {
        if (has_packs) collect_packs(report);
        return report;
    }
    im.check_cancel("pruning");
    std::set<std::string> failed;
    auto remove = [&](const std::vector<std::string>& keys) {
        if (keys.empty()) return;
        for (auto& f : im.store().remove_many(keys)) {
            failed.insert(f.key);
            im.warn("", "could not delete " + f.key + ": " + f.message);
            report.failures.push_back(std::move(f));
        }
        for (const auto& k : keys)
            if (!failed.count(k)) report.deleted.push_back(k);
    };
    remove(pp.drop_runs);
    // An object named by a manifest that could not be deleted stays with it.
    std::set<std::string> still_named;
    for (const auto& run : listing.runs)
        if (run.loaded && failed.count(run.manifest_key))
            for (const auto& k : run.manifest.keys()) still_named.insert(k);
    std::vector<std::string> objects;
    for (const auto& k : pp.drop_objects)
        if (!still_named.count(k)) objects.push_back(k);
    im.check_cancel("pruning");
    remove(objects);
    if (has_packs) collect_packs(report);  // safe whatever failed: it reads what is there
    return report;
}

void Job::Impl::collect_packs(PruneReport& report) {
    auto& im = *this;
    im.check_cancel("collecting unreferenced packs");
    packs::GcOptions options;
    // Encrypted indexes are read with the identity; an encrypted pack is repacked into one
    // encrypted to the configured recipients, as a backup writes its packs.
    if (im.has_identities()) options.identities = &im.identities("collecting unreferenced packs");
    if (im.config.encryption.enabled()) options.encrypt_to = im.recipients();
    const auto gc = packs::collect_garbage(im.store(), options);
    const auto& rp = gc.repacked;
    for (const auto* keys : {&gc.removed, &rp.removed, &gc.records_removed})
        report.deleted.insert(report.deleted.end(), keys->begin(), keys->end());
    for (const auto* failures : {&gc.failures, &rp.failures})
        for (const auto& f : *failures) {
            im.warn("", "could not delete " + f.key + ": " + f.message);
            report.failures.push_back(f);
        }
    // A pack left unrepacked costs space only: a warning (the next prune tries again).
    for (const auto& p : rp.problems) im.warn("docs", "packs: " + p);
    im.info("docs",
            fmt::format("packs: {} deleted ({} bytes); {} bytes kept, referenced by {}{}",
                        gc.removed.size(), gc.plan.bytes_removed, gc.plan.bytes_kept,
                        count_noun(gc.indexes, "index"),
                        rp.records.empty()
                            ? std::string()
                            : fmt::format("; {} mostly garbage repacked into {} ({} "
                                          "bytes read, {} written)",
                                          count_noun(rp.records.size(), "pack"), rp.written.size(),
                                          rp.bytes_read, rp.bytes_written)));
}

}  // namespace dolibak::job
