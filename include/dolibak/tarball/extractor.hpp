#pragma once
// Safe extractor: restores a documents archive without ever writing outside the target.
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace dolibak::tarball {

struct DOLIBAK_API ExtractOptions {
    /// Extract straight into the target (created if missing) instead of a staging directory
    /// swapped in at the end: for trees too large to hold twice. A failure then leaves a
    /// partly extracted target.
    bool in_place = false;
    /// Extract only the entries under this relative folder ("mycompany/"), which becomes the
    /// root of the target. Empty: everything.
    std::string subtree;
    /// Leading name components removed first (1 for archives of the old scripts, whose names
    /// start with "documents/"). Entries left with no name are skipped.
    unsigned strip_components = 0;
    /// Restore permission bits (setuid/setgid dropped; world-writable and sticky bits
    /// dropped with a warning, the target root's mode included) and modification times.
    bool restore_modes = true;
    bool restore_times = true;
    /// Stop with a FormatError once the content written exceeds this many bytes (0: no
    /// limit): the job gives the content size the manifest recorded, so that an archive
    /// claiming more (a sparse entry of 1 TB in a few hundred bytes) cannot fill the disk.
    std::uint64_t max_content_bytes = 0;
    /// Called for each warning (a mode normalised, a killed restore's leftovers removed).
    std::function<void(const std::string&)> on_warning;
};

struct DOLIBAK_API ExtractSummary {
    std::uint64_t entries = 0;
    std::uint64_t files = 0;
    std::uint64_t directories = 0;
    std::uint64_t symlinks = 0;
    std::uint64_t hardlinks = 0;
    std::uint64_t skipped = 0;  ///< outside the subtree, or emptied by strip_components
    std::uint64_t content_bytes = 0;
    std::uint64_t modes_normalised = 0;  ///< entries whose o+w or sticky bit was dropped
};

/// Extracts a tar archive (gzip, zstd or none) into `target`. Refuses, with FormatError naming
/// the entry: absolute names, `..` components, names longer than 4096 bytes or with a
/// component longer than 255, symlinks whose target is absolute or leaves the target,
/// anything written through a symlink, hard links to names not already extracted, device
/// nodes, FIFOs and sockets. Unless in_place, the archive is extracted into a sibling
/// directory `.<name>.dolibak-staging-XXXXXX`, which replaces `target` (atomically, with
/// renameat2 RENAME_EXCHANGE where available) only when the whole archive extracted cleanly;
/// on any failure it is removed and `target` is untouched. A target that is a mount point
/// cannot be renamed: the staging directory is then `target/.dolibak-staging-XXXXXX`, and the
/// entries are swapped under a journal (`target/.dolibak-restore-journal`) that the next
/// extraction into `target` rolls forward (docs/tarball.md says what is guaranteed when).
/// Leftovers of a killed extraction into `target` are removed first. Owners are not restored.
DOLIBAK_API ExtractSummary extract_tar(io::Source& archive, const std::filesystem::path& target,
                                       const ExtractOptions& options = {});

/// Removes a tree without following symlinks, making read-only directories writable first.
DOLIBAK_API void remove_tree(const std::filesystem::path& path);

}  // namespace dolibak::tarball
