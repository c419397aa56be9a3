#pragma once
// The connection path of a dump, probed before pg_dump runs: whether the read-only startup
// options reach the server (a pooler such as PgBouncer refuses or drops them), and whether
// the path keeps one server session per connection (pg_dump's snapshot and its session
// settings need that: session pooling or no pooler; transaction and statement pooling break
// it). `backup`, `refresh` and `check` take the same path through probe_session().
#include <dolibak/core/export.hpp>
#include <dolibak/pg/connection.hpp>

#include <string>

namespace dolibak::pg {

/// The startup options that make every transaction of a session read-only.
inline constexpr const char* read_only_startup_options = "-c default_transaction_read_only=on";

struct DOLIBAK_API SessionProbe {
    int server_version = 0;  ///< PQserverVersion, e.g. 150020
    /// The server took read_only_startup_options: a session opened with them is read-only
    /// (checked with SHOW, not assumed).
    bool startup_options = false;
    /// Why not, when not: the pooler's refusal ("unsupported startup parameter: options"),
    /// or that the setting did not arrive (a pooler told to ignore the parameter).
    std::string startup_options_refused;
    /// How the path was seen to keep one server session per connection.
    std::string session_evidence;
    /// The path served a second connection only once the first let go of its server
    /// session (a pool of one): two sessions at once (a fingerprint beside pg_dump) would
    /// wait for each other.
    bool one_session_at_a_time = false;

    /// One line for logs and `check`: how a dump's session is read-only on this path.
    std::string read_only_by() const;
};

/// Probes the path to `p` (three short connections). Throws DatabaseError when the database
/// cannot be reached (libpq's message, as a plain connection would give it), and ConfigError
/// when the path does not keep one server session per connection, saying what to change.
DOLIBAK_API SessionProbe probe_session(const ConnectionParams& p);

}  // namespace dolibak::pg
