#pragma once
// Restore with proof: pg_restore into an explicit database, then a check of the restored
// database against the archive's summary (every table present with its row count, a minimum
// number of tables matching a pattern). pg_restore's exit status alone is never trusted.
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/pgdump/archive.hpp>
#include <dolibak/pgdump/tools.hpp>

#include <optional>
#include <string>
#include <vector>

namespace dolibak::pgdump {

/// What a restore must show besides the archive's tables and rows. Each field left unset takes
/// its default: a job's, from its application profile (job/profile.hpp); this layer's
/// (default_table_pattern, default_min_tables) when pgdump is used directly.
struct DOLIBAK_API ProofOptions {
    std::optional<std::string> table_pattern;  ///< SQL LIKE pattern on table names
    std::optional<int> min_tables;             ///< at least this many tables match the pattern

    static constexpr const char* default_table_pattern = "llx_%";
    static constexpr int default_min_tables = 250;
    std::string pattern() const { return table_pattern.value_or(default_table_pattern); }
    int minimum() const { return min_tables.value_or(default_min_tables); }
};

struct DOLIBAK_API RestoreOptions {
    ConnectionParams target;
    std::optional<PgTools> tools;
    std::optional<std::filesystem::path> tools_dir;
    bool no_owner = true;             ///< --no-owner (objects belong to the restoring role)
    bool no_privileges = false;       ///< --no-privileges (skip GRANT/REVOKE)
    std::optional<std::string> role;  ///< --role
    bool clean = false;               ///< --clean --if-exists
    bool single_transaction = true;   ///< --single-transaction (not with jobs > 1)
    int jobs = 1;                     ///< > 1: the archive is spooled to a temp file for -j
    std::optional<std::string> list;  ///< a pg_restore -L list (see toc_filter.hpp)
    /// Restore into a database that already holds tables (with clean, or after a reset).
    bool confirm_non_empty = false;
    /// Before restoring, dump the target into this file (a safety copy). A file of that name
    /// is never replaced: the restore is refused (ConfigError) when it exists.
    std::optional<std::filesystem::path> safety_dump;
    ProofOptions proof;
    std::filesystem::path temp_dir;  ///< for the -j spool file (default: the system's)
    /// The archive's summary as the run's manifest recorded it (manifest_summary_json), when
    /// the archive was read whole at backup (every block inflated, rows counted). Give it ONLY
    /// when the source throws before its end unless its bytes are exactly the ones read then
    /// (job::restore_db: the object's SHA-256 and size checked against the manifest): the
    /// restore then walks the data blocks by their structure only and takes each table's row
    /// count for the proof from it (docs/pgdump.md, "Counts recorded at backup"). A summary
    /// that does not describe exactly the archive's tables is ignored: every block is
    /// inflated and counted as without it.
    std::optional<std::string> recorded_summary;
};

struct DOLIBAK_API TableCheck {
    std::string schema;
    std::string name;
    /// nullopt: the archive has no row count (INSERT data, or the data was left out).
    std::optional<std::uint64_t> expected_rows;
    std::optional<std::uint64_t> actual_rows;  ///< nullopt: missing
};

struct DOLIBAK_API RestoreReport {
    ArchiveSummary archive;
    int pg_restore_exit = 0;
    std::string pg_restore_stderr;
    std::vector<TableCheck> tables;
    int pattern_tables = 0;  ///< tables matching the pattern in the restored database
    /// The safety dump of the target taken before the restore, when one was.
    std::optional<std::filesystem::path> safety_dump;
    /// The tables' row counts came from RestoreOptions::recorded_summary (the blocks were
    /// walked, not inflated), not from counting the archive's rows.
    bool recorded_counts = false;

    /// Tables found with the row count the archive records.
    std::size_t rows_matched() const noexcept;
    /// Tables found present where the archive records no row count (data as INSERTs, or
    /// the table's data left out of the restore): their rows are not proven.
    std::size_t present_only() const noexcept;
};

/// Streams the archive (plain or zstd-compressed) into pg_restore, then proves the restore.
/// Throws ConfigError (non-empty target without confirmation), FormatError (bad archive),
/// VerificationError (with every difference, pg_restore's failure included).
DOLIBAK_API RestoreReport restore(io::Source& archive, const RestoreOptions& options);

/// Compares a database with an archive summary. `only_ids`: restrict to these TABLE DATA
/// dump ids (a filtered restore). `connections`: the tables' rows are counted over that many
/// connections at once (restore() uses its `jobs`). Returns the report; throws
/// VerificationError listing the differences.
DOLIBAK_API RestoreReport prove_restored(const ConnectionParams& conn,
                                         const ArchiveSummary& archive, const ProofOptions& proof,
                                         const std::vector<int>* only_ids = nullptr,
                                         int connections = 1);

/// Dumps a database into a new file `path` (pg_dump -Fc): ConfigError when the file exists,
/// which is never replaced, even when it appears during the dump.
DOLIBAK_API void take_safety_dump(const ConnectionParams& conn, const PgTools& tools,
                                  const std::filesystem::path& path);

/// Number of relations (tables, views, sequences...) outside the system schemas, plus large
/// objects.
DOLIBAK_API int count_user_objects(const ConnectionParams& conn);

/// Sandbox reset: connected as the sandbox owner role, DROP OWNED BY that role CASCADE, then
/// restore the archive as that role (no superuser, no CREATEDB, no DROP DATABASE).
DOLIBAK_API RestoreReport reset_sandbox(io::Source& archive, RestoreOptions options);

}  // namespace dolibak::pgdump
