// Dump throughput: dolibak's streamed, verified dump (both modes) into a local file, with
// wall time, CPU time of pg_dump + dolibak, and dolibak's peak RSS. Connection from the
// libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). Prints figures only;
// bench/pgdump_dump.sh runs the peers (bare pg_dump -Fc > /dev/null, pg_dump -Fc > file then
// copy) in the same run.
//   pgdump_dump OUT_DIR [zstd_level] [zstd_threads]
#include <dolibak/io/file_io.hpp>
#include <dolibak/pgdump/dump.hpp>

#include <fmt/core.h>

#include <sys/resource.h>

#include <chrono>
#include <cstdlib>

using namespace dolibak;

namespace {
double cpu_seconds(int who) {
    rusage u{};
    ::getrusage(who, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}
std::string env(const char* k) {
    const char* v = std::getenv(k);
    return v ? v : "";
}
}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        fmt::print(stderr, "usage: pgdump_dump OUT_DIR [zstd_level] [zstd_threads]\n");
        return 2;
    }
    const std::filesystem::path out = argv[1];
    pgdump::DumpOptions o;
    o.conn.host = env("PGHOST");
    o.conn.port = env("PGPORT").empty() ? 5432 : std::stoi(env("PGPORT"));
    o.conn.user = env("PGUSER");
    o.conn.dbname = env("PGDATABASE");
    o.conn.password = Secret(env("PGPASSWORD"));
    o.zstd.level = argc > 2 ? std::atoi(argv[2]) : 6;
    o.zstd.threads = argc > 3 ? std::atoi(argv[3]) : 2;
    for (auto mode : {pgdump::DumpMode::pg_dump_compressed, pgdump::DumpMode::zstd}) {
        const bool z = mode == pgdump::DumpMode::zstd;
        o.mode = mode;
        const auto path = out / (z ? "bench.dump.zst" : "bench.dump");
        const double c0 = cpu_seconds(RUSAGE_SELF) + cpu_seconds(RUSAGE_CHILDREN);
        const auto t0 = std::chrono::steady_clock::now();
        io::AtomicFileSink sink(path);
        const auto r = pgdump::dump(o, sink);
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double cpu = cpu_seconds(RUSAGE_SELF) + cpu_seconds(RUSAGE_CHILDREN) - c0;
        rusage self{};
        ::getrusage(RUSAGE_SELF, &self);
        fmt::print(
            "dolibak {:<18} wall {:7.2f} s  cpu {:7.2f} s  out {:>12} bytes  rows-verified tables "
            "{}  "
            "peak RSS {} MiB\n",
            z ? fmt::format("zstd -{} T{}", o.zstd.level, o.zstd.threads)
              : std::string("pg_dump -Fc"),
            wall, cpu, r.bytes_out, r.summary.tables.size(), self.ru_maxrss / 1024);
    }
    return 0;
}
