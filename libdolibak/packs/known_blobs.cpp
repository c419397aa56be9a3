#include "packs/known_blobs.hpp"

#include <dolibak/core/error.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

namespace dolibak::packs::detail {

Digest digest_of(std::string_view sha) {
    if (sha.size() != 32) throw FormatError("packs: a SHA-256 digest is not 32 bytes");
    Digest d;
    std::memcpy(d.data(), sha.data(), d.size());
    return d;
}

std::size_t KnownBlobs::home(const Digest& sha) const noexcept {
    // A SHA-256 is uniform: its first bytes are as good a hash as any.
    std::uint64_t h = 0;
    std::memcpy(&h, sha.data(), sizeof h);
    return static_cast<std::size_t>(h) & (slots_.size() - 1);
}

const BlobLocation* KnownBlobs::find(const Digest& sha) const noexcept {
    if (slots_.empty()) return nullptr;
    for (auto i = home(sha);; i = (i + 1) & (slots_.size() - 1)) {
        const auto s = slots_[i];
        if (s == 0) return nullptr;
        const auto& e = at(s - 1);
        if (e.sha == sha) return &e.where;
    }
}

void KnownBlobs::grow() {
    const std::size_t n = slots_.empty() ? 1024 : slots_.size() * 2;
    std::vector<std::uint32_t> next(n, 0);
    slots_.swap(next);
    for (std::uint32_t k = 0; k < size_; ++k) {
        auto i = home(at(k).sha);
        while (slots_[i] != 0) i = (i + 1) & (n - 1);
        slots_[i] = k + 1;
    }
}

bool KnownBlobs::insert(const Digest& sha, BlobLocation where) {
    if (find(sha)) return false;
    if (size_ >= std::numeric_limits<std::uint32_t>::max() - 1)
        throw ConfigError("packs: more than 4 billion distinct blobs in one run");
    if ((size_ + 1) * 2 > slots_.size()) grow();
    if (size_ % chunk_entries == 0) chunks_.push_back(std::make_unique<Entry[]>(chunk_entries));
    const auto k = static_cast<std::uint32_t>(size_);
    at(k) = Entry{sha, where};
    ++size_;
    auto i = home(sha);
    while (slots_[i] != 0) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = k + 1;
    return true;
}

void KnownBlobs::clear() noexcept {
    chunks_.clear();
    slots_.clear();
    slots_.shrink_to_fit();
    size_ = 0;
}

}  // namespace dolibak::packs::detail
