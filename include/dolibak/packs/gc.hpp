#pragma once
// Garbage collection of packs (docs/packs.md): after retention removed runs (their manifests
// and then their indexes), a pack no remaining index references is deleted, a pack whose live
// frames hold less than half its bytes is repacked (packs/repack.hpp), and a move record no
// index needs any more is deleted. The planner is pure; the executor reads every index (and
// the move records) in the store before deleting anything, and refuses to delete when one
// cannot be read.
#include <dolibak/core/export.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/packs/repack.hpp>
#include <dolibak/store/store.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace dolibak::packs {

struct DOLIBAK_API GcPlan {
    std::vector<std::string> remove;  ///< packs no index references
    /// Packs still referenced whose live frames hold less than `repack_below` of their bytes.
    std::vector<std::string> repack;
    /// Move records (packs/moved/) no index reference goes through.
    std::vector<std::string> records_remove;
    std::uint64_t bytes_removed = 0;
    std::uint64_t bytes_kept = 0;
    std::uint64_t garbage_in_repack = 0;  ///< dead bytes inside the repack candidates
    /// The size of each pack in `remove` and `repack`, and the bytes of its live frames (0 for
    /// one in `remove`): what a report says of each.
    struct Bytes {
        std::uint64_t size = 0;
        std::uint64_t live = 0;
    };
    std::map<std::string, Bytes> sizes;
};

/// `packs`: a listing of "packs/" (packs and move records); `live`: pack key -> bytes of its
/// frames that some index references (after following the move records; each distinct frame
/// counted once). A referenced pack that is not in `packs` is not this planner's business
/// (verify reports it). `needed_records`, when given: the move records some reference goes
/// through; every other record listed is planned for removal (without it, none is).
DOLIBAK_API GcPlan plan_gc(const std::vector<store::ObjectInfo>& packs,
                           const std::map<std::string, std::uint64_t>& live,
                           double repack_below = 0.5,
                           const std::set<std::string>* needed_records = nullptr);

/// What the indexes of a store reference, every reference followed through the move
/// records (a record wins over its old pack: once it exists, the old pack is garbage).
struct DOLIBAK_API LiveSet {
    LiveFrames frames;              ///< pack -> offset -> length of each live frame
    std::set<std::string> records;  ///< the move records some reference goes through
    std::uint64_t indexes = 0;      ///< indexes read
    std::map<std::string, std::uint64_t> bytes() const;  ///< pack -> live bytes
};

/// Reads every `docs/<ts>.index.zst` and, decrypted with `identities`, every
/// `docs/<ts>.index.zst.age`, except those `left_out` names (as if they were deleted already);
/// the references are followed through the move records `moved` opens. Throws when an index
/// or a move record cannot be read (an encrypted one without identities, or with none that
/// opens it, included): nothing may be deleted then.
DOLIBAK_API LiveSet live_set(store::Store& store, Relocations& moved,
                             const io::AgeIdentities* identities = nullptr,
                             const std::set<std::string>* left_out = nullptr);

/// The live bytes of every pack referenced by the indexes under `docs/` (live_set(...).bytes()).
DOLIBAK_API std::map<std::string, std::uint64_t> live_pack_bytes(
    store::Store& store, const io::AgeIdentities* identities = nullptr);

struct DOLIBAK_API GcOptions {
    bool dry_run = false;
    bool repack = true;                        ///< repack the candidates (else only name them)
    double repack_below = 0.5;                 ///< a pack whose live bytes are below this fraction
    std::size_t pack_size = 16 * 1024 * 1024;  ///< of the packs a repack writes
    /// Opens the encrypted indexes, the encrypted packs a repack reads and their move records
    /// (docs/packs.md, "Encrypted stores"); without it a store with an encrypted index is
    /// not collected (live_set throws).
    const io::AgeIdentities* identities = nullptr;
    /// The recipients a repack encrypts what it writes from encrypted packs to (the new pack
    /// and the move records); without them an encrypted pack is not repacked (a problem).
    std::optional<io::AgeRecipients> encrypt_to;
    /// Keys the plan treats as deleted already: the indexes among them are not read. A dry
    /// run of a prune gives the keys of the runs it would drop, whose indexes are still in the
    /// store, and so plans the collection that would follow their deletion (other keys are
    /// ignored).
    std::set<std::string> deleted;
};

struct DOLIBAK_API GcResult {
    GcPlan plan;
    std::uint64_t indexes = 0;                 ///< indexes read
    std::vector<std::string> removed;          ///< unreferenced packs deleted
    std::uint64_t bytes_removed = 0;           ///< their size
    std::vector<std::string> records_removed;  ///< move records deleted
    RepackResult repacked;
    std::vector<store::RemoveFailure> failures;
};

/// Plans from the store as it is (less `options.deleted`) and, unless dry_run: deletes the
/// unreferenced packs, then repacks the candidates, then deletes the move records no index needs.
/// Run it under the store's lock, after the prune removed the indexes of the runs that go.
DOLIBAK_API GcResult collect_garbage(store::Store& store, const GcOptions& options);
DOLIBAK_API GcResult collect_garbage(store::Store& store, bool dry_run = false,
                                     const io::AgeIdentities* identities = nullptr);

}  // namespace dolibak::packs
