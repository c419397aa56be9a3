// Job::prune: the retention plan applied to the store, over runs (catalog/prune_plan.hpp): an
// object stays while any kept run names it; the newest run is always kept; manifests and
// verification records of the runs that go are deleted before the objects, so that an
// interruption never leaves a listed run without its objects.
#include "job/job_impl.hpp"

#include <dolibak/catalog/prune_plan.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/text.hpp>
#include <dolibak/packs/gc.hpp>
#include <dolibak/packs/repack.hpp>

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
    // A store that holds packs-mode runs (or packs, once their last index went) collects
    // the packs no remaining index references, after the runs' objects are deleted.
    bool has_packs = false;
    std::string encrypted_index;
    for (const auto& b : listing.backups)
        if (auto k = catalog::parse_store_key(b.key);
            k && k->kind == catalog::ObjectKind::docs_index) {
            has_packs = true;
            if (k->encrypted && encrypted_index.empty()) encrypted_index = b.key;
        }
    for (const auto& o : listing.other)
        if (o.key.rfind("packs/", 0) == 0) has_packs = true;
    // Which packs are still in use is in the indexes: encrypted ones need the identity. Refused
    // before anything is deleted (the collection would refuse anyway, after the runs went); a
    // dry run says so and still shows the plan.
    const bool blind = has_packs && !encrypted_index.empty() && !im.has_identities();
    if (dry_run) {
        if (blind) {
            report.packs_error = encrypted_index +
                                 " is encrypted, and previewing the collection of packs reads "
                                 "every index: give an age identity (age_identity_file)";
            im.warn("docs", "packs: not previewed: " + report.packs_error);
        } else if (has_packs) {
            preview_packs(report);
        }
        return report;
    }
    if (blind)
        throw ConfigError("prune: " + encrypted_index +
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

namespace {

/// The options of a collection: encrypted indexes are read with the identity; an encrypted
/// pack is repacked into one encrypted to the configured recipients, as a backup writes its
/// packs.
packs::GcOptions gc_options(Job::Impl& im, const std::string& what) {
    packs::GcOptions options;
    if (im.has_identities()) options.identities = &im.identities(what);
    if (im.config.encryption.enabled()) options.encrypt_to = im.recipients();
    return options;
}

std::vector<CollectedPack> with_sizes(const std::vector<std::string>& keys,
                                      const packs::GcPlan& plan) {
    std::vector<CollectedPack> out;
    for (const auto& k : keys) {
        const auto it = plan.sizes.find(k);
        out.push_back({k, it != plan.sizes.end() ? it->second.size : 0,
                       it != plan.sizes.end() ? it->second.live : 0});
    }
    return out;
}

// "packs: 2 deleted (3.9 MiB); 1 repacked (...)": the collection's info event.
std::string summary(const PacksCollection& c, bool dry_run) {
    std::string s = fmt::format("packs: {}{} ({} bytes)", dry_run ? "would delete " : "",
                                count_noun(c.deleted.size(), "pack"), c.deleted_bytes());
    if (!dry_run) s += " deleted";
    if (!c.repacked.empty())
        s += fmt::format("; {}{} mostly garbage ({} bytes, {} live){}",
                         dry_run ? "would repack " : "", count_noun(c.repacked.size(), "pack"),
                         c.repacked_bytes(), c.repacked_live_bytes(),
                         dry_run ? std::string()
                                 : fmt::format(" repacked into {} ({} bytes written)",
                                               c.written.size(), c.bytes_written));
    if (!c.records_deleted.empty())
        s += fmt::format("; {}{}{}", dry_run ? "would delete " : "",
                         count_noun(c.records_deleted.size(), "move record"),
                         dry_run ? "" : " deleted");
    return s + fmt::format("; {} bytes kept, referenced by {}{}", c.kept_bytes,
                           count_noun(c.indexes, "index", "indexes"),
                           dry_run ? " (dry run: nothing deleted)" : "");
}

}  // namespace

std::uint64_t PacksCollection::deleted_bytes() const noexcept {
    std::uint64_t n = 0;
    for (const auto& p : deleted) n += p.bytes;
    return n;
}

std::uint64_t PacksCollection::repacked_bytes() const noexcept {
    std::uint64_t n = 0;
    for (const auto& p : repacked) n += p.bytes;
    return n;
}

std::uint64_t PacksCollection::repacked_live_bytes() const noexcept {
    std::uint64_t n = 0;
    for (const auto& p : repacked) n += p.live;
    return n;
}

void Job::Impl::collect_packs(PruneReport& report) {
    auto& im = *this;
    im.check_cancel("collecting unreferenced packs");
    const auto gc =
        packs::collect_garbage(im.store(), gc_options(im, "collecting unreferenced packs"));
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
    PacksCollection c;
    c.indexes = gc.indexes;
    c.deleted = with_sizes(gc.removed, gc.plan);
    c.repacked = with_sizes(rp.moved, gc.plan);
    c.records_deleted = gc.records_removed;
    c.written = rp.written;
    c.bytes_written = rp.bytes_written;
    c.kept_bytes = gc.plan.bytes_kept - c.repacked_bytes();
    c.problems = rp.problems;
    im.info("docs", summary(c, false));
    report.packs = std::move(c);
}

void Job::Impl::preview_packs(PruneReport& report) {
    auto& im = *this;
    im.check_cancel("previewing the collection of packs");
    auto options = gc_options(im, "previewing the collection of packs");
    options.dry_run = true;
    // The plan as it would be once the runs the prune drops are gone: their indexes (still in
    // the store) are not read.
    options.deleted.insert(report.to_delete.begin(), report.to_delete.end());
    packs::GcResult gc;
    try {
        gc = packs::collect_garbage(im.store(), options);
    } catch (const Cancelled&) {
        throw;
    } catch (const Error& e) {
        // What would stop the real collection (nothing deleted then): said, not thrown, so
        // that the plan of the runs is still shown.
        report.packs_error = e.what();
        im.warn("docs", "packs: not previewed: " + report.packs_error);
        return;
    }
    PacksCollection c;
    c.indexes = gc.indexes;
    c.deleted = with_sizes(gc.plan.remove, gc.plan);
    // The repack leaves an encrypted pack alone without the identity and the recipients: the
    // one problem the configuration predicts (the others need the packs read).
    std::vector<std::string> repack;
    for (const auto& k : gc.plan.repack)
        if (const auto why =
                packs::repack_refusal(k, options.identities, options.encrypt_to.has_value());
            !why.empty())
            c.problems.push_back(k + ": " + why + ": would not be repacked");
        else
            repack.push_back(k);
    c.repacked = with_sizes(repack, gc.plan);
    c.records_deleted = gc.plan.records_remove;
    c.kept_bytes = gc.plan.bytes_kept - c.repacked_bytes();
    for (const auto& p : c.problems) im.warn("docs", "packs: " + p);
    im.info("docs", summary(c, true));
    report.packs = std::move(c);
}

}  // namespace dolibak::job
