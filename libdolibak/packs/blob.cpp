#include "packs/blob.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>

#include <fmt/format.h>
#include <zstd.h>

namespace dolibak::packs::detail {

std::string decode_blob(std::string_view frame, const BlobRef& ref) {
    std::string out(ref.size, '\0');
    const auto content = ZSTD_getFrameContentSize(frame.data(), frame.size());
    if (content != ref.size)
        throw FormatError(fmt::format("blob {} in {} at {}: not a zstd frame of {} bytes",
                                      ref.sha256, ref.pack, ref.offset, ref.size));
    const auto n = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
    if (ZSTD_isError(n) || n != ref.size)
        throw FormatError(fmt::format("blob {} in {} at {}: cannot be decompressed ({})",
                                      ref.sha256, ref.pack, ref.offset,
                                      ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size"));
    if (io::to_hex(io::as_bytes(io::sha256_bytes(out))) != ref.sha256)
        throw FormatError(
            fmt::format("blob {} in {} at {}: SHA-256 mismatch", ref.sha256, ref.pack, ref.offset));
    return out;
}

std::string read_blob(store::Store& store, const BlobRef& original, Relocations* moved) {
    BlobRef ref = original;
    std::unique_ptr<io::Source> src;
    try {
        src = store.get(ref.pack, {.offset = ref.offset, .length = ref.length});
    } catch (const store::ObjectNotFound&) {
        if (!moved || moved->follow(ref) == 0) throw;
        src = store.get(ref.pack, {.offset = ref.offset, .length = ref.length});
    }
    const auto frame = io::read_all(*src, ref.length + 1);
    if (frame.size() != ref.length)
        throw FormatError(fmt::format("blob {} in {} at {}: {} bytes read, {} expected", ref.sha256,
                                      ref.pack, ref.offset, frame.size(), ref.length));
    return decode_blob(frame, ref);
}

}  // namespace dolibak::packs::detail
