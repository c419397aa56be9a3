#pragma once
// Reading blobs back (layer-private): one zstd frame of a pack, decompressed and checked
// against its SHA-256.
#include <dolibak/io/age.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/store/store.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace dolibak::packs::detail {

/// Decompresses one blob's frame and checks its size and SHA-256; FormatError names the blob
/// and its pack when it does not match.
std::string decode_blob(std::string_view frame, const BlobRef& ref);
/// Reads one blob from its pack (a ranged get) and decodes it.
std::string read_blob(store::Store& store, const BlobRef& ref);

/// Reads blobs from plain or encrypted packs. A plain pack: read_blob. An encrypted one
/// (".pack.age"): its age header opened once with the identities (kept for the next blobs of
/// that pack), then only the 64 KiB chunks that hold the blob's frame are fetched and
/// authenticated (io::AgeRandomAccess). ConfigError naming age_identity_file when an encrypted
/// pack is met without identities.
class BlobReader {
public:
    BlobReader(store::Store& store, const io::AgeIdentities* identities)
        : store_(store), identities_(identities) {}
    std::string read(const BlobRef& ref);

private:
    store::Store& store_;
    const io::AgeIdentities* identities_;
    std::map<std::string, std::unique_ptr<io::AgeRandomAccess>> open_;
};

/// The identities, or ConfigError naming age_identity_file: `key` is encrypted.
const io::AgeIdentities& identities_for(const io::AgeIdentities* identities,
                                        const std::string& key);

}  // namespace dolibak::packs::detail
