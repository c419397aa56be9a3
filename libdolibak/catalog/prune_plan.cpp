// Retention over runs (see prune_plan.hpp).
#include <dolibak/catalog/keys.hpp>
#include <dolibak/catalog/prune_plan.hpp>

#include <dolibak/core/error.hpp>

#include <map>
#include <optional>
#include <set>

namespace dolibak::catalog {

PrunePlan plan_prune(const Listing& listing, TimePoint now, const retention::Policy& policy,
                     bool force, const std::set<std::string>& in_use,
                     std::optional<TimePoint> since) {
    PrunePlan out;
    // The newest verification of each object.
    std::map<std::string, const BackupEntry*> by_key;
    for (const auto& b : listing.backups) by_key[b.key] = &b;

    std::vector<retention::Backup> candidates;
    std::map<std::string, std::size_t> run_of;  // candidate key -> index into listing.runs
    std::set<std::string> named;                // objects some readable manifest names
    std::set<std::string> protected_candidates;
    std::set<TimePoint> unreadable_times;
    const std::size_t newest = listing.runs.size();  // index past the end: none
    std::size_t newest_run = newest;
    for (std::size_t i = 0; i < listing.runs.size(); ++i) {
        const auto& run = listing.runs[i];
        if (!run.loaded) {
            if (!force)
                throw Error("the manifest " + run.manifest_key + " cannot be read (" +
                            (run.error.empty() ? "not loaded" : run.error) +
                            "): prune refused, the objects it names are unknown; prune --force "
                            "goes on past it, keeping it and the objects of its time stamp");
            out.unreadable.push_back(run.manifest_key);
            unreadable_times.insert(run.time);
            continue;
        }
        if (!is_future(run.time, now)) newest_run = i;  // future runs are kept as such
        // The run's verification: failed when an object it names failed its latest
        // verification, good when every one passed, else unknown.
        auto verified = retention::Verification::good;
        for (const auto& key : run.manifest.keys()) {
            const auto it = by_key.find(key);
            if (it == by_key.end() || !it->second->verified) {
                if (verified == retention::Verification::good)
                    verified = retention::Verification::unknown;
            } else if (!it->second->verified->ok) {
                verified = retention::Verification::failed;
            }
        }
        if (run.manifest.keys().empty()) verified = retention::Verification::unknown;
        for (const auto& [half, h] : run.manifest.halves) {
            if (h.status == ManifestHalf::Status::skipped) continue;
            retention::Backup c;
            c.time = run.time;
            c.half = half;
            c.key = run.manifest_key + "#" + half;
            c.ok = !h.key.empty();
            if (c.ok) {
                named.insert(h.key);
                c.verified = verified;
            }
            out.objects[c.key] = h.key;
            run_of[c.key] = i;
            candidates.push_back(std::move(c));
        }
    }
    // The newest readable run stands whatever the policy says (what list shows as latest).
    if (newest_run != newest)
        for (const auto& [key, i] : run_of)
            if (i == newest_run) protected_candidates.insert(key);
    // Objects no readable manifest names: those of an unreadable manifest's time stamp (kept),
    // those a stored fingerprint names (kept), the old scripts' (each its own run), or the
    // leftovers of a killed run (dropped).
    std::optional<TimePoint> first_run = since;
    if (!listing.runs.empty() && (!first_run || listing.runs.front().time < *first_run))
        first_run = listing.runs.front().time;
    std::set<std::string> keep_objects;
    for (const auto& b : listing.backups) {
        if (named.count(b.key)) continue;
        if (unreadable_times.count(b.time) || in_use.count(b.key)) {
            keep_objects.insert(b.key);
            continue;
        }
        if (first_run && b.time >= *first_run) continue;  // a killed run's: not kept
        retention::Backup c;
        c.key = b.key;
        c.time = b.time;
        c.half = b.half;
        out.objects[c.key] = b.key;
        if (b.verified)
            c.verified =
                b.verified->ok ? retention::Verification::good : retention::Verification::failed;
        candidates.push_back(std::move(c));
    }
    out.plan = retention::plan(std::move(candidates), now, policy, protected_candidates);

    std::set<std::size_t> kept_runs;
    if (newest_run != newest) kept_runs.insert(newest_run);
    std::set<TimePoint> kept_times(unreadable_times.begin(), unreadable_times.end());
    for (const auto& d : out.plan.decisions) {
        if (!d.keep) continue;
        const auto b = out.plan.backup(d);
        std::string key(b.key);
        if (auto it = run_of.find(key); it != run_of.end())
            kept_runs.insert(it->second);
        else
            keep_objects.insert(std::move(key));  // an object without a manifest
        kept_times.insert(b.time);
    }
    // A kept run keeps every object it names, whichever run uploaded it.
    for (std::size_t i : kept_runs) {
        kept_times.insert(listing.runs[i].time);
        for (const auto& [half, h] : listing.runs[i].manifest.halves)
            if (!h.key.empty()) keep_objects.insert(h.key);
    }
    for (std::size_t i = 0; i < listing.runs.size(); ++i) {
        const auto& run = listing.runs[i];
        if (run.loaded && !kept_runs.count(i)) out.drop_runs.push_back(run.manifest_key);
    }
    for (const auto& v : listing.verifications) {
        const auto k = parse_store_key(v.key);
        if (k && !kept_times.count(k->time)) out.drop_runs.push_back(v.key);
    }
    for (const auto& b : listing.backups)
        if (!keep_objects.count(b.key)) out.drop_objects.push_back(b.key);
    return out;
}

}  // namespace dolibak::catalog
