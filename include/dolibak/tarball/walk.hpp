#pragma once
// The ordered, link-safe walk of a documents tree shared by the tar writer and the
// documents fingerprint (so both see exactly the same entries in the same order).
#include <dolibak/core/export.hpp>
#include <dolibak/tarball/excludes.hpp>

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace dolibak::tarball {

struct DOLIBAK_API WalkEntry {
    std::string path;         ///< relative to the root, '/'-separated, no leading "./"
    struct stat st {};        ///< lstat of the entry
    int parent_fd = -1;       ///< open directory holding the entry (valid during the callback)
    std::string name;         ///< last component
    std::string link_target;  ///< for symlinks
};

struct DOLIBAK_API WalkHandlers {
    /// Called for every included entry, parents before children, names in byte order.
    std::function<void(const WalkEntry&)> entry;
    /// Called when an entry vanished between readdir and lstat (path, errno).
    std::function<void(const std::string&, int)> vanished;
    /// Called when a directory cannot be opened or read, or a symlink read (path, what, errno):
    /// throw to fail, or return to skip the entry.
    std::function<void(const std::string&, const std::string&, int)> unreadable;
    /// Called for each entry (or pruned directory) left out by the excludes: its path, the
    /// index of the pattern that excluded it, and what it held: files (every non-directory
    /// entry, the pruned directory's content included) and their bytes (regular files' sizes).
    std::function<void(const std::string&, int pattern, std::uint64_t files, std::uint64_t bytes)>
        excluded;
};

DOLIBAK_API void walk(const std::filesystem::path& root, const ExcludeMatcher& excludes,
                      const WalkHandlers& handlers);

/// Opens a file of the walk read-only, without following links, without updating atime
/// where the kernel allows it. Returns -1 with errno set on failure.
DOLIBAK_API int open_for_reading(int parent_fd, const std::string& name);

}  // namespace dolibak::tarball
