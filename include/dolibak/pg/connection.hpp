#pragma once
// PostgreSQL through libpq: where a database is and who connects (ConnectionParams), and one
// connection with RAII and small query helpers (Connection). libpq itself stays private: its
// handles appear here only as the opaque pg_conn and pg_result, which the layers that call
// libpq directly (pgdump, fingerprint, job) pass to its functions.
#include <dolibak/core/export.hpp>
#include <dolibak/core/secret.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// libpq's handle types (PGconn, PGresult), declared without including libpq-fe.h.
struct pg_conn;
struct pg_result;

namespace dolibak::pg {

/// Where a database is and who connects. Children (pg_dump, pg_restore, psql) get it through
/// libpq environment variables: the password only ever in PGPASSWORD, never on a command line.
struct DOLIBAK_API ConnectionParams {
    std::string host;  ///< host name, address or socket directory
    int port = 5432;
    std::string user;
    std::string dbname;
    Secret password;
    std::string sslmode;  ///< empty: libpq's default

    /// PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD (when set), PGSSLMODE (when set);
    /// PGSERVICE and PGPASSFILE neutralised so that nothing else changes the target. For a
    /// caller's own tools; the children dolibak runs get pg::ClientEnvironment (client_env.hpp),
    /// which keeps the password out of their environment.
    std::vector<std::pair<std::string, std::optional<std::string>>> env() const;
    /// "user@host:port/dbname" (no password), for messages.
    std::string describe() const;
};

/// Frees a libpq result (PQclear).
struct DOLIBAK_API ResultDeleter {
    void operator()(pg_result* r) const noexcept;
};
/// A libpq result (PGresult) that frees itself.
using Result = std::unique_ptr<pg_result, ResultDeleter>;

/// One libpq connection, closed on destruction.
class DOLIBAK_API Connection {
public:
    /// Connects (30 s timeout, application_name "dolibak"); throws DatabaseError naming the
    /// target (never the password) and libpq's message.
    explicit Connection(const ConnectionParams& p);
    /// The same with libpq's `options` startup parameter (e.g. "-c name=value").
    Connection(const ConnectionParams& p, const std::string& startup_options);
    /// The libpq handle (a PGconn*), for calls the helpers below do not cover.
    pg_conn* get() const noexcept { return conn_.get(); }
    /// Runs a statement; throws DatabaseError unless it succeeds.
    Result exec(const std::string& sql);
    /// Single text value of a one-row query.
    std::string scalar(const std::string& sql);
    std::string quote_ident(const std::string& s);
    std::string quote_literal(const std::string& s);
    /// The server's version (PQserverVersion, e.g. 150020).
    int server_version() const noexcept;

private:
    struct ConnDeleter {
        void operator()(pg_conn* c) const noexcept;
    };
    std::unique_ptr<pg_conn, ConnDeleter> conn_;
    std::string where_;
};

}  // namespace dolibak::pg
