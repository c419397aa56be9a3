#include "packs/blob.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/packs/index.hpp>

#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>

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

const io::AgeIdentities& identities_for(const io::AgeIdentities* identities,
                                        const std::string& key) {
    if (!identities)
        throw ConfigError(key +
                          " is encrypted: reading it needs an age identity (the setting "
                          "age_identity_file)");
    return *identities;
}

const std::string* BlobReader::whole(const std::string& pack, std::optional<std::uint64_t> size) {
    if (budget_ == 0 || dropped_.count(pack)) return nullptr;
    if (auto it = kept_.find(pack); it != kept_.end()) return &it->second;
    if (!size) {
        const auto info = store_.head(pack);
        if (!info) throw store::ObjectNotFound(store_.url(), pack);
        size = info->size;
    }
    if (*size > budget_ / 2) {
        dropped_.insert(pack);
        return nullptr;
    }
    // Room first, then one buffer of the pack's exact size: the budget bounds the peak too
    // (read into a growing string, a 16 MiB pack briefly took 24 MiB beside the kept ones).
    while (!kept_order_.empty() && kept_bytes_ + *size > budget_) {
        const auto oldest = kept_order_.front();
        kept_order_.pop_front();
        kept_bytes_ -= kept_[oldest].size();
        kept_.erase(oldest);
        dropped_.insert(oldest);
    }
    bool more = false;
    std::string bytes = io::read_sized(*store_.get(pack), static_cast<std::size_t>(*size), &more);
    if (bytes.size() != *size || more)
        throw FormatError(fmt::format("{}: {}{} bytes read, {} listed", pack,
                                      more ? "more than " : "", bytes.size(), *size));
    kept_bytes_ += bytes.size();
    kept_order_.push_back(pack);
    return &kept_.emplace(pack, std::move(bytes)).first->second;
}

std::string BlobReader::slice(const std::string& bytes, const std::string& pack,
                              std::uint64_t offset, std::uint64_t length) {
    if (offset > bytes.size() || length > bytes.size() - offset)
        throw FormatError(fmt::format("{}: {} bytes at {} are past its end ({} bytes)", pack,
                                      length, offset, bytes.size()));
    return bytes.substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(length));
}

io::AgeRandomAccess& BlobReader::open(const std::string& pack) {
    auto it = open_.find(pack);
    if (it != open_.end()) return *it->second;
    const auto& ids = identities_for(identities_, pack);
    const auto info = store_.head(pack);
    if (!info) throw store::ObjectNotFound(store_.url(), pack);
    if (open_.size() >= 64) open_.clear();  // a few hundred bytes each; bounded anyway
    auto access = std::make_unique<io::AgeRandomAccess>(
        [this, key = pack, total = info->size](std::uint64_t offset, std::size_t size) {
            if (offset >= total) return std::string();
            const auto n = std::min<std::uint64_t>(size, total - offset);
            if (const std::string* bytes = whole(key, total)) return slice(*bytes, key, offset, n);
            auto src = store_.get(key, {.offset = offset, .length = n});
            return io::read_all(*src, n + 1);
        },
        info->size, ids);
    return *open_.emplace(pack, std::move(access)).first->second;
}

std::string BlobReader::frame(const BlobRef& ref) {
    if (!is_encrypted_pack(ref.pack)) {
        if (const std::string* bytes = whole(ref.pack))
            return slice(*bytes, ref.pack, ref.offset, ref.length);
        auto src = store_.get(ref.pack, {.offset = ref.offset, .length = ref.length});
        bool more = false;
        auto frame = io::read_sized(*src, static_cast<std::size_t>(ref.length), &more);
        if (frame.size() != ref.length || more)
            throw FormatError(fmt::format("blob {} in {} at {}: {}{} bytes read, {} expected",
                                          ref.sha256, ref.pack, ref.offset,
                                          more ? "more than " : "", frame.size(), ref.length));
        return frame;
    }
    auto& pack = open(ref.pack);
    try {
        return pack.read(ref.offset, ref.length);
    } catch (const io::AgeError& e) {
        throw FormatError(
            fmt::format("blob {} in {} at {}: {}", ref.sha256, ref.pack, ref.offset, e.what()));
    }
}

std::string BlobReader::read(const BlobRef& original) {
    BlobRef ref = original;
    std::string bytes;
    try {
        bytes = frame(ref);
    } catch (const store::ObjectNotFound&) {
        // Repacked: its move record says where the frame is now.
        if (!moved_ || moved_->follow(ref) == 0) throw;
        bytes = frame(ref);
    }
    return decode_blob(bytes, ref);
}

}  // namespace dolibak::packs::detail
