#include "packs/blob.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/packs/reader.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

namespace dolibak::packs {

namespace {

constexpr std::size_t block = 512;

void octal(char* field, std::size_t width, std::uint64_t value) {
    // width - 1 digits and a NUL; callers pass values that fit (pax records carry the rest).
    auto s = fmt::format("{:0{}o}", value, width - 1);
    if (s.size() > width - 1) s = std::string(width - 1, '7');
    std::memcpy(field, s.data(), width - 1);
    field[width - 1] = '\0';
}

std::string ustar_header(std::string_view name, char type, std::uint32_t mode, std::uint64_t size,
                         std::int64_t mtime, std::string_view link) {
    std::string h(block, '\0');
    // std::copy_n, not memcpy: an empty string_view (no link) may hold a null pointer.
    std::copy_n(name.data(), std::min<std::size_t>(name.size(), 100), h.data());
    octal(h.data() + 100, 8, mode & 07777);
    octal(h.data() + 108, 8, 0);
    octal(h.data() + 116, 8, 0);
    octal(h.data() + 124, 12, std::min<std::uint64_t>(size, 077777777777ULL));
    octal(h.data() + 136, 12, static_cast<std::uint64_t>(std::max<std::int64_t>(mtime, 0)));
    h[156] = type;
    std::copy_n(link.data(), std::min<std::size_t>(link.size(), 100), h.data() + 157);
    std::memcpy(h.data() + 257,
                "ustar\0"
                "00",
                8);
    std::memset(h.data() + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    auto s = fmt::format("{:06o}", sum);
    std::memcpy(h.data() + 148, s.data(), 6);
    h[154] = '\0';
    h[155] = ' ';
    return h;
}

std::string pax_record(std::string_view key, std::string_view value) {
    const auto body = key.size() + value.size() + 3;  // ' ', '=', '\n'
    std::size_t len = body + 1;
    while (std::to_string(len).size() + body != len) len = std::to_string(len).size() + body;
    return fmt::format("{} {}={}\n", len, key, value);
}

void pad(std::string& out, std::uint64_t size) {
    if (const auto r = size % block; r != 0) out.append(block - r, '\0');
}

std::string headers_for(const IndexEntry& e) {
    std::string name = e.path;
    if (e.type == EntryType::directory) name += '/';
    const std::int64_t sec = e.mtime_ns >= 0 ? e.mtime_ns / 1'000'000'000 : 0;
    const auto nsec = e.mtime_ns >= 0 ? e.mtime_ns % 1'000'000'000 : 0;
    std::string pax = pax_record("path", name);
    pax += pax_record("mtime", fmt::format("{}.{:09}", sec, nsec));
    if (e.type == EntryType::symlink) pax += pax_record("linkpath", e.target);
    if (e.type == EntryType::file) pax += pax_record("size", std::to_string(e.size));
    std::string out = ustar_header("././@PaxHeader", 'x', 0644, pax.size(), sec, {});
    out += pax;
    pad(out, pax.size());
    const char type = e.type == EntryType::directory ? '5'
                      : e.type == EntryType::symlink ? '2'
                                                     : '0';
    out += ustar_header(name, type, e.mode, e.type == EntryType::file ? e.size : 0, sec,
                        e.type == EntryType::symlink ? std::string_view(e.target) : "");
    return out;
}

TreeAccess access_for(store::Store& store, const io::AgeIdentities* identities,
                      Relocations& moved) {
    TreeAccess a;
    a.store = &store;
    a.identities = identities;
    a.moved = &moved;
    return a;
}

class TarStream final : public io::Source {
public:
    TarStream(store::Store& store, io::Source& index, const io::AgeIdentities* identities)
        : moved_(store, identities),
          blobs_(store, identities, &moved_),
          access_(access_for(store, identities, moved_)),
          reader_(index, &access_) {}

    std::size_t read(io::MutableBytes buf) override {
        while (pos_ == out_.size()) {
            out_.clear();
            pos_ = 0;
            if (!refill()) return 0;
        }
        const auto n = std::min(buf.size(), out_.size() - pos_);
        std::memcpy(buf.data(), out_.data() + pos_, n);
        pos_ += n;
        return n;
    }

private:
    bool refill() {
        if (done_) return false;
        if (next_blob_ < current_.blobs.size()) {
            out_ = blobs_.read(current_.blobs[next_blob_++]);
            if (next_blob_ == current_.blobs.size()) pad(out_, current_.size);
            return true;
        }
        auto e = reader_.next();
        if (!e) {
            out_.assign(2 * block, '\0');
            done_ = true;
            return true;
        }
        current_ = std::move(*e);
        next_blob_ = 0;
        out_ = headers_for(current_);
        return true;
    }

    Relocations moved_;  ///< before blobs_, which follows it
    detail::BlobReader blobs_;
    TreeAccess access_;  ///< a version 2 index's pieces
    IndexReader reader_;
    IndexEntry current_;
    std::size_t next_blob_ = 0;
    std::string out_;
    std::size_t pos_ = 0;
    bool done_ = false;
};

}  // namespace

std::unique_ptr<io::Source> tar_stream(store::Store& store, io::Source& index,
                                       const io::AgeIdentities* identities) {
    return std::make_unique<TarStream>(store, index, identities);
}

tarball::ExtractSummary restore_tree(store::Store& store, io::Source& index,
                                     const std::filesystem::path& target,
                                     const tarball::ExtractOptions& options,
                                     const io::AgeIdentities* identities) {
    auto tar = tar_stream(store, index, identities);
    return tarball::extract_tar(*tar, target, options);
}

VerifyResult verify_run(store::Store& store, io::Source& index, bool full,
                        const io::AgeIdentities* identities) {
    VerifyResult result;
    // pack -> its blobs by offset (distinct)
    std::map<std::string, std::map<std::uint64_t, BlobRef>> packs;
    try {
        // A version 2 index: each piece is checked when read, and like a blob in its pack.
        TreeAccess tree;
        tree.store = &store;
        tree.identities = identities;
        tree.on_piece = [&](const BlobRef& b) { packs[b.pack].try_emplace(b.offset, b); };
        IndexReader reader(index, &tree);
        while (auto e = reader.next())
            for (auto& b : e->blobs) packs[b.pack].try_emplace(b.offset, b);
        result.totals = reader.totals();
    } catch (const Error& e) {
        result.problems.push_back(fmt::format("the index cannot be read: {}", e.what()));
        return result;
    }
    // Where each pack is: present (its size), or repacked (its blobs follow the move records
    // to the packs that hold them now), or missing.
    std::map<std::string, std::uint64_t> sizes;
    Relocations moved(store, identities);
    std::set<std::string> looked;
    std::vector<std::string> todo;
    for (const auto& p : packs) todo.push_back(p.first);
    while (!todo.empty()) {
        const auto key = std::move(todo.back());
        todo.pop_back();
        if (!looked.insert(key).second) continue;
        if (auto info = store.head(key)) {
            sizes.emplace(key, info->size);
            continue;
        }
        auto it = packs.find(key);
        std::map<std::uint64_t, BlobRef> stay;
        try {
            for (auto& [offset, b] : it->second) {
                BlobRef r = b;
                if (moved.follow(r) == 0)
                    stay.emplace(offset, b);
                else if (packs[r.pack].try_emplace(r.offset, r).second)
                    todo.push_back(r.pack);
            }
        } catch (const Error& e) {
            result.problems.push_back(fmt::format("{}: missing, and {}", key, e.what()));
            packs.erase(key);
            continue;
        }
        if (stay.empty())
            packs.erase(key);
        else
            packs[key] = std::move(stay);  // reported missing below
    }
    result.packs = packs.size();
    for (const auto& [key, blobs] : packs) {
        result.blobs += blobs.size();
        const auto& last = blobs.rbegin()->second;
        const auto needed = last.offset + last.length;
        const auto size = sizes.find(key);
        if (size == sizes.end()) {
            result.problems.push_back(fmt::format("{}: missing", key));
            continue;
        }
        if (!full) {
            result.pack_bytes += size->second;
            if (size->second < needed)
                result.problems.push_back(fmt::format("{}: {} bytes, the index needs at least {}",
                                                      key, size->second, needed));
            continue;
        }
        std::string pack;
        try {
            pack = store.get_bytes(key, 1024 * 1024 * 1024);
        } catch (const store::ObjectNotFound&) {
            result.problems.push_back(fmt::format("{}: missing", key));
            continue;
        } catch (const Error& e) {
            result.problems.push_back(fmt::format("{}: cannot be read: {}", key, e.what()));
            continue;
        }
        result.pack_bytes += pack.size();
        const bool encrypted = is_encrypted_pack(key);
        if (pack_key(io::sha256_hex(pack), encrypted) != key)
            result.problems.push_back(fmt::format("{}: its SHA-256 does not match its name", key));
        if (encrypted) {
            // Decrypted whole: every chunk authenticated; the blobs are then checked in the
            // plaintext, where the index places them.
            try {
                io::MemorySource sealed{std::string_view(pack)};
                io::AgeDecryptSource plain(sealed, detail::identities_for(identities, key));
                pack = io::read_all(plain, pack.size());
            } catch (const Error& e) {
                result.problems.push_back(
                    fmt::format("{}: cannot be decrypted: {}", key, e.what()));
                continue;
            }
        }
        for (const auto& [offset, b] : blobs) {
            if (offset + b.length > pack.size()) {
                result.problems.push_back(fmt::format("blob {} in {} at {}: beyond the pack's end",
                                                      b.sha256, key, offset));
                continue;
            }
            try {
                detail::decode_blob(std::string_view(pack).substr(offset, b.length), b);
            } catch (const FormatError& e) {
                result.problems.push_back(e.what());
            }
        }
    }
    return result;
}

}  // namespace dolibak::packs
