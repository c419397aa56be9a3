#pragma once
// Repacking (docs/packs.md, "Repacking"): the live frames of packs that are mostly garbage
// are copied unchanged into new packs; then, for each old pack, a move record (the commit
// point, packs/relocation.hpp) says where each went; then the old packs are deleted. A kill at
// any point leaves every reference readable: before its record, an old pack is intact; after
// it, the record leads to new packs that were published first. An encrypted pack is decrypted
// and its frames go into a new encrypted pack (named by the SHA-256 of its ciphertext) with an
// encrypted record; a plain pack's into a plain one: the two kinds never mix.
#include <dolibak/core/export.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/packs/relocation.hpp>
#include <dolibak/store/store.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::packs {

/// pack key -> offset -> length of each live frame.
using LiveFrames = std::map<std::string, std::map<std::uint64_t, std::uint64_t>>;

struct DOLIBAK_API RepackResult {
    std::vector<std::string> written;            ///< new packs
    std::vector<std::string> records;            ///< move records written
    std::vector<std::string> moved;              ///< old packs whose record was written
    std::vector<std::string> removed;            ///< old packs deleted after their record
    std::uint64_t bytes_read = 0;                ///< of the old packs
    std::uint64_t bytes_written = 0;             ///< of the new packs
    std::vector<std::string> problems;           ///< a pack left as it was, and why
    std::vector<store::RemoveFailure> failures;  ///< old packs that could not be deleted
};

struct DOLIBAK_API RepackOptions {
    std::size_t pack_size = 16 * 1024 * 1024;  ///< new packs hold about this much (plaintext)
    /// Open the encrypted candidates (".pack.age").
    const io::AgeIdentities* identities = nullptr;
    /// What the frames of encrypted candidates are written to: a new pack and a move record,
    /// both encrypted to these recipients (as the writer's WriterOptions::encrypt_to).
    std::optional<io::AgeRecipients> encrypt_to;
};

/// Why the pack `key` cannot be repacked with these keys, or empty when it can: an encrypted
/// pack needs the identities (to read it) and the recipients (to write its live frames
/// again). The repack leaves such a pack alone with this reason; a dry run predicts it.
DOLIBAK_API std::string repack_refusal(std::string_view key, const io::AgeIdentities* identities,
                                       bool has_recipients);

/// Repacks `candidates` (pack keys), keeping the frames `live` names for each. A candidate
/// that is missing, whose bytes no longer match its name, or that is encrypted while
/// `options` lacks the identities or the recipients (or whose identities do not open it), is
/// left alone (a problem); a store error stops the repack (a problem too: what was done is
/// committed, the rest is garbage for the next collection).
DOLIBAK_API RepackResult repack(store::Store& store, const std::vector<std::string>& candidates,
                                const LiveFrames& live, Relocations& moved,
                                const RepackOptions& options = {});

}  // namespace dolibak::packs
