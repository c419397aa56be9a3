#pragma once
// Documents fingerprint: a SHA-256 that changes when a document is added, changed or removed,
// computed from a metadata walk of the tree, with the same excludes as the archive.
#include <dolibak/core/export.hpp>
#include <dolibak/tarball/excludes.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace dolibak::fingerprint {

struct DOLIBAK_API DocsOptions {
    std::vector<std::string> excludes = tarball::default_excludes();
    /// Also hash the bytes of every file (slow: reads the whole tree).
    bool content = false;
    /// As the tar writer's option: an entry that cannot be read (a directory that cannot be
    /// opened, a file that cannot be opened in content mode) is left out and counted in
    /// `unreadable`, instead of an IoError.
    bool skip_unreadable = false;
};

struct DOLIBAK_API DocsFingerprint {
    std::string sha256;  ///< lower-case hex
    std::uint64_t entries = 0;
    std::uint64_t files = 0;
    std::uint64_t directories = 0;
    std::uint64_t symlinks = 0;
    std::uint64_t bytes = 0;       ///< sum of file sizes
    std::uint64_t unreadable = 0;  ///< entries left out by skip_unreadable
    bool content = false;
};

/// SHA-256 over the included entries in the writer's order, one record per entry:
/// relative path, type, size, mtime in nanoseconds, mode and link target (and the file's
/// SHA-256 in content mode). Directories contribute path, type and mode only: their mtime
/// moves whenever Dolibarr drops a preview or a temp file in them. Throws IoError naming an
/// unreadable path (unless skip_unreadable).
DOLIBAK_API DocsFingerprint docs_fingerprint(const std::filesystem::path& root,
                                             const DocsOptions& options = {});

}  // namespace dolibak::fingerprint
