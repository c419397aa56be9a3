#pragma once
// Reading blobs back (layer-private): one zstd frame of a pack, decompressed and checked
// against its SHA-256.
#include <dolibak/io/age.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/packs/relocation.hpp>
#include <dolibak/store/store.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace dolibak::packs::detail {

/// Decompresses one blob's frame and checks its size and SHA-256; FormatError names the blob
/// and its pack when it does not match.
std::string decode_blob(std::string_view frame, const BlobRef& ref);
/// Reads blobs from plain or encrypted packs. A plain pack: a ranged get of the blob's
/// frame. An encrypted one (".pack.age"): its age header opened once with the identities
/// (kept for the next blobs of that pack), then only the 64 KiB chunks that hold the blob's
/// frame are fetched and authenticated (io::AgeRandomAccess). ConfigError naming
/// age_identity_file when an encrypted pack is met without identities. A pack that is missing
/// is looked for through `moved` (its move record: the pack was repacked).
class BlobReader {
public:
    BlobReader(store::Store& store, const io::AgeIdentities* identities,
               Relocations* moved = nullptr)
        : store_(store), identities_(identities), moved_(moved) {}
    std::string read(const BlobRef& ref);
    /// Reads a pack of at most budget / 2 bytes whole the first time one of its frames is
    /// needed, and serves its next frames from memory; at most `budget` bytes are kept (the
    /// oldest pack dropped first), and a pack dropped and needed again is read by ranges from
    /// then on, so no pack is fetched whole twice. For the trees of pieces: many small frames
    /// from a few packs, one request per pack instead of one per piece (on S3, a directory
    /// each). Off (0) by default: a restore reads each content frame once.
    void keep_whole_packs(std::size_t budget) { budget_ = budget; }
    /// The bytes of the packs kept whole now (at most the budget, also while one is read).
    std::size_t kept_bytes() const noexcept { return kept_bytes_; }

private:
    /// The pack's bytes (its ciphertext if encrypted) when kept whole, or nullptr: read it
    /// by ranges. store::ObjectNotFound when it is missing. `size`: its size when the caller
    /// has already asked the store (else one HEAD asks).
    const std::string* whole(const std::string& pack,
                             std::optional<std::uint64_t> size = std::nullopt);
    /// `length` bytes at `offset` of a pack kept whole; FormatError past its end.
    static std::string slice(const std::string& bytes, const std::string& pack,
                             std::uint64_t offset, std::uint64_t length);

    /// The blob's zstd frame as `ref` places it; store::ObjectNotFound when its pack is missing.
    std::string frame(const BlobRef& ref);
    io::AgeRandomAccess& open(const std::string& pack);

    store::Store& store_;
    const io::AgeIdentities* identities_;
    Relocations* moved_;
    std::map<std::string, std::unique_ptr<io::AgeRandomAccess>> open_;
    std::size_t budget_ = 0;
    std::size_t kept_bytes_ = 0;
    std::map<std::string, std::string> kept_;  // pack -> its bytes
    std::deque<std::string> kept_order_;       // oldest first
    std::set<std::string> dropped_;            // read by ranges from now on
};

/// The identities, or ConfigError naming age_identity_file: `key` is encrypted.
const io::AgeIdentities& identities_for(const io::AgeIdentities* identities,
                                        const std::string& key);

}  // namespace dolibak::packs::detail
