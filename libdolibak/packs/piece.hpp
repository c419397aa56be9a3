#pragma once
// The pieces of a version 2 index (layer-private; docs/packs.md, "Objects"): the text of an
// entry line, of a piece's header and of a reference to a piece, and the rule that cuts a
// large directory into parts.
#include <dolibak/packs/index.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace dolibak::packs::detail {

/// A reference inside a piece to a piece stored in the same pack as the referring one (the
/// pack as the referring piece is referenced, before any move record is followed).
inline constexpr std::string_view same_pack = ".";

/// A directory of more entries than this is cut into parts.
inline constexpr std::size_t split_above = 256;
/// A part ends after an entry whose name's FNV-1a 64 hash is 63 modulo 64, or at this many
/// entries (the cuts depend on the names only, so an inserted name changes one part).
inline constexpr std::size_t max_part = 1024;
bool cut_after(std::string_view name) noexcept;

/// One entry as a JSON line (no newline). In a piece: "name" (its last component) instead of
/// "path", and a directory's "piece" reference (an empty pack: same_pack).
std::string entry_line(const IndexEntry& e, bool in_piece);
/// FormatError when malformed; in a piece, `prefix` is prepended to the name ("a/b/").
IndexEntry parse_entry_line(std::string_view line, bool in_piece, const std::string& prefix);

struct PieceHeader {
    bool part = false;          ///< a part of a directory's entries
    std::uint64_t entries = 0;  ///< entries listed (by the parts, for a split directory)
    std::uint64_t parts = 0;    ///< a split directory: its parts' references follow
};
std::string header_line(const PieceHeader& h);
PieceHeader parse_header_line(std::string_view line);
/// A part's reference in its directory's piece: the reference and the part's entry count.
std::string part_line(const BlobRef& ref, std::uint64_t entries);
BlobRef parse_part_line(std::string_view line, std::uint64_t& entries);

}  // namespace dolibak::packs::detail
