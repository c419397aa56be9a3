#include "packs/blob.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/packs/relocation.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace dolibak::packs {

namespace {

constexpr std::string_view record_format = "dolibak-pack-moved";
constexpr int record_version = 1;
constexpr std::string_view moved_prefix = "packs/moved/";
constexpr std::size_t max_record = 256 * 1024 * 1024;
constexpr std::size_t max_hops = 64;

/// What follows the name: ".pack" or ".pack.age" (a pack), ".json" or ".json.age" (a record).
std::string_view suffix_of(std::string_view key, std::string_view plain) {
    if (key.ends_with(plain)) return plain;
    if (key.size() > 4 && key.ends_with(".age") && key.substr(0, key.size() - 4).ends_with(plain))
        return key.substr(key.size() - plain.size() - 4);
    return {};
}

}  // namespace

bool is_pack_key(std::string_view key) {
    // packs/<xx>/<name>.pack[.age]
    const auto suffix = suffix_of(key, ".pack");
    if (!key.starts_with("packs/") || suffix.empty()) return false;
    const auto rest = key.substr(6);
    return rest.size() > 3 + suffix.size() && rest[2] == '/' &&
           rest.find('/', 3) == std::string_view::npos;
}

bool is_moved_key(std::string_view key) {
    const auto suffix = suffix_of(key, ".json");
    return key.starts_with(moved_prefix) && !suffix.empty() &&
           key.size() > moved_prefix.size() + suffix.size() &&
           key.find('/', moved_prefix.size()) == std::string_view::npos;
}

std::string moved_key(std::string_view pack) {
    if (!is_pack_key(pack))
        throw ConfigError(fmt::format("packs: {} is not the key of a pack", pack));
    const bool encrypted = is_encrypted_pack(pack);
    auto name = pack.substr(pack.rfind('/') + 1);
    name.remove_suffix(encrypted ? 9 : 5);  // ".pack.age", ".pack"
    return fmt::format("{}{}.json{}", moved_prefix, name, encrypted ? ".age" : "");
}

std::string encode_move_record(const MoveRecord& r) {
    auto frames = nlohmann::json::array();
    for (const auto& f : r.frames)
        frames.push_back(
            {{"offset", f.offset}, {"length", f.length}, {"pack", f.pack}, {"to", f.to}});
    nlohmann::json j{{"format", record_format},
                     {"version", record_version},
                     {"from", r.from},
                     {"frames", std::move(frames)}};
    return j.dump() + "\n";
}

MoveRecord decode_move_record(std::string_view text, std::string_view key) {
    MoveRecord r;
    try {
        const auto j = nlohmann::json::parse(text);
        if (j.at("format").get<std::string>() != record_format)
            throw FormatError("not a dolibak move record");
        if (j.at("version").get<int>() != record_version)
            throw FormatError(fmt::format("version {} is not supported", j.at("version").dump()));
        r.from = j.at("from").get<std::string>();
        if (!is_pack_key(r.from) || moved_key(r.from) != key)
            throw FormatError(fmt::format("it moves {}, not the pack its name says", r.from));
        for (const auto& f : j.at("frames")) {
            MovedFrame m;
            m.offset = f.at("offset").get<std::uint64_t>();
            m.length = f.at("length").get<std::uint64_t>();
            m.pack = f.at("pack").get<std::string>();
            m.to = f.at("to").get<std::uint64_t>();
            if (m.length == 0 || !is_pack_key(m.pack) || m.pack == r.from)
                throw FormatError(fmt::format("a malformed frame at {}", m.offset));
            if (is_encrypted_pack(m.pack) != is_encrypted_pack(r.from))
                throw FormatError(fmt::format(
                    "the frame at {} moves into {}, a pack of the other kind (plain and "
                    "encrypted packs never mix)",
                    m.offset, m.pack));
            if (!r.frames.empty() && r.frames.back().offset + r.frames.back().length > m.offset)
                throw FormatError(fmt::format("frames out of order at {}", m.offset));
            r.frames.push_back(std::move(m));
        }
    } catch (const nlohmann::json::exception& e) {
        throw FormatError(fmt::format("move record {}: malformed ({})", key, e.what()));
    } catch (FormatError& e) {
        e.with_context(fmt::format("move record {}", key));
        throw;
    }
    return r;
}

std::string put_move_record(store::Store& store, const MoveRecord& record,
                            const std::optional<io::AgeRecipients>& encrypt_to) {
    const auto key = moved_key(record.from);
    const bool encrypted = is_encrypted_pack(record.from);
    if (encrypted && !encrypt_to)
        throw ConfigError(fmt::format(
            "packs: {} is encrypted: its move record needs the recipients (age_recipients)",
            record.from));
    auto text = encode_move_record(record);
    store::PutOptions ro;
    ro.no_overwrite = true;
    ro.content_type = encrypted ? "application/octet-stream" : "application/json";
    if (encrypted) {
        io::MemorySink out;
        io::AgeEncryptSink age(out, *encrypt_to);
        age.write(io::as_bytes(text));
        age.finish();
        text = out.data();
    }
    store.put_bytes(key, text, ro);
    return key;
}

Relocations::Relocations(store::Store& store, const io::AgeIdentities* identities)
    : store_(store), identities_(identities) {}

void Relocations::set_existing(std::set<std::string> moved_keys) {
    existing_ = std::move(moved_keys);
}

const MoveRecord* Relocations::record(const std::string& pack) {
    auto it = cache_.find(pack);
    if (it == cache_.end()) {
        std::optional<MoveRecord> loaded;
        if (is_pack_key(pack)) {
            const auto key = moved_key(pack);
            if (!existing_ || existing_->contains(key)) {
                try {
                    auto text = store_.get_bytes(key, max_record);
                    if (is_encrypted_pack(pack)) {
                        const auto& ids = detail::identities_for(identities_, key);
                        io::MemorySource sealed{std::string_view(text)};
                        io::AgeDecryptSource plain(sealed, ids);
                        text = io::read_all(plain, max_record);
                    }
                    loaded = decode_move_record(text, key);
                } catch (const store::ObjectNotFound&) {
                } catch (const io::AgeError& e) {
                    throw FormatError(
                        fmt::format("move record {}: cannot be decrypted: {}", key, e.what()));
                }
            }
        }
        it = cache_.emplace(pack, std::move(loaded)).first;
    }
    return it->second ? &*it->second : nullptr;
}

std::size_t Relocations::follow(BlobRef& ref, std::vector<std::string>* via) {
    std::size_t hops = 0;
    for (;;) {
        const auto* r = record(ref.pack);
        if (!r) return hops;
        const auto f = std::lower_bound(
            r->frames.begin(), r->frames.end(), ref.offset,
            [](const MovedFrame& m, std::uint64_t offset) { return m.offset < offset; });
        if (f == r->frames.end() || f->offset != ref.offset) return hops;
        if (f->length != ref.length)
            throw FormatError(fmt::format(
                "blob {}: the move record of {} places a frame of {} bytes at {}, the index "
                "one of {}",
                ref.sha256, ref.pack, f->length, ref.offset, ref.length));
        if (++hops > max_hops)
            throw FormatError(
                fmt::format("blob {}: the move records from {} form a loop", ref.sha256, ref.pack));
        if (via) via->push_back(ref.pack);
        ref.pack = f->pack;
        ref.offset = f->to;
    }
}

bool Relocations::locate(BlobRef& ref, const std::set<std::string>& present) {
    if (present.contains(ref.pack)) return true;
    follow(ref);
    return present.contains(ref.pack);
}

void Relocations::remember(MoveRecord record) {
    if (existing_) existing_->insert(moved_key(record.from));
    auto pack = record.from;
    cache_.insert_or_assign(std::move(pack), std::move(record));
}

}  // namespace dolibak::packs
