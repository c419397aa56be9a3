#pragma once
// Reading blobs back (layer-private): one zstd frame of a pack, decompressed and checked
// against its SHA-256.
#include <dolibak/io/age.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/packs/relocation.hpp>
#include <dolibak/store/store.hpp>

#include <map>
#include <memory>
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

private:
    /// The blob's zstd frame as `ref` places it; store::ObjectNotFound when its pack is missing.
    std::string frame(const BlobRef& ref);
    io::AgeRandomAccess& open(const std::string& pack);

    store::Store& store_;
    const io::AgeIdentities* identities_;
    Relocations* moved_;
    std::map<std::string, std::unique_ptr<io::AgeRandomAccess>> open_;
};

/// The identities, or ConfigError naming age_identity_file: `key` is encrypted.
const io::AgeIdentities& identities_for(const io::AgeIdentities* identities,
                                        const std::string& key);

}  // namespace dolibak::packs::detail
