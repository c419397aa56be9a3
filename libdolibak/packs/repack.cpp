#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/packs/repack.hpp>

#include <fmt/format.h>

#include <set>

namespace dolibak::packs {

namespace {

constexpr std::size_t max_pack = std::size_t{1} << 30;

class Repacker {
public:
    Repacker(store::Store& store, Relocations& moved, std::size_t pack_size, RepackResult& out)
        : store_(store), moved_(moved), pack_size_(pack_size), out_(out) {}

    void add(const std::string& key, const std::map<std::uint64_t, std::uint64_t>& frames) {
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
        if (pack_key(io::sha256_hex(bytes)) != key) {
            out_.problems.push_back(key + ": its SHA-256 does not match its name, not repacked");
            return;
        }
        MoveRecord record{key, {}};
        for (const auto& [offset, length] : frames) {
            if (offset > bytes.size() || length > bytes.size() - offset) {
                out_.problems.push_back(fmt::format(
                    "{}: a frame at {} ends beyond the pack, not repacked", key, offset));
                return;
            }
        }
        for (const auto& [offset, length] : frames) {
            record.frames.push_back({offset, length, {}, pack_.size()});
            pack_.append(bytes, offset, length);
        }
        batch_.push_back(std::move(record));
        if (pack_.size() >= pack_size_) flush();
    }

    /// Publishes the new pack, then each old pack's record (its commit point), then deletes
    /// the old packs.
    void flush() {
        if (batch_.empty()) return;
        const auto key = pack_key(io::sha256_hex(pack_));
        store::PutOptions po;
        po.size_hint = pack_.size();
        po.no_overwrite = true;
        try {
            auto sink = store_.put(key, po);
            sink->write(io::as_bytes(pack_));
            sink->finish();
        } catch (const store::AlreadyExists&) {
            // Named by its content: the same bytes (an earlier repack killed before its records).
        }
        out_.written.push_back(key);
        out_.bytes_written += pack_.size();
        pack_.clear();
        std::vector<std::string> done;
        for (auto& record : batch_) {
            for (auto& f : record.frames) f.pack = key;
            const auto record_key = moved_key(record.from);
            store::PutOptions ro;
            ro.no_overwrite = true;
            ro.content_type = "application/json";
            store_.put_bytes(record_key, encode_move_record(record), ro);
            out_.records.push_back(record_key);
            done.push_back(record.from);
            moved_.remember(std::move(record));
        }
        batch_.clear();
        auto failed = store_.remove_many(done);
        std::set<std::string> bad;
        for (const auto& f : failed) bad.insert(f.key);
        for (const auto& k : done)
            if (!bad.contains(k)) out_.removed.push_back(k);
        out_.failures.insert(out_.failures.end(), failed.begin(), failed.end());
    }

private:
    store::Store& store_;
    Relocations& moved_;
    std::size_t pack_size_;
    RepackResult& out_;
    std::string pack_;
    std::vector<MoveRecord> batch_;
};

}  // namespace

RepackResult repack(store::Store& store, const std::vector<std::string>& candidates,
                    const LiveFrames& live, Relocations& moved, std::size_t pack_size) {
    RepackResult result;
    Repacker repacker(store, moved, pack_size == 0 ? 1 : pack_size, result);
    try {
        for (const auto& key : candidates)
            if (auto it = live.find(key); it != live.end() && !it->second.empty())
                repacker.add(key, it->second);
        repacker.flush();
    } catch (const Error& e) {
        // What was committed stands; a new pack no record names yet is garbage.
        result.problems.push_back(std::string("repacking stopped: ") + e.what());
    }
    return result;
}

}  // namespace dolibak::packs
