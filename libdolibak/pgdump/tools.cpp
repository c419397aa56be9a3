#include <dolibak/core/error.hpp>
#include <dolibak/pgdump/tools.hpp>
#include <dolibak/process/process.hpp>

#include "pgdump/pgconn.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cctype>

namespace dolibak::pgdump {

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

namespace detail {

Connection::Connection(const ConnectionParams& p) : where_(p.describe()) {
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

}  // namespace detail

int server_version_num(const ConnectionParams& conn) {
    detail::Connection c(conn);
    return PQserverVersion(c.get());
}

int tool_major_version(const std::filesystem::path& program, std::string* full) {
    process::ProcessOptions o;
    o.argv = {program.string(), "--version"};
    auto r = run(std::move(o));
    if (!r.status.success())
        throw ProcessError(program.string() + " --version failed: " + r.status.describe(),
                           program.string(), r.status.code, r.status.signal, r.err);
    // "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
    const std::string tag = "(PostgreSQL)";
    auto at = r.out.find(tag);
    if (at != std::string::npos) {
        at += tag.size();
        while (at < r.out.size() && r.out[at] == ' ') ++at;
        std::size_t end = at;
        while (end < r.out.size() &&
               (std::isdigit(static_cast<unsigned char>(r.out[end])) || r.out[end] == '.'))
            ++end;
        const std::string v = r.out.substr(at, end - at);
        if (!v.empty() && std::isdigit(static_cast<unsigned char>(v[0]))) {
            if (full) *full = v;
            return std::stoi(v);
        }
    }
    throw FormatError("cannot read the version of " + program.string() + ": " + r.out);
}

PgTools find_tools(int server_major, const std::optional<std::filesystem::path>& configured_dir) {
    std::vector<std::filesystem::path> dirs;
    if (configured_dir) {
        dirs.push_back(*configured_dir);
    } else {
        // Debian's side-by-side installs: the server's major first, then newer ones.
        std::vector<int> majors;
        std::error_code ec;
        for (const auto& d : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
            try {
                majors.push_back(std::stoi(d.path().filename().string()));
            } catch (...) {
            }
        }
        std::sort(majors.begin(), majors.end());
        for (int m : majors)
            if (m == server_major) dirs.push_back(fmt::format("/usr/lib/postgresql/{}/bin", m));
        for (int m : majors)
            if (m > server_major) dirs.push_back(fmt::format("/usr/lib/postgresql/{}/bin", m));
        for (int m : majors)
            if (m < server_major) dirs.push_back(fmt::format("/usr/lib/postgresql/{}/bin", m));
        dirs.emplace_back();  // PATH
    }
    std::optional<PgTools> older;
    for (const auto& d : dirs) {
        std::optional<std::filesystem::path> dump, rest;
        if (d.empty()) {
            dump = process::find_program("pg_dump");
            rest = process::find_program("pg_restore");
        } else {
            if (std::filesystem::exists(d / "pg_dump")) dump = d / "pg_dump";
            if (std::filesystem::exists(d / "pg_restore")) rest = d / "pg_restore";
        }
        if (!dump || !rest) continue;
        PgTools t;
        t.pg_dump = *dump;
        t.pg_restore = *rest;
        t.major = tool_major_version(*dump, &t.version);
        if (t.major >= server_major) return t;
        if (!older) older = t;
    }
    if (older)
        throw ConfigError(fmt::format(
            "pg_dump {} ({}) is older than the PostgreSQL {} server: install pg_dump {} or newer "
            "(Debian: postgresql-client-{}) or configure its directory",
            older->version, older->pg_dump.string(), server_major, server_major, server_major));
    throw ConfigError(
        fmt::format("no pg_dump/pg_restore found for PostgreSQL {}{}", server_major,
                    configured_dir ? " in " + configured_dir->string() : std::string()));
}

}  // namespace dolibak::pgdump
