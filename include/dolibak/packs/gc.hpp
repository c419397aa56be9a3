#pragma once
// Garbage collection of packs (docs/packs.md): after retention removed runs (their manifests
// and then their indexes), a pack no remaining index references is deleted. The planner is
// pure; the executor reads every index in the store before deleting anything, and refuses
// to delete when one cannot be read.
#include <dolibak/core/export.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/store/store.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dolibak::packs {

struct DOLIBAK_API GcPlan {
    std::vector<std::string> remove;  ///< packs no index references
    /// Packs still referenced whose live frames hold less than `repack_below` of their bytes:
    /// candidates for repacking (not done yet: see docs/packs.md).
    std::vector<std::string> repack;
    std::uint64_t bytes_removed = 0;
    std::uint64_t bytes_kept = 0;
    std::uint64_t garbage_in_repack = 0;  ///< dead bytes inside the repack candidates
};

/// `packs`: the pack objects in the store; `live`: pack key -> bytes of its frames that some
/// index references (each distinct frame counted once). A referenced pack that is not in
/// `packs` is not this planner's business (verify reports it).
DOLIBAK_API GcPlan plan_gc(const std::vector<store::ObjectInfo>& packs,
                           const std::map<std::string, std::uint64_t>& live,
                           double repack_below = 0.5);

/// The live bytes of every pack referenced by the indexes under `docs/` (every
/// `docs/<ts>.index.zst` and, decrypted with `identities`, every `docs/<ts>.index.zst.age`).
/// Throws when an index cannot be read (an encrypted one without identities, or with none
/// that opens it, included): nothing may be deleted then.
DOLIBAK_API std::map<std::string, std::uint64_t> live_pack_bytes(
    store::Store& store, const io::AgeIdentities* identities = nullptr);

struct DOLIBAK_API GcResult {
    GcPlan plan;
    std::uint64_t indexes = 0;  ///< indexes read
    std::vector<std::string> removed;
    std::vector<store::RemoveFailure> failures;
};

/// Plans from the store as it is and, unless dry_run, deletes the unreferenced packs. Run it
/// under the store's lock, after the prune removed the indexes of the runs that go.
DOLIBAK_API GcResult collect_garbage(store::Store& store, bool dry_run = false,
                                     const io::AgeIdentities* identities = nullptr);

}  // namespace dolibak::packs
