// Probing a dump's connection path: read-only startup options, and one server session per
// connection (see session.hpp).
#include <dolibak/core/error.hpp>
#include <dolibak/pg/session.hpp>

#include <fmt/core.h>
#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

namespace dolibak::pg {

namespace {

using Clock = std::chrono::steady_clock;

// The answer to `sql` (the first value of its first row; empty for a command), or nullopt
// when no answer came within `limit` (a pooler that makes the connection wait for a free
// server session). Throws DatabaseError with the server's message when it fails.
std::optional<std::string> answer_within(Connection& c, const std::string& sql,
                                         std::chrono::milliseconds limit) {
    pg_conn* conn = c.get();
    if (PQsendQuery(conn, sql.c_str()) != 1)
        throw DatabaseError(fmt::format("cannot send a query: {}", PQerrorMessage(conn)));
    const auto deadline = Clock::now() + limit;
    while (PQisBusy(conn)) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return std::nullopt;
        pollfd fd{PQsocket(conn), POLLIN, 0};
        const int n = ::poll(&fd, 1, static_cast<int>(left.count()));
        if (n < 0 && errno != EINTR)
            throw Error(
                fmt::format("poll on a database connection failed: {}", std::strerror(errno)));
        if (n > 0 && PQconsumeInput(conn) != 1)
            throw DatabaseError(fmt::format("the connection failed: {}", PQerrorMessage(conn)));
    }
    std::optional<std::string> value;
    std::string error;
    while (PGresult* r = PQgetResult(conn)) {
        const Result owned(r);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0)
            value = PQgetvalue(r, 0, 0);
        else if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
            error = PQresultErrorMessage(r);
    }
    if (!error.empty()) {
        while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
        throw DatabaseError(error);
    }
    return value ? value : std::optional<std::string>(std::string());
}

[[noreturn]] void no_session(const ConnectionParams& p, const std::string& seen) {
    throw ConfigError(fmt::format(
        "{} does not keep one server session per connection ({}): a pooler in transaction or "
        "statement pooling mode is in the way. pg_dump needs one session for its snapshot and "
        "its session settings; point dolibak at a pool with pool_mode = session (PgBouncer: a "
        "[databases] entry with pool_mode=session) or at PostgreSQL directly",
        p.describe(), seen));
}

}  // namespace

std::string SessionProbe::read_only_by() const {
    if (startup_options)
        return "read-only session (startup option default_transaction_read_only=on)";
    return "read-only by pg_dump's own READ ONLY transaction (startup options do not reach the "
           "server: " +
           startup_options_refused + ")";
}

SessionProbe probe_session(const ConnectionParams& p) {
    SessionProbe probe;
    // 1. The startup options: refused by PgBouncer ("unsupported startup parameter"), or
    //    dropped by a pooler told to ignore them; only SHOW tells.
    std::optional<std::string> refusal;
    try {
        Connection c(p, read_only_startup_options);
        probe.server_version = c.server_version();
        const std::string ro = c.scalar("SHOW default_transaction_read_only");
        if (ro == "on")
            probe.startup_options = true;
        else
            probe.startup_options_refused =
                "the startup options were accepted but default_transaction_read_only is " + ro;
    } catch (const DatabaseError& e) {
        refusal = e.what();
    }
    // 2. One server session per connection. Connection `a` notes its server process; while
    //    `b` holds a transaction, `a` must still have that process and `b` another one. A
    //    transaction pooler hands a's process to b (or a a new one).
    Connection a(p);  // fails here as a plain connection would, with libpq's message
    if (refusal) probe.startup_options_refused = *refusal;
    if (!probe.server_version) probe.server_version = a.server_version();
    const std::string a1 = a.scalar("SELECT pg_backend_pid()");
    Connection b(p);
    // With session pooling and every server session taken (a holds one), b waits for a
    // server: that wait is itself the evidence.
    std::optional<std::string> begun;
    try {
        begun = answer_within(b, "BEGIN", std::chrono::seconds(5));
    } catch (const DatabaseError& e) {
        no_session(p, std::string("a transaction block was refused: ") + e.what());
    }
    if (!begun) {
        probe.session_evidence =
            "a second connection waited for a server session while the first held its own";
        probe.one_session_at_a_time = true;
        return probe;
    }
    const std::string b1 = b.scalar("SELECT pg_backend_pid()");
    const std::string a2 = a.scalar("SELECT pg_backend_pid()");
    b.exec("COMMIT");
    if (b1 == a1) no_session(p, "two connections were served by the same server process " + a1);
    if (a2 != a1)
        no_session(p, "one connection was served by server processes " + a1 + " and " + a2);
    probe.session_evidence = "each connection kept its own server process";
    return probe;
}

}  // namespace dolibak::pg
