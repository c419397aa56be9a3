#pragma once
// The pg_dump/pg_restore that match a PostgreSQL server's major version (the connection
// parameters are the pg layer's, <dolibak/pg/connection.hpp>).
#include <dolibak/core/export.hpp>
#include <dolibak/pg/connection.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dolibak::pgdump {

/// Where a database is and who connects: defined by the pg layer, named here too because
/// every pgdump function takes one.
using ConnectionParams = pg::ConnectionParams;

/// The server's version (libpq PQserverVersion, e.g. 150020). Throws DatabaseError.
DOLIBAK_API int server_version_num(const ConnectionParams& conn);

struct DOLIBAK_API PgTools {
    std::filesystem::path pg_dump;
    std::filesystem::path pg_restore;
    int major = 0;        ///< major version of these tools
    std::string version;  ///< "15.20"
};

/// Major version of a pg_dump/pg_restore binary, from its --version output.
DOLIBAK_API int tool_major_version(const std::filesystem::path& program,
                                   std::string* full_version = nullptr);

/// Finds pg_dump and pg_restore for a server of major version `server_major`: in
/// `configured_dir` only when given, else /usr/lib/postgresql/<N>/bin (N = the server's major,
/// else the nearest newer one) and PATH. A pg_dump older than the server is refused with a
/// ConfigError naming both versions.
DOLIBAK_API PgTools find_tools(
    int server_major, const std::optional<std::filesystem::path>& configured_dir = std::nullopt);

}  // namespace dolibak::pgdump
