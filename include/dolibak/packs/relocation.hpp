#pragma once
// Where the frames of a repacked pack went (docs/packs.md, "Repacking"). An index is never
// rewritten: it keeps naming a blob by its old pack and offset. When a pack that is mostly
// garbage is repacked, its live frames are copied unchanged into new packs, then a move record
// `packs/moved/<sha256 of the old pack>.json` maps each of them (old offset and length) to its
// new pack and offset; that record is the commit point, after which the old pack is deleted.
// A reader that finds a pack missing follows its record, and the next record when the new
// pack was repacked in turn. An encrypted pack (".pack.age") is repacked into an encrypted
// pack and its record is encrypted too, "packs/moved/<sha256>.json.age": a record holds no
// blob digest, but its offsets and lengths are the sizes of the compressed files the
// encrypted pack and index hide (docs/encryption.md).
#include <dolibak/core/export.hpp>
#include <dolibak/io/age.hpp>
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

/// "packs/moved/<sha256>.json" for the pack "packs/<xx>/<sha256>.pack", and
/// "packs/moved/<sha256>.json.age" for the encrypted pack "packs/<xx>/<sha256>.pack.age";
/// ConfigError when `pack` is not a pack key.
DOLIBAK_API std::string moved_key(std::string_view pack);
/// Whether `key` is "packs/moved/<name>.json" or "packs/moved/<name>.json.age".
DOLIBAK_API bool is_moved_key(std::string_view key);
/// Whether `key` is "packs/<xx>/<...>.pack" or "packs/<xx>/<...>.pack.age".
DOLIBAK_API bool is_pack_key(std::string_view key);

/// The record's plaintext (one JSON object).
DOLIBAK_API std::string encode_move_record(const MoveRecord& record);
/// FormatError (naming `key`) when the text is not a well-formed record: among others, a
/// frame moved into a pack of the other kind (plain and encrypted packs never mix).
DOLIBAK_API MoveRecord decode_move_record(std::string_view text, std::string_view key);

/// Writes the record of `record.from` under its moved_key, never over an existing one: in the
/// clear for a plain pack, encrypted to `encrypt_to` for an encrypted one (ConfigError
/// without recipients, before anything is written).
DOLIBAK_API std::string put_move_record(store::Store& store, const MoveRecord& record,
                                        const std::optional<io::AgeRecipients>& encrypt_to);

/// Follows blob references through the move records of a store, loading each record once.
class DOLIBAK_API Relocations {
public:
    /// `identities` open the records of encrypted packs (".json.age"); without them such a
    /// record raises ConfigError naming age_identity_file when it is needed.
    explicit Relocations(store::Store& store, const io::AgeIdentities* identities = nullptr);
    /// The records that exist (the moved keys of a listing of "packs/"): a pack without one
    /// costs no request. Without it, a record is asked for (get) when first needed.
    void set_existing(std::set<std::string> moved_keys);
    /// The record of `pack`, or nullptr. FormatError when it cannot be parsed (or, encrypted,
    /// decrypted).
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
    const io::AgeIdentities* identities_;
    std::optional<std::set<std::string>> existing_;
    std::map<std::string, std::optional<MoveRecord>> cache_;  ///< by old pack key
};

}  // namespace dolibak::packs
