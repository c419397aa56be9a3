#pragma once
// The database fingerprint's pre-check (layer-private): what the server says about every table
// before the snapshot is taken, and the decision of which tables can reuse their stored digest
// without a scan. It can only say "maybe changed"; docs/fingerprint.md ("Quiet days") says what
// each signal can miss and why the combined result stays exact.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dolibak::pg {
class Connection;
}

namespace dolibak::fingerprint::detail {

/// Read in two autocommit statements before the fingerprint's snapshot.
struct ServerSignals {
    std::string snapshot;          ///< pg_current_snapshot() as text: "xmin:xmax:xip,..."
    std::string postmaster_start;  ///< pg_postmaster_start_time()
    std::string database;          ///< the database's oid
    std::string stats_reset;       ///< pg_stat_database.stats_reset ("" when never reset)
    /// pg_stat_bgwriter.stats_reset: set anew when the statistics are discarded (crash,
    /// immediate shutdown) or the shared counters are reset.
    std::string shared_stats_reset;
    bool track_counts = true;
    /// pg_is_in_recovery(): a standby counts no replayed write in its statistics.
    bool in_recovery = false;
    /// Other sessions of this database (autovacuum aside) that may hold statistics not yet
    /// flushed: anything but idle for longer than idle_flush_seconds, or not visible to us.
    std::size_t busy_sessions = 0;
    /// Per table oid: "relfilenode/n_tup_ins/n_tup_upd/n_tup_del".
    std::map<std::string, std::string> counters;
};

/// A backend idle (outside a transaction) flushes its pending statistics within
/// PGSTAT_IDLE_INTERVAL (10 s) with a forced, lock-waiting flush; this is that plus a margin.
inline constexpr int idle_flush_seconds = 15;

ServerSignals read_signals(pg::Connection& c);

struct StoredTable {
    std::string oid;
    std::string counters;  ///< ServerSignals::counters of the table when stored
    std::uint64_t rows = 0;
    std::string digest;
};

/// What a fingerprint leaves for the next one's pre-check (the "state" in `.fp-db`).
struct PrecheckState {
    std::string options;   ///< options_digest() of the fingerprint that wrote it
    ServerSignals server;  ///< its counters are in `tables`
    /// The schema's digest: reused with every table when no transaction committed since (a
    /// schema change is a catalog write: it has a transaction id).
    std::string schema_digest;
    std::map<std::string, StoredTable> tables;  ///< "schema.table"
    std::string to_json() const;
    /// Nothing when the text is not a state this version reads.
    static std::optional<PrecheckState> from_json(const std::string& text);
};

enum class Trust {
    nothing,   ///< scan every table
    horizon,   ///< no transaction committed since the stored snapshot: reuse every stored table
    counters,  ///< reuse a table whose oid, relfilenode and write counters are unchanged
};

struct Verdict {
    Trust trust = Trust::nothing;
    std::string reason;
    /// Nothing is trusted only because other sessions may hold unflushed statistics: worth
    /// asking again shortly (a session that just closed, such as the one that asked for the
    /// server's version, leaves pg_stat_activity within milliseconds, after its flush).
    bool sessions_busy = false;
};

/// How often and how long apart read_signals is repeated while Verdict::sessions_busy.
inline constexpr int busy_retries = 5;
inline constexpr int busy_retry_ms = 100;

/// Decides how far the stored state can be trusted. `committed` answers whether any of the
/// given transaction ids (the stored snapshot's in-progress ones) has committed since; it is
/// asked only when no transaction id was completed beyond the stored snapshot.
Verdict judge(const std::optional<PrecheckState>& stored, const std::string& options,
              const ServerSignals& now,
              const std::function<bool(const std::vector<std::string>& xids)>& committed);

/// Whether the table must be scanned under `verdict`: always when it has no stored entry or
/// its oid differs; under Trust::counters also when its counters differ.
bool must_scan(const Verdict& verdict, const StoredTable* stored, const std::string& oid,
               const std::string& counters);

/// Whether any of `xids` (decimal xid8) is committed, or too old to tell.
bool any_committed(pg::Connection& c, const std::vector<std::string>& xids);

}  // namespace dolibak::fingerprint::detail
