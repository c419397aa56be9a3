#pragma once
// Where the frames of a repacked pack went (docs/packs.md, "Repacking"). An index is never
// rewritten: it keeps naming a blob by its old pack and offset. When a pack that is mostly
// garbage is repacked, its live frames are copied unchanged into new packs, then a move record
// `packs/moved/<sha256 of the old pack>.json` maps each of them (old offset and length) to its
// new pack and offset; that record is the commit point, after which the old pack is deleted.
// A reader that finds a pack missing follows its record, and the next record when the new
// pack was repacked in turn.
#include <dolibak/core/export.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/store/store.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::packs {

/// One frame of a repacked pack: where it was (offset, length) and where it is now.
struct DOLIBAK_API MovedFrame {
    std::uint64_t offset = 0;  ///< in the old pack
    std::uint64_t length = 0;  ///< of the zstd frame (copied unchanged)
    std::string pack;          ///< the new pack's key
    std::uint64_t to = 0;      ///< offset in the new pack
};

/// The move record of one old pack: its frames that some index referenced when it was
/// repacked, sorted by offset.
struct DOLIBAK_API MoveRecord {
    std::string from;  ///< the old pack's key
    std::vector<MovedFrame> frames;
};

/// "packs/moved/<sha256>.json" for the pack "packs/<xx>/<sha256>.pack"; ConfigError when
/// `pack` is not a pack key.
DOLIBAK_API std::string moved_key(std::string_view pack);
DOLIBAK_API bool is_moved_key(std::string_view key);
/// Whether `key` is "packs/<xx>/<...>.pack".
DOLIBAK_API bool is_pack_key(std::string_view key);

/// The record as stored (one JSON object).
DOLIBAK_API std::string encode_move_record(const MoveRecord& record);
/// FormatError (naming `key`) when the text is not a well-formed record.
DOLIBAK_API MoveRecord decode_move_record(std::string_view text, std::string_view key);

/// Follows blob references through the move records of a store, loading each record once.
class DOLIBAK_API Relocations {
public:
    explicit Relocations(store::Store& store);
    /// The records that exist (the moved keys of a listing of "packs/"): a pack without one
    /// costs no request. Without it, a record is asked for (get) when first needed.
    void set_existing(std::set<std::string> moved_keys);
    /// The record of `pack`, or nullptr. FormatError when it cannot be parsed.
    const MoveRecord* record(const std::string& pack);
    /// Moves `ref` through every record that holds its frame (the old pack may still exist:
    /// a repack killed before deleting it); returns the number of moves. `via` receives the
    /// packs whose records were used. FormatError when a record places the frame with another
    /// length, or the chain loops.
    std::size_t follow(BlobRef& ref, std::vector<std::string>* via = nullptr);
    /// For a reader: `ref` unchanged when its pack is in `present`, else followed. Returns
    /// whether its pack (after the moves) is in `present`.
    bool locate(BlobRef& ref, const std::set<std::string>& present);
    /// A record just written (later lookups see it).
    void remember(MoveRecord record);

private:
    store::Store& store_;
    std::optional<std::set<std::string>> existing_;
    std::map<std::string, std::optional<MoveRecord>> cache_;  ///< by old pack key
};

}  // namespace dolibak::packs
