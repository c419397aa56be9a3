#pragma once
// A list of backups as text (what `dolibak plan` reads), turned into the retention planner's
// input. It lives in catalog, above retention, because it recognises store keys.
#include <dolibak/core/export.hpp>
#include <dolibak/retention/planner.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::catalog {

/// Reads a list of backups, one per line: a store key (`<prefix>/db/<ts>.dump`, ...; its half
/// is its folder) or a bare `<ts>` (half `default_half`, key = the time stamp), optionally
/// followed by whitespace and `ok` or `failed`, and/or `verified-ok` (good) or
/// `verified-failed` (in either order; at most one of each pair). Blank lines and lines starting
/// with '#' are skipped, and so are manifest keys (counted in `*manifests_skipped` when given).
/// Throws ConfigError naming the line of anything else.
DOLIBAK_API std::vector<retention::Backup> backups_from_lines(
    std::string_view text, std::string_view default_half = "db",
    std::size_t* manifests_skipped = nullptr);

/// The same list read into a retention::BackupList that takes `text` as its arena: each key is
/// a part of the text as it was given, nothing is copied or allocated per backup (what
/// `dolibak plan` plans from).
DOLIBAK_API retention::BackupList read_backup_list(std::string text,
                                                   std::string_view default_half = "db",
                                                   std::size_t* manifests_skipped = nullptr);

}  // namespace dolibak::catalog
