#pragma once
// Small text helpers shared by the library's messages, the CLI and the Python module: the
// closest known word to a mistyped one (did-you-mean), and counts with the right noun form.
#include <dolibak/core/export.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak {

/// Optimal string alignment distance (Levenshtein plus the swap of two neighbours), each
/// edit costing 1; compared byte by byte, case-sensitively.
DOLIBAK_API std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate nearest to `word`, when it is close enough to be a typo of it: at most a
/// third of the word's length (at least 1, at most 3) edits away. Ties go to the earliest
/// candidate; an exact match is returned as is.
DOLIBAK_API std::optional<std::string> closest_match(std::string_view word,
                                                     const std::vector<std::string>& candidates);

/// "; did you mean 'store'?" when closest_match finds one, else "" (to append to a message).
DOLIBAK_API std::string did_you_mean(std::string_view word,
                                     const std::vector<std::string>& candidates);

/// "1 directory", "370 directories", "0 files": the count and the noun; `plural` defaults to
/// the singular with an "s".
DOLIBAK_API std::string count_noun(std::uint64_t n, std::string_view singular,
                                   std::string_view plural = {});

}  // namespace dolibak
