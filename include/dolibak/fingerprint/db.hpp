#pragma once
// Fingerprint of a database's durable business content: equal fingerprints mean no committed
// change to any included table and no schema change, so the DB half can be skipped.
#include <dolibak/core/export.hpp>
#include <dolibak/pgdump/tools.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::fingerprint {

enum class DbMode {
    /// Per table: row count and the multiset of the rows' xmin (the id of the transaction
    /// that wrote each row version). Every committed INSERT, UPDATE (even of a table without
    /// `tms` or without its trigger), DELETE and TRUNCATE changes it; a seq scan per table, no
    /// data transferred. The default.
    xmin,
    /// Per table: row count and an order-independent hash of every row's content, streamed
    /// with COPY. The reference: changes only when the data does; costs a full read.
    content,
    /// The original scripts' way, kept for compatibility: count(*) and max(<change column>)
    /// of the tables that have that column. Blind to edits of tables without the column (every
    /// invoice line table) or without its update trigger.
    count_tms,
};

DOLIBAK_API std::string_view to_string(DbMode mode) noexcept;
/// "xmin", "content" or "count-tms"; throws ConfigError naming the bad value.
DOLIBAK_API DbMode parse_db_mode(std::string_view text);

struct DOLIBAK_API DbOptions {
    DbMode mode = DbMode::xmin;
    /// Only tables whose name matches one of these globs (fnmatch) are considered; empty: all
    /// tables outside the system schemas.
    std::vector<std::string> include_tables = {"llx_*"};
    /// Tables left out (volatile ones: llx_const, llx_user, ...), as globs over the table name
    /// or "schema.table".
    std::vector<std::string> exclude_tables;
    /// The change column of count_tms mode.
    std::string change_column = "tms";
    /// The pre-check state a previous fingerprint returned (DbFingerprint::state), to decide
    /// which tables can reuse their digest without a scan (docs/fingerprint.md, "Quiet days");
    /// empty: every table is scanned. A state that cannot be read, or was taken with other
    /// options, on another server or before a restart, makes every table scanned.
    std::string previous_state;
    /// Whether to use previous_state at all (false: always the full scan).
    bool precheck = true;
    /// Sharing the fingerprint's snapshot (pg_dump --snapshot): when set, the fingerprint's
    /// transaction exports its snapshot right after it begins (after the pre-check's signals
    /// are read) and passes its id here, so that another session can read exactly the state
    /// the fingerprint describes. Throws when the server cannot export one.
    std::function<void(const std::string& snapshot)> share_snapshot{};
    /// With share_snapshot: called once the fingerprint is computed, before its transaction
    /// ends (which ends the exported snapshot's life): returns when the other session has
    /// imported it (or will not).
    std::function<void()> before_release{};
};

struct DOLIBAK_API TableFingerprint {
    std::string schema;
    std::string name;
    std::uint64_t rows = 0;
    std::string digest;  ///< mode-specific, hex
    /// SHA-256 hex of the table's line in the combined value (rows and digest): equal for
    /// two fingerprints of the same mode exactly when the table's line is. What `.fp-db`
    /// keeps per table so that a later run can name the tables that changed.
    std::string line_digest() const;
};

struct DOLIBAK_API DbFingerprint {
    DbMode mode = DbMode::xmin;
    std::string value;          ///< SHA-256 hex over the schema digest and every table's line
    std::string schema_digest;  ///< SHA-256 hex of the schema description
    std::vector<TableFingerprint> tables;  ///< included tables, sorted by schema and name
    std::vector<std::string> excluded;     ///< "schema.table" of tables left out
    double seconds = 0;
    /// Tables read row by row this time; the others reused their digest from previous_state.
    std::size_t scanned = 0;
    /// How the pre-check decided, for logs: "no stored state", "no transaction committed
    /// since", "statistics counters", or why it could not be trusted.
    std::string precheck;
    /// What the next fingerprint needs for its pre-check (JSON text, see
    /// docs/fingerprint.md): stored beside the fingerprint in `.fp-db`.
    std::string state;

    /// Names of tables whose line differs between two fingerprints of the same mode, plus
    /// "(schema)" when the schema changed: what changed, for logs.
    std::vector<std::string> differences(const DbFingerprint& other) const;
};

/// Computes the fingerprint in one REPEATABLE READ READ ONLY transaction (a single snapshot),
/// reading only. Throws DatabaseError.
DOLIBAK_API DbFingerprint fingerprint_database(const pgdump::ConnectionParams& conn,
                                               const DbOptions& options);

}  // namespace dolibak::fingerprint
