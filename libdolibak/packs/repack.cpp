#include "packs/pack_store.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/packs/repack.hpp>

#include <fmt/format.h>

#include <set>

namespace dolibak::packs {

namespace {

constexpr std::size_t max_pack = std::size_t{1} << 30;

/// The frames gathered for one new pack (its plaintext) and the records that will point
/// into it. Plain and encrypted candidates fill separate batches: the kinds never mix.
struct Batch {
    bool encrypted = false;
    std::string pack;
    std::vector<MoveRecord> records;
};

class Repacker {
public:
    Repacker(store::Store& store, Relocations& moved, const RepackOptions& options,
             RepackResult& out)
        : store_(store), moved_(moved), options_(options), out_(out) {
        sealed_.encrypted = true;
    }

    void add(const std::string& key, const std::map<std::uint64_t, std::uint64_t>& frames) {
        const bool encrypted = is_encrypted_pack(key);
        if (const auto why =
                repack_refusal(key, options_.identities, options_.encrypt_to.has_value());
            !why.empty()) {
            out_.problems.push_back(key + ": " + why + ": not repacked");
            return;
        }
        if (moved_.record(key)) {
            // Only a repack that lost its lock could leave one: the record stays as it is.
            out_.problems.push_back(key + ": has a move record already, not repacked");
            return;
        }
        std::string bytes;
        try {
            bytes = store_.get_bytes(key, max_pack);
        } catch (const store::ObjectNotFound&) {
            out_.problems.push_back(key + ": missing, not repacked");
            return;
        }
        out_.bytes_read += bytes.size();
        // Frames are copied as they are: the pack must still be what its name says.
        if (pack_key(io::sha256_hex(bytes), encrypted) != key) {
            out_.problems.push_back(key + ": its SHA-256 does not match its name, not repacked");
            return;
        }
        if (encrypted) {
            // Decrypted whole: every chunk authenticated before a frame of it is copied.
            try {
                io::MemorySource stored{std::string_view(bytes)};
                io::AgeDecryptSource plain(stored, *options_.identities);
                bytes = io::read_all(plain, bytes.size());
            } catch (const io::AgeError& e) {
                out_.problems.push_back(
                    fmt::format("{}: cannot be decrypted ({}), not repacked", key, e.what()));
                return;
            }
        }
        for (const auto& [offset, length] : frames) {
            if (offset > bytes.size() || length > bytes.size() - offset) {
                out_.problems.push_back(fmt::format(
                    "{}: a frame at {} ends beyond the pack, not repacked", key, offset));
                return;
            }
        }
        auto& batch = encrypted ? sealed_ : plain_;
        MoveRecord record{key, {}};
        for (const auto& [offset, length] : frames) {
            record.frames.push_back({offset, length, {}, batch.pack.size()});
            batch.pack.append(bytes, offset, length);
        }
        batch.records.push_back(std::move(record));
        if (batch.pack.size() >= options_.pack_size) flush(batch);
    }

    void finish() {
        flush(plain_);
        flush(sealed_);
    }

private:
    /// Publishes the new pack, then each old pack's record (its commit point), then deletes
    /// the old packs.
    void flush(Batch& batch) {
        if (batch.records.empty()) return;
        // As the writer does: encrypted to the recipients and named by the ciphertext. An
        // object of that name already stored is these bytes (an earlier repack killed before
        // its records).
        std::string sealed;
        const std::string key = detail::seal_and_name(
            batch.pack, batch.encrypted ? &*options_.encrypt_to : nullptr, sealed);
        const std::string& stored = batch.encrypted ? sealed : batch.pack;
        detail::put_pack(store_, key, stored);
        out_.written.push_back(key);
        out_.bytes_written += stored.size();
        batch.pack.clear();
        std::vector<std::string> done;
        for (auto& record : batch.records) {
            // The new pack may be one of the old ones, byte for byte (in the clear a pack is
            // named by its bytes): one an earlier repack wrote and was killed before the record
            // of its second candidate, whose live frames are its first candidate's, followed by
            // that second candidate's. It stays as it is: every frame it holds is where its
            // references say, so it gets no record (into itself) and is not deleted.
            if (record.from == key) continue;
            for (auto& f : record.frames) f.pack = key;
            out_.records.push_back(put_move_record(store_, record, options_.encrypt_to));
            done.push_back(record.from);
            out_.moved.push_back(record.from);
            moved_.remember(std::move(record));
        }
        batch.records.clear();
        auto failed = store_.remove_many(done);
        std::set<std::string> bad;
        for (const auto& f : failed) bad.insert(f.key);
        for (const auto& k : done)
            if (!bad.contains(k)) out_.removed.push_back(k);
        out_.failures.insert(out_.failures.end(), failed.begin(), failed.end());
    }

    store::Store& store_;
    Relocations& moved_;
    const RepackOptions& options_;
    RepackResult& out_;
    Batch plain_;
    Batch sealed_;
};

}  // namespace

std::string repack_refusal(std::string_view key, const io::AgeIdentities* identities,
                           bool has_recipients) {
    if (is_encrypted_pack(key) && (!identities || !has_recipients))
        return "encrypted, and repacking it needs the age identity and the recipients "
               "(age_identity_file, age_recipients)";
    return {};
}

RepackResult repack(store::Store& store, const std::vector<std::string>& candidates,
                    const LiveFrames& live, Relocations& moved, const RepackOptions& options) {
    RepackResult result;
    RepackOptions o = options;
    if (o.pack_size == 0) o.pack_size = 1;
    Repacker repacker(store, moved, o, result);
    try {
        for (const auto& key : candidates)
            if (auto it = live.find(key); it != live.end() && !it->second.empty())
                repacker.add(key, it->second);
        repacker.finish();
    } catch (const Error& e) {
        // What was committed stands; a new pack no record names yet is garbage.
        result.problems.push_back(std::string("repacking stopped: ") + e.what());
    }
    return result;
}

}  // namespace dolibak::packs
