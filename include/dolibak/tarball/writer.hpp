#pragma once
// Streaming tar writer: walks a documents tree (read only) and writes a pax archive, gzip or
// zstd compressed, into an io::Sink. Memory stays bounded whatever the size of the tree.
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/tarball/excludes.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace dolibak::tarball {

enum class Compression { none, gzip, zstd };

/// "none", "gzip", "zstd"; parse_compression accepts these and "gz", "zst" (ConfigError).
DOLIBAK_API std::string to_string(Compression c);
DOLIBAK_API Compression parse_compression(std::string_view name);
/// ".tar", ".tar.gz", ".tar.zst".
DOLIBAK_API std::string file_extension(Compression c);

/// Something that went wrong with one entry without making the archive invalid: a file that
/// grew, shrank, changed or vanished during the walk, or an unreadable entry skipped by option.
struct DOLIBAK_API Warning {
    std::string path;     ///< relative path in the tree
    std::string message;  ///< what happened
};

struct DOLIBAK_API WriteOptions {
    Compression compression = Compression::gzip;
    /// Compression level; -1 means the default (gzip 6, zstd 3).
    int level = -1;
    /// zstd worker threads (0: compress in the calling thread). Ignored for gzip.
    int threads = 0;
    /// Globs left out of the archive (see ExcludeMatcher); default: what Dolibarr regenerates.
    std::vector<std::string> excludes = default_excludes();
    /// Same tree, same bytes: owner ids 0 and names "root", no time stamp in the gzip header.
    bool reproducible = false;
    /// An entry that cannot be read (EACCES...) is a warning and is left out, instead of an
    /// error that fails the archive.
    bool skip_unreadable = false;
    /// Prefix of every name in the archive (e.g. "documents/"); empty by default, so names are
    /// relative to the tree ("facture/FA2401-0001/FA2401-0001.pdf").
    std::string prefix;
    /// Called for each warning as it happens (they are also returned in the summary).
    std::function<void(const Warning&)> on_warning;
};

/// What one exclude pattern left out of an archive.
struct DOLIBAK_API Exclusion {
    std::string pattern;
    std::uint64_t files = 0;  ///< non-directory entries (a pruned directory's content included)
    std::uint64_t bytes = 0;  ///< their content bytes
};

struct DOLIBAK_API WriteSummary {
    std::uint64_t entries = 0;  ///< entries written
    std::uint64_t files = 0;
    std::uint64_t directories = 0;
    std::uint64_t symlinks = 0;
    std::uint64_t hardlinks = 0;
    std::uint64_t excluded =
        0;  ///< entries left out by the excludes (a pruned directory counts once)
    /// One per exclude pattern, in the options' order (patterns that matched nothing too).
    std::vector<Exclusion> exclusions;
    std::uint64_t content_bytes = 0;  ///< bytes of file content stored
    std::uint64_t archive_bytes = 0;  ///< bytes written to the sink
    std::vector<Warning> warnings;
};

/// Writes the tree under `root` as a tar archive into `sink`, entries in byte order of their
/// names (per directory, depth first). Symlinks are stored, never followed (except `root`
/// itself); files are opened O_RDONLY|O_NOFOLLOW|O_NOATIME (without O_NOATIME where the kernel
/// refuses it). A file that changes during the walk is a Warning and the archive stays valid
/// (exactly the size in its header is written: zero-padded when it shrank, cut when it grew).
/// Does not finish or abort the sink. Throws IoError (naming the path) on an unreadable entry
/// unless skip_unreadable, ConfigError on bad options, Error from the sink.
DOLIBAK_API WriteSummary write_tar(const std::filesystem::path& root, io::Sink& sink,
                                   const WriteOptions& options = {});

}  // namespace dolibak::tarball
