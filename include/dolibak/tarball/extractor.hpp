#pragma once
// Safe extractor: restores a documents archive without ever writing outside the target.
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>

#include <cstdint>
#include <filesystem>
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
    /// Restore permission bits (setuid/setgid dropped) and modification times.
    bool restore_modes = true;
    bool restore_times = true;
};

struct DOLIBAK_API ExtractSummary {
    std::uint64_t entries = 0;
    std::uint64_t files = 0;
    std::uint64_t directories = 0;
    std::uint64_t symlinks = 0;
    std::uint64_t hardlinks = 0;
    std::uint64_t skipped = 0;  ///< outside the subtree, or emptied by strip_components
    std::uint64_t content_bytes = 0;
};

/// Extracts a tar archive (gzip, zstd or none) into `target`. Refuses, with FormatError naming
/// the entry: absolute names, `..` components, names longer than 4096 bytes or with a
/// component longer than 255, symlinks whose target is absolute or leaves the target,
/// anything written through a symlink, hard links to names not already extracted, device
/// nodes, FIFOs and sockets. Unless in_place, the archive is extracted into a sibling
/// directory `.<name>.dolibak-staging-XXXXXX`, which replaces `target` (atomically, with
/// renameat2 RENAME_EXCHANGE where available) only when the whole archive extracted cleanly;
/// on any failure it is removed and `target` is untouched. Owners are not restored.
DOLIBAK_API ExtractSummary extract_tar(io::Source& archive, const std::filesystem::path& target,
                                       const ExtractOptions& options = {});

/// Removes a tree without following symlinks, making read-only directories writable first.
DOLIBAK_API void remove_tree(const std::filesystem::path& path);

}  // namespace dolibak::tarball
