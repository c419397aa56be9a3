#pragma once
// Reading blobs back (layer-private): one zstd frame of a pack, decompressed and checked
// against its SHA-256.
#include <dolibak/packs/index.hpp>
#include <dolibak/packs/relocation.hpp>
#include <dolibak/store/store.hpp>

#include <string>
#include <string_view>

namespace dolibak::packs::detail {

/// Decompresses one blob's frame and checks its size and SHA-256; FormatError names the blob
/// and its pack when it does not match.
std::string decode_blob(std::string_view frame, const BlobRef& ref);
/// Reads one blob from its pack (a ranged get) and decodes it. A pack that is missing is
/// looked for through `moved` (its move record: the pack was repacked).
std::string read_blob(store::Store& store, const BlobRef& ref, Relocations* moved = nullptr);

}  // namespace dolibak::packs::detail
