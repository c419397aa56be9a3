#pragma once
// The blobs a run can reference instead of storing again (layer-private): SHA-256 -> where
// the blob's frame lives (pack number, offset, length). Compact, for a million files: 44
// bytes per blob in fixed chunks that never move, plus a 4-byte open-addressing slot table
// kept at most half full (about 52 bytes per blob in all, against ~200 for a std::map of
// strings).
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace dolibak::packs::detail {

using Digest = std::array<unsigned char, 32>;

/// `sha` must hold 32 raw bytes.
Digest digest_of(std::string_view sha);

struct BlobLocation {
    std::uint32_t pack = 0;  ///< the writer's pack number (its table of pack keys)
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
};

class KnownBlobs {
public:
    KnownBlobs() = default;
    KnownBlobs(const KnownBlobs&) = delete;
    KnownBlobs& operator=(const KnownBlobs&) = delete;

    /// The location of a known blob, or nullptr. The pointer stays valid until clear().
    const BlobLocation* find(const Digest& sha) const noexcept;
    /// Adds a blob; one already known keeps its first location (returns false).
    bool insert(const Digest& sha, BlobLocation where);
    std::size_t size() const noexcept { return size_; }
    void clear() noexcept;

private:
    struct Entry {
        Digest sha;
        BlobLocation where;
    };
    static constexpr std::size_t chunk_entries = 4096;

    Entry& at(std::uint32_t i) const noexcept {
        return chunks_[i / chunk_entries][i % chunk_entries];
    }
    std::size_t home(const Digest& sha) const noexcept;
    void grow();

    std::vector<std::unique_ptr<Entry[]>> chunks_;
    std::vector<std::uint32_t> slots_;  ///< 0: empty, else entry number + 1
    std::size_t size_ = 0;
};

}  // namespace dolibak::packs::detail
