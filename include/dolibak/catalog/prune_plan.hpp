#pragma once
// Retention over runs. The planner (retention.hpp) decides, per half, which runs stand for
// their day, month or year; the catalog turns that into keys to delete so that an object stays
// while any kept run names it. A run whose documents were "unchanged" names an older object:
// that object stays as long as the run does, whoever uploaded it.
#include <dolibak/catalog/catalog.hpp>
#include <dolibak/core/export.hpp>
#include <dolibak/retention/planner.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dolibak::catalog {

struct DOLIBAK_API PrunePlan {
    /// The planner's decisions, one per run and half, keyed "<manifest key>#<half>"
    /// ("manifests/20261123T020000Z.json#db"); an object no manifest names (an old script's)
    /// is a run of its own, keyed by the object's key.
    retention::Plan plan;
    /// For each decision's key, the object it names (empty for a half that failed).
    std::map<std::string, std::string> objects;
    /// Manifests and verification records of the runs that go: deleted first, so that an
    /// interruption never leaves a listed run without its objects.
    std::vector<std::string> drop_runs;
    /// Objects no kept run names: deleted after the runs.
    std::vector<std::string> drop_objects;
    /// Manifests that could not be read, kept with the objects of their time stamp (only
    /// with `force`; without it they refuse the plan).
    std::vector<std::string> unreadable;
};

/// A run's verification state, for the planner, is its objects' latest verifications: failed
/// when one failed (a run whose verification failed does not stand for its day, month or year
/// while another run of the bucket did not fail), good when all passed, else unknown.
///
/// Plans a prune over `listing`, which must have every manifest loaded (Catalog::Load::all)
/// and the verification records read. The newest run is always kept. Throws Error naming an
/// unreadable manifest unless `force`.
///
/// Objects no manifest names are the old scripts' backups (each its own run, planned like any
/// other) when they are older than `since` (the store's marker) and than the first manifest;
/// later ones were left by a run that was killed before its manifest, and are dropped, unless
/// a stored fingerprint names them (`in_use`: the next unchanged run will name them).
DOLIBAK_API PrunePlan plan_prune(const Listing& listing, TimePoint now,
                                 const retention::Policy& policy, bool force,
                                 const std::set<std::string>& in_use = {},
                                 std::optional<TimePoint> since = std::nullopt);

}  // namespace dolibak::catalog
