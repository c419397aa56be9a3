#pragma once
// Exclude globs shared by the tar writer and the documents fingerprint, so that what is
// archived and what is fingerprinted are always the same set of entries.
#include <dolibak/core/export.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::tarball {

/// What Dolibarr regenerates by itself and that a backup leaves out: every `*/temp/*`, the
/// `<REF>.pdf_preview*.png` written beside each PDF, and Dolibarr's own logs at the root
/// (`/dolibarr.log`, `/dolibarr_*.log`; a `.log` attachment elsewhere is kept).
DOLIBAK_API std::vector<std::string> default_excludes();

/// Matches relative paths ("facture/FA2401-0001/FA2401-0001.pdf") against shell globs, the way
/// GNU tar's --exclude does: `*`, `?` and `[...]` match any byte including '/', and a pattern
/// matches when it matches the whole path, the path with a leading '/', or any tail of the path
/// that starts after a '/' (so a pattern starting with '/' only matches from the root). A directory
/// is also tried with a trailing '/', so `*/temp/*` excludes the `temp` folders themselves, not
/// only their content; an excluded directory is not descended into.
class DOLIBAK_API ExcludeMatcher {
public:
    explicit ExcludeMatcher(std::vector<std::string> patterns);
    bool excluded(std::string_view relative_path, bool is_directory) const {
        return match(relative_path, is_directory) >= 0;
    }
    /// The index in patterns() of the first pattern that excludes the path, or -1.
    int match(std::string_view relative_path, bool is_directory) const;
    const std::vector<std::string>& patterns() const noexcept { return patterns_; }

private:
    bool matches_one(const std::string& pattern, const std::string& slash_path) const;
    std::vector<std::string> patterns_;
};

}  // namespace dolibak::tarball
