#pragma once
// The documents index of one packs-mode run (docs/packs.md): every entry of the tree with
// its metadata and, for a regular file, the blobs that hold its content and where each lives
// (pack key, offset and length of its zstd frame). Version 1 (written whole): zstd-compressed
// JSON lines, a header line, one line per entry in walk order, a trailer line with the counts.
// Version 2 (a tree of pieces): the same header naming the root piece, then the trailer; each
// directory's entries are a piece, stored as a blob in the packs (docs/packs.md, "Objects").
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::store {
class Store;
}
namespace dolibak::io {
class AgeIdentities;
}

namespace dolibak::packs {

class Relocations;

/// Where one blob (a piece of a file's content, at most the blob size) is stored.
struct DOLIBAK_API BlobRef {
    std::string sha256;        ///< of the blob's uncompressed bytes, 64 hex digits
    std::string pack;          ///< store key of its pack ("packs/ab/<sha256>.pack", or ".pack.age")
    std::uint64_t offset = 0;  ///< of its zstd frame in the pack
    std::uint64_t length = 0;  ///< of its zstd frame
    std::uint64_t size = 0;    ///< uncompressed
    bool operator==(const BlobRef&) const = default;
};

enum class EntryType { file, directory, symlink };

struct DOLIBAK_API IndexEntry {
    std::string path;  ///< relative, '/'-separated, as the tar mode names it
    EntryType type = EntryType::file;
    std::uint32_t mode = 0;  ///< permission bits (07777)
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t size = 0;  ///< regular files: the content's size (the sum of the blobs' sizes)
    std::string target;      ///< symlinks
    /// Change detection for the next run (a file with the same size, mtime, ctime and inode is
    /// not read again): never used to restore.
    std::int64_t ctime_ns = 0;
    std::uint64_t inode = 0;
    std::vector<BlobRef> blobs;  ///< regular files, in content order
    /// Directories of a version 2 index: the piece that lists the directory's entries, as
    /// referenced (its pack before any move record is followed), and how many entries it
    /// lists. Empty in a version 1 index.
    BlobRef piece;
    std::uint64_t piece_entries = 0;
};

struct DOLIBAK_API IndexTotals {
    std::uint64_t entries = 0;
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;  ///< content bytes of the regular files
};

/// The key of a pack: "packs/<first two hex digits>/<sha256>.pack", with a further ".age"
/// when it is encrypted (then `sha256_hex` is the digest of the encrypted bytes stored).
DOLIBAK_API std::string pack_key(std::string_view sha256_hex, bool encrypted = false);
/// Whether a pack key names an encrypted pack (".pack.age").
DOLIBAK_API bool is_encrypted_pack(std::string_view key);
/// The key of a run's index: "docs/<ts>.index.zst".
DOLIBAK_API std::string index_key(std::string_view run_timestamp);

/// Writes an index into a sink (zstd-compressed). finish() writes the trailer and finishes
/// the sink (for a store sink: publishes the index, the run's commit point); a writer
/// destroyed unfinished aborts it.
class DOLIBAK_API IndexWriter {
public:
    IndexWriter(io::Sink& next, std::string_view run);
    ~IndexWriter();
    IndexWriter(const IndexWriter&) = delete;
    IndexWriter& operator=(const IndexWriter&) = delete;
    void add(const IndexEntry& entry);
    void finish();
    void abort() noexcept;
    const IndexTotals& totals() const noexcept { return totals_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    IndexTotals totals_;
};

/// What reading a version 2 index (a tree of pieces in the packs) needs, and what a reader
/// may want to know of its pieces.
struct DOLIBAK_API TreeAccess {
    store::Store* store = nullptr;
    const io::AgeIdentities* identities = nullptr;  ///< open pieces in encrypted packs
    Relocations* moved = nullptr;  ///< follows repacked packs (null: the reader's own)
    /// Called for each piece before it is read: its reference as the tree holds it (its
    /// pack before any move record is followed) and whether it is the root.
    std::function<void(const BlobRef&)> on_piece;
    /// Called once a piece was read (and checked), with its text: a reference in it to a
    /// piece of its own pack says "." (the writer reuses a piece by the digest of its text
    /// with those resolved).
    std::function<void(const BlobRef&, std::string_view text)> on_piece_read;
    /// Set: a piece whose location (pack as referenced and offset) is in it is not read again
    /// (its entries are not returned, the counts are not checked); read ones are added.
    std::set<std::string>* seen = nullptr;
};

/// Reads an index. next() returns the entries in order, then nothing once the trailer was
/// read and checked; a stream that is not an index, ends before its trailer or whose trailer
/// disagrees with the entries read raises FormatError. A version 2 index needs `tree` (its
/// store): without it, FormatError.
class DOLIBAK_API IndexReader {
public:
    explicit IndexReader(io::Source& compressed, const TreeAccess* tree = nullptr);
    ~IndexReader();
    IndexReader(const IndexReader&) = delete;
    IndexReader& operator=(const IndexReader&) = delete;
    const std::string& run() const noexcept { return run_; }
    int version() const noexcept { return version_; }
    /// Version 2: the root piece (as referenced) and how many entries it lists.
    const std::optional<BlobRef>& root() const noexcept { return root_; }
    std::optional<IndexEntry> next();
    /// Valid once next() returned nothing.
    const IndexTotals& totals() const noexcept { return totals_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string run_;
    int version_ = 1;
    std::optional<BlobRef> root_;
    IndexTotals totals_;
};

/// Writes a version 2 index (its root piece and the counts) into `next` and finishes it.
DOLIBAK_API void write_tree_index(io::Sink& next, std::string_view run, const BlobRef& root,
                                  const IndexTotals& totals);

}  // namespace dolibak::packs
