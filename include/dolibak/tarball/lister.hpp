#pragma once
// Lister and verifier of tar archives (any compression libarchive reads: gzip, zstd, none).
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace dolibak::tarball {

enum class EntryType {
    file,
    directory,
    symlink,
    hardlink,
    character_device,
    block_device,
    fifo,
    socket,
    other
};
/// "file", "directory", "symlink", "hardlink", "chardev", "blockdev", "fifo", "socket", "other".
DOLIBAK_API std::string to_string(EntryType t);

struct DOLIBAK_API Entry {
    std::string path;  ///< name as stored (bytes)
    EntryType type = EntryType::other;
    std::uint64_t size = 0;  ///< content bytes (0 for links and directories)
    unsigned mode = 0;       ///< permission bits (07777)
    std::int64_t mtime_sec = 0;
    std::int64_t mtime_nsec = 0;
    std::string link_target;  ///< symlink target, or the hard link's first name
    std::int64_t uid = 0;
    std::int64_t gid = 0;
    std::string uname;
    std::string gname;
};

struct DOLIBAK_API ListSummary {
    std::uint64_t entries = 0;
    std::uint64_t files = 0;
    std::uint64_t directories = 0;
    std::uint64_t symlinks = 0;
    std::uint64_t hardlinks = 0;
    std::uint64_t other = 0;
    std::uint64_t content_bytes = 0;  ///< sum of the file sizes
    std::uint64_t archive_bytes = 0;  ///< bytes read from the source (compressed)
    std::uint64_t tar_bytes = 0;      ///< bytes of the uncompressed tar stream
    std::string compression;          ///< "gzip", "zstd", "none"
    std::string format;  ///< libarchive's name of the format ("POSIX pax interchange format"...)
};

/// Reads the whole archive, every byte of every entry, checking the compression stream and the
/// tar framing; calls on_entry for each entry in order. Throws FormatError with the offset (in
/// the compressed stream) of the first defect, or the source's error.
DOLIBAK_API ListSummary list_tar(io::Source& archive,
                                 const std::function<void(const Entry&)>& on_entry = {});

}  // namespace dolibak::tarball
