#include <dolibak/core/error.hpp>
#include <dolibak/pgdump/tools.hpp>
#include <dolibak/process/process.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cctype>

namespace dolibak::pgdump {

int server_version_num(const ConnectionParams& conn) {
    return pg::Connection(conn).server_version();
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
