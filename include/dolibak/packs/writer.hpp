#pragma once
// The packs-mode documents backup (docs/packs.md): walks the tree with the tar mode's
// excludes, stores each file's content once (split into blobs of at most blob_size bytes,
// each one zstd frame, grouped into packs named by their SHA-256), and writes the run's index
// last. Content already stored (a previous index names it and its pack is present) is not
// uploaded again; a file whose size, mtime, ctime and inode equal the previous index's is not
// even read.
#include <dolibak/core/cancel.hpp>
#include <dolibak/core/export.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/store/store.hpp>
#include <dolibak/tarball/writer.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dolibak::packs {

struct DOLIBAK_API WriterOptions {
    std::vector<std::string> excludes;         ///< the tar mode's globs (tarball::ExcludeMatcher)
    std::size_t pack_size = 16 * 1024 * 1024;  ///< a pack is uploaded once it holds this much
    std::size_t blob_size = 8 * 1024 * 1024;   ///< largest piece of a file stored as one blob
    int level = 3;                             ///< zstd level of each blob
    /// Set: every pack is written as an age file to these recipients, under
    /// pack_key(<SHA-256 of the encrypted bytes>, true), and only encrypted packs of earlier
    /// runs are reused (plain ones only without it). The index sink's encryption is the
    /// caller's (docs/packs.md, "Encrypted stores").
    std::optional<io::AgeRecipients> encrypt_to;
    /// Open the move records of encrypted packs (packs/moved/<sha256>.json.age) that the
    /// previous index's blobs are followed through when their pack was repacked; without
    /// them such a record raises ConfigError (docs_mode packs with recipients requires an
    /// identity anyway).
    const io::AgeIdentities* identities = nullptr;
    /// A file or directory that cannot be opened is left out of the run with a warning (as
    /// the tar mode's skip_unreadable does) instead of failing it.
    bool skip_unreadable = false;
    /// Threads that hash and compress blobs beside the walk (0: all on the calling thread).
    /// The packs and the index are the same whatever the number.
    unsigned threads = 2;
    /// Where the previous index is copied for its second reading (an unlinked file; empty:
    /// the system's temporary directory).
    std::filesystem::path temp_dir;
    /// Bounds the entries (each ~0.5 KiB in memory) waiting for their blobs or their pack
    /// before their index lines are written: every max_waiting entries, the blobs read so far
    /// are completed and, if an entry still waits for the current pack, it is uploaded early
    /// (a tree of many small files then makes packs smaller than pack_size).
    std::size_t max_waiting = 16384;
    /// 2: the index is a tree of pieces in the packs (a directory unchanged since the previous
    /// run costs nothing); 1: the index is written whole (what earlier versions wrote; kept
    /// for tests and comparisons).
    int index_version = 2;
    std::function<void(const std::string&)> on_warning;
    std::shared_ptr<CancelToken> cancel;
};

struct DOLIBAK_API WriterSummary {
    IndexTotals totals;
    std::uint64_t files_read = 0;      ///< files whose content was read (not taken as unchanged)
    std::uint64_t blobs_new = 0;       ///< blobs stored by this run
    std::uint64_t bytes_new = 0;       ///< their uncompressed bytes
    std::uint64_t packs_uploaded = 0;  ///< pack objects written
    std::uint64_t pack_bytes = 0;      ///< their bytes (what was uploaded, the index aside)
    std::uint64_t pieces_new = 0;      ///< version 2: index pieces stored by this run
    std::uint64_t piece_bytes = 0;     ///< their compressed bytes (in pack_bytes)
    std::uint64_t pieces_kept = 0;     ///< directories whose previous piece was kept
    /// Entries left out by the excludes (a pruned directory counts once), and what each
    /// pattern left out, in the options' order, as the tar mode counts them.
    std::uint64_t excluded = 0;
    std::vector<tarball::Exclusion> exclusions;
};

/// Backs up `root` into `store`: packs first (content, then the index's pieces), then the
/// index into `index_sink` (which is finished last: for a store sink under index_key(run),
/// the run's commit point). `previous`,
/// when given, is the newest earlier index (its content is reused). On any failure the index
/// sink is aborted (packs already uploaded stay, unreferenced, for the garbage collection).
DOLIBAK_API WriterSummary write_tree(store::Store& store, const std::filesystem::path& root,
                                     io::Sink& index_sink, std::string_view run,
                                     io::Source* previous, const WriterOptions& options = {});

}  // namespace dolibak::packs
