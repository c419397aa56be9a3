#pragma once
// A streamed, verified pg_dump: pg_dump -Fc runs as a child (argv, no shell; connection by
// libpq environment; session forced read-only), its stdout flows through the native archive
// verifier into a Sink. The sink is finished only when pg_dump exited 0 and the archive is
// complete and sound; otherwise it is aborted (nothing published) and the error says why,
// with pg_dump's stderr.
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/io/zstd.hpp>
#include <dolibak/pg/session.hpp>
#include <dolibak/pgdump/archive.hpp>
#include <dolibak/pgdump/tools.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace dolibak::pgdump {

enum class DumpMode {
    pg_dump_compressed,  ///< pg_dump -Fc (its own zlib): the object is <ts>.dump
    zstd,                ///< pg_dump -Fc -Z0, then zstd in-process: the object is <ts>.dump.zst
};

struct DOLIBAK_API DumpOptions {
    ConnectionParams conn;
    /// Tools to use; when absent they are found for the server's version.
    std::optional<PgTools> tools;
    std::optional<std::filesystem::path> tools_dir;
    DumpMode mode = DumpMode::pg_dump_compressed;
    /// pg_dump -Z level in pg_dump_compressed mode (nullopt: pg_dump's default).
    std::optional<int> pg_dump_level;
    io::ZstdOptions zstd{3, 2};
    /// Extra pg_dump arguments (e.g. "--inserts", "-n", "public").
    std::vector<std::string> extra_args;
    /// The path's probe (pg::probe_session), when the caller took it already: not taken again.
    std::optional<pg::SessionProbe> probe;
    /// An exported snapshot for pg_dump to read (`--snapshot`): the dump then holds exactly
    /// the state of the transaction that exported it, which must stay open until on_output.
    std::string snapshot;
    /// Called once, when pg_dump's first bytes arrive (it has imported `snapshot` by then),
    /// from the calling thread.
    std::function<void()> on_output{};
    /// Called after the whole archive is read and verified, before the sink is finished:
    /// throwing aborts the sink (nothing stored) and the exception leaves dump().
    std::function<void()> before_finish{};
};

struct DOLIBAK_API DumpResult {
    ArchiveSummary summary;  ///< of the archive as pg_dump wrote it (uncompressed in zstd mode)
    std::uint64_t bytes_out = 0;  ///< bytes written to the sink
    PgTools tools;
    int server_version = 0;
    std::string stderr_text;  ///< pg_dump's stderr (warnings)
    /// How the dump's session was read-only (pg::SessionProbe::read_only_by()).
    std::string read_only_by;
};

/// Runs the dump into `sink` (finished on success, aborted on failure).
DOLIBAK_API DumpResult dump(const DumpOptions& options, io::Sink& sink);

/// The argv dump() runs (for tests and logs): never contains a password.
DOLIBAK_API std::vector<std::string> dump_argv(const DumpOptions& options, const PgTools& tools);

}  // namespace dolibak::pgdump
