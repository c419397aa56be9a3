#pragma once
// A pure TOC filter: include/exclude rules over TOC entries, turned into a pg_restore -L list
// that keeps the archive's order (so it also works on a streamed archive).
#include <dolibak/core/export.hpp>
#include <dolibak/pgdump/archive.hpp>

#include <string>
#include <vector>

namespace dolibak::pgdump {

/// One rule; every non-empty field must match (glob patterns with * and ?).
struct DOLIBAK_API TocRule {
    std::string desc;  ///< "FUNCTION", "ACL", "TABLE DATA", ...
    std::string schema;
    std::string tag;  ///< "user_lookup(*", "llx_*"
    std::string owner;
    bool matches(const TocEntry& e) const;
};

struct DOLIBAK_API TocFilter {
    /// When non-empty, only entries matching one of these are kept.
    std::vector<TocRule> include;
    /// Entries matching one of these are dropped.
    std::vector<TocRule> exclude;
    /// Also drop the entries that depend (transitively) on a dropped one (its COMMENT, ACL...).
    bool cascade = true;
    /// Start from what a default pg_restore selects (ENCODING etc. are never listed anyway).
    bool default_selection = true;

    /// Dump ids kept, in archive order.
    std::vector<int> kept(const ArchiveSummary& summary) const;
    /// The pg_restore -L list: kept entries as lines, dropped ones commented out with ';'.
    std::string list(const ArchiveSummary& summary) const;
};

/// Parses a rule from "desc:schema:tag:owner" (empty fields match anything), e.g.
/// "FUNCTION::user_lookup(*" or "ACL". Throws ConfigError on a bad rule.
DOLIBAK_API TocRule parse_rule(const std::string& text);

/// The dump ids a pg_restore -L list keeps (lines not starting with ';').
DOLIBAK_API std::vector<int> list_ids(const std::string& list);

}  // namespace dolibak::pgdump
