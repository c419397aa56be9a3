// A libpq connection: connection parameters, connecting, queries, quoting.
#include <dolibak/core/error.hpp>
#include <dolibak/pg/connection.hpp>

#include <fmt/core.h>
#include <libpq-fe.h>

namespace dolibak::pg {

void ResultDeleter::operator()(pg_result* r) const noexcept {
    PQclear(r);
}

void Connection::ConnDeleter::operator()(pg_conn* c) const noexcept {
    PQfinish(c);
}

std::vector<std::pair<std::string, std::optional<std::string>>> ConnectionParams::env() const {
    std::vector<std::pair<std::string, std::optional<std::string>>> e;
    e.emplace_back("PGHOST", host.empty() ? std::nullopt : std::optional<std::string>(host));
    e.emplace_back("PGPORT", std::to_string(port));
    e.emplace_back("PGUSER", user.empty() ? std::nullopt : std::optional<std::string>(user));
    e.emplace_back("PGDATABASE",
                   dbname.empty() ? std::nullopt : std::optional<std::string>(dbname));
    e.emplace_back("PGPASSWORD",
                   password.empty() ? std::nullopt : std::optional<std::string>(password.reveal()));
    e.emplace_back("PGSSLMODE",
                   sslmode.empty() ? std::nullopt : std::optional<std::string>(sslmode));
    e.emplace_back("PGSERVICE", std::nullopt);
    e.emplace_back("PGSERVICEFILE", std::nullopt);
    e.emplace_back("PGCONNECT_TIMEOUT", "30");
    if (!password.empty()) e.emplace_back("PGPASSFILE", "/dev/null");
    return e;
}

std::string ConnectionParams::describe() const {
    return fmt::format("{}@{}:{}/{}", user, host, port, dbname);
}

Connection::Connection(const ConnectionParams& p) : Connection(p, std::string()) {}

Connection::Connection(const ConnectionParams& p, const std::string& startup_options)
    : where_(p.describe()) {
    const std::string port = std::to_string(p.port);
    std::vector<const char*> keys, values;
    auto add = [&](const char* k, const std::string& v) {
        if (v.empty()) return;
        keys.push_back(k);
        values.push_back(v.c_str());
    };
    add("host", p.host);
    add("port", port);
    add("user", p.user);
    add("dbname", p.dbname);
    add("password", p.password.reveal());
    add("sslmode", p.sslmode);
    add("options", startup_options);
    keys.push_back("connect_timeout");
    values.push_back("30");
    keys.push_back("application_name");
    values.push_back("dolibak");
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_.reset(PQconnectdbParams(keys.data(), values.data(), 0));
    if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
        std::string msg = conn_ ? PQerrorMessage(conn_.get()) : "out of memory";
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        throw DatabaseError(fmt::format("cannot connect to {}: {}", where_, msg));
    }
}

Result Connection::exec(const std::string& sql) {
    Result r(PQexec(conn_.get(), sql.c_str()));
    const auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        std::string msg = PQerrorMessage(conn_.get());
        while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
        throw DatabaseError(fmt::format("query on {} failed: {}", where_, msg));
    }
    return r;
}

std::string Connection::scalar(const std::string& sql) {
    auto r = exec(sql);
    if (PQntuples(r.get()) < 1 || PQnfields(r.get()) < 1)
        throw DatabaseError("query returned no row: " + sql);
    return PQgetvalue(r.get(), 0, 0);
}

std::string Connection::quote_ident(const std::string& s) {
    char* q = PQescapeIdentifier(conn_.get(), s.data(), s.size());
    if (!q) throw DatabaseError("cannot quote identifier");
    std::string out(q);
    PQfreemem(q);
    return out;
}

std::string Connection::quote_literal(const std::string& s) {
    char* q = PQescapeLiteral(conn_.get(), s.data(), s.size());
    if (!q) throw DatabaseError("cannot quote literal");
    std::string out(q);
    PQfreemem(q);
    return out;
}

int Connection::server_version() const noexcept {
    return PQserverVersion(conn_.get());
}

}  // namespace dolibak::pg
