#pragma once
// Native reader of pg_dump's custom archive format (-Fc), versions 1.12 to 1.16 (pg_dump 9.0
// to 18). The reader is push-style: it is an io::Observer that sits in a pipeline (pg_dump's
// stdout -> observers -> sink) and parses the archive as the bytes go by, in one pass with
// bounded memory: the header, every TOC entry, then every data block, whose compressed
// stream (zlib, lz4 or zstd) is inflated on the fly to count COPY rows and uncompressed
// bytes. It accepts archives written to a pipe (offsets not set) and to a file (offsets set,
// and then checked against where each block really starts).
//
// update() never throws: the first defect is recorded (with its byte offset) and the rest of
// the stream is ignored. finish() declares the end of the stream; result() then tells whether
// the archive is complete and sound.
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dolibak::pgdump {

enum class Compression { none, gzip, lz4, zstd };
DOLIBAK_API std::string to_string(Compression c);

/// Where an entry's data block is, as the TOC says.
enum class OffsetState {
    not_set = 1,  ///< has data, archive written to a pipe: blocks are found by reading on
    set = 2,      ///< has data at `offset` (archive written to a seekable file)
    no_data = 3,  ///< the entry has no data block
};

struct DOLIBAK_API ArchiveHeader {
    int version_major = 0;
    int version_minor = 0;
    int version_rev = 0;
    int int_size = 0;
    int offset_size = 0;
    int format = 0;  ///< 1 = custom
    Compression compression = Compression::none;
    /// Archives before 1.15 record a zlib level (-1 = default, 0 = none) instead.
    std::optional<int> compression_level;
    /// The dump's start time, as pg_dump recorded it (the dumping machine's local time):
    /// "YYYY-MM-DD HH:MM:SS".
    std::string created;
    bool created_dst = false;
    std::string dbname;
    std::string server_version;   ///< "Dumped from database version"
    std::string pg_dump_version;  ///< "Dumped by pg_dump version"
    int toc_count = 0;
    /// "1.14-0".
    std::string version_string() const;
    /// major*10000 + minor*100 + rev, comparable.
    int version() const noexcept {
        return version_major * 10000 + version_minor * 100 + version_rev;
    }
};

struct DOLIBAK_API TocEntry {
    std::uint64_t toc_offset = 0;  ///< where the entry starts in the archive (its dump id)
    int dump_id = 0;
    bool had_dumper = false;
    std::uint32_t table_oid = 0;
    std::uint32_t oid = 0;
    std::string tag;
    std::string desc;  ///< "TABLE", "TABLE DATA", "FUNCTION", "ACL", "BLOBS", ...
    int section = 0;   ///< 1 none, 2 pre-data, 3 data, 4 post-data
    std::uint64_t defn_bytes = 0;
    std::uint64_t drop_bytes = 0;
    std::string copy_stmt;  ///< "COPY public.t (a, b) FROM stdin;" for COPY data, else empty
    std::string schema;     ///< the entry's namespace; empty when none
    std::string tablespace;
    std::string tableam;  ///< from 1.14
    int relkind = 0;      ///< from 1.16 (a pg_class relkind character, 0 when none)
    std::string owner;
    std::vector<int> dependencies;
    OffsetState offset_state = OffsetState::no_data;
    std::uint64_t offset = 0;  ///< meaningful when offset_state == set

    // Filled from the data block (when the entry has one).
    bool data_seen = false;
    std::uint64_t block_offset = 0;     ///< where its block starts in the stream
    std::uint64_t stored_bytes = 0;     ///< chunk payload bytes as stored (compressed)
    std::uint64_t data_bytes = 0;       ///< uncompressed payload bytes
    std::optional<std::uint64_t> rows;  ///< COPY rows (TABLE DATA in COPY form)
    std::uint64_t large_objects = 0;    ///< BLOBS blocks: number of large objects

    bool has_data() const noexcept { return offset_state != OffsetState::no_data; }
};

struct DOLIBAK_API TableStats {
    std::string schema;
    std::string name;
    int dump_id = 0;
    std::optional<std::uint64_t> rows;  ///< nullopt when the data is not COPY (--inserts)
    std::uint64_t bytes = 0;            ///< uncompressed data bytes
};

struct DOLIBAK_API ArchiveSummary {
    ArchiveHeader header;
    std::vector<TocEntry> entries;  ///< in archive order
    std::map<std::string, int> counts_by_desc;
    std::vector<TableStats> tables;  ///< TABLE DATA entries, in archive order
    std::uint64_t large_objects = 0;
    std::uint64_t archive_bytes = 0;  ///< bytes read
    std::uint64_t data_bytes = 0;     ///< uncompressed data bytes, all blocks
    /// Offsets were set (archive written to a seekable file).
    bool offsets_set = false;
    /// Size of the copy of the TOC that follows the last data block, 0 when none. pg_dump
    /// writing to a file opened for appending leaves one (`pg_dump -Fc >> file`, and from
    /// pg_dump 16 on `pg_dump -Fc > file` too): at its end it seeks back to rewrite the TOC
    /// with the blocks' offsets, and in append mode that write lands at the end. pg_restore
    /// reads the first TOC and ignores it; the reader accepts exactly that copy (the entry
    /// count, then the same entries, byte for byte, but offsets that are set to where each
    /// block starts) and reports any other trailer as trailing_garbage with its size.
    std::uint64_t toc_copy_bytes = 0;

    const TocEntry* find(int dump_id) const noexcept;
    /// The stats of schema.name, or nullptr.
    const TableStats* table(const std::string& schema, const std::string& name) const noexcept;
};

enum class Defect {
    none,
    empty,
    bad_magic,
    unsupported_version,
    bad_header,
    truncated_header,
    truncated_toc,
    bad_toc,
    truncated_block,
    unknown_block,
    out_of_order_block,
    bad_offset,
    missing_block,
    bad_compressed_stream,
    unsupported_compression,
    trailing_garbage,
};
DOLIBAK_API std::string to_string(Defect d);

struct DOLIBAK_API VerifyResult {
    Defect defect = Defect::none;
    std::string message;  ///< empty when ok
    std::uint64_t offset = 0;
    bool ok() const noexcept { return defect == Defect::none; }
};

struct DOLIBAK_API ReaderOptions {
    /// Largest TOC string the reader keeps (tags, names, COPY statements); larger ones are a
    /// defect. Definitions (defn, drop statements) are never kept, only counted.
    std::size_t max_string = 1 << 20;
    /// Largest TOC entry count accepted (a corrupt count must not cost memory).
    int max_entries = 10'000'000;
    /// false: the data blocks are walked by their structure only (block types, dump ids,
    /// order, offsets, chunk lengths, end markers, the TOC's copy), their payload is not
    /// inflated: no rows, no uncompressed bytes, no check of the compressed streams. Only for
    /// bytes proven equal to bytes once read whole (a restore whose object matched the
    /// manifest's digest: see RestoreOptions::recorded_summary).
    bool inflate_data = true;
};

class DOLIBAK_API ArchiveReader final : public io::Observer {
public:
    explicit ArchiveReader(ReaderOptions options = {});
    ~ArchiveReader() override;
    ArchiveReader(const ArchiveReader&) = delete;
    ArchiveReader& operator=(const ArchiveReader&) = delete;

    /// Parses the next bytes of the archive. Never throws.
    void update(io::Bytes data) override;
    /// The stream ended: checks that the archive was complete. Idempotent.
    void finish();

    /// Whether a defect was found so far (true as soon as one is).
    bool failed() const noexcept;
    /// The header has been read (header().toc_count is known).
    bool header_done() const noexcept;
    /// The whole TOC has been read: summary().entries is complete (data stats are not).
    bool toc_done() const noexcept;
    /// After finish(): ok or the first defect.
    VerifyResult result() const;
    /// What was read so far (complete after finish()).
    const ArchiveSummary& summary() const noexcept;
    /// finish(), then throws FormatError(message, offset) unless the archive is sound.
    const ArchiveSummary& check();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Reads a whole archive from a source; throws FormatError on the first defect.
DOLIBAK_API ArchiveSummary read_archive(io::Source& source);
DOLIBAK_API ArchiveSummary read_archive(const std::filesystem::path& path);
/// Reads a whole archive and returns the verification result (never throws FormatError;
/// I/O errors still throw) together with what was read.
DOLIBAK_API std::pair<VerifyResult, ArchiveSummary> verify_archive(io::Source& source);
/// Like verify_archive, but a zstd-compressed archive (<ts>.dump.zst) is decompressed on the
/// fly. A broken zstd layer is reported as a defect too. `name` is used in messages.
DOLIBAK_API std::pair<VerifyResult, ArchiveSummary> open_and_verify(io::Source& source,
                                                                    const std::string& name);
/// The verification result and summary as JSON ("schema": "dolibak.inspect/1", docs/json.md):
/// {"schema", "ok", "defect", "message", "offset", ...summary}.
DOLIBAK_API std::string verification_json(const VerifyResult& result,
                                          const ArchiveSummary& summary);

struct DOLIBAK_API ListingOptions {
    /// Print the header comment block pg_restore -l prints (in pg_restore 16's style).
    bool header = true;
    /// List every entry (like pg_restore -l -v), not only those a default restore selects,
    /// and add the ";\tdepends on:" lines.
    bool verbose = false;
};

/// Whether pg_restore, with default options (no --create), restores this entry.
DOLIBAK_API bool selected_by_default(const TocEntry& e);
/// pg_restore -l's line for an entry: "id; tableoid oid desc schema tag owner".
DOLIBAK_API std::string listing_line(const TocEntry& e);
/// The listing pg_restore -l prints.
DOLIBAK_API std::string listing(const ArchiveSummary& summary, const ListingOptions& options = {});

/// The summary as JSON text (for the CLI and Python).
DOLIBAK_API std::string summary_json(const ArchiveSummary& summary, bool with_entries = true);
/// The summary a run's manifest keeps, compact: header facts, counts by type, totals and per
/// table `[rows, uncompressed bytes]` (rows null for --inserts data) under "tables", keyed
/// by name ("schema.name" outside public). About 10 KiB for Dolibarr's 308 tables; the whole
/// TOC stays in the archive itself (`dolibak inspect` reads it from there).
DOLIBAK_API std::string manifest_summary_json(const ArchiveSummary& summary);

/// What a run's manifest recorded of an archive read whole at backup (manifest_summary_json).
struct DOLIBAK_API RecordedCounts {
    std::vector<TableStats> tables;   ///< in archive order, as ArchiveReader::finish() lists them
    std::uint64_t data_bytes = 0;     ///< uncompressed data bytes, all blocks
    std::uint64_t large_objects = 0;  ///< large objects, all BLOBS blocks
};

/// The tables of `toc` (an archive whose TOC has been read) with the rows and uncompressed
/// bytes that `manifest_summary` (manifest_summary_json of the same archive read whole)
/// records. nullopt when the recorded summary does not describe exactly the TOC's table data:
/// unparsable, another number of tables, a name it lacks or two TOC tables under one name,
/// rows recorded for data that is not COPY or missing for data that is.
DOLIBAK_API std::optional<RecordedCounts> recorded_counts(const ArchiveSummary& toc,
                                                          const std::string& manifest_summary);

}  // namespace dolibak::pgdump
