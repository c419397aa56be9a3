// bench_tarball: one dolibak operation on a documents tree, for bench/tarball.sh to time
// against GNU tar, bsdtar and zstd in the same run. Prints a one-line summary; no assertion.
//   bench_tarball write DIR OUT.tar.{gz,zst} [threads]   archive into the local directory
//   bench_tarball fingerprint DIR                          metadata fingerprint
#include <dolibak/fingerprint/docs.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/tarball/writer.hpp>

#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
    using namespace dolibak;
    if (argc < 3) {
        fmt::print(stderr, "usage: bench_tarball write DIR OUT [threads] | fingerprint DIR\n");
        return 2;
    }
    const std::string op = argv[1];
    const auto start = std::chrono::steady_clock::now();
    auto seconds = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    try {
        if (op == "write" && argc >= 4) {
            const std::string out = argv[3];
            tarball::WriteOptions o;
            o.compression =
                out.ends_with(".zst") ? tarball::Compression::zstd : tarball::Compression::gzip;
            o.threads = argc >= 5 ? std::atoi(argv[4]) : 0;
            io::AtomicFileSink sink(out);
            const auto s = tarball::write_tar(argv[2], sink, o);
            sink.finish();
            fmt::print(
                "write {}: {} entries, {} content bytes -> {} bytes, {} warnings, {:.3f} s\n", out,
                s.entries, s.content_bytes, s.archive_bytes, s.warnings.size(), seconds());
        } else if (op == "fingerprint") {
            const auto fp = fingerprint::docs_fingerprint(argv[2]);
            fmt::print("fingerprint {}: {} entries, {} files, {:.3f} s\n", fp.sha256.substr(0, 16),
                       fp.entries, fp.files, seconds());
        } else {
            fmt::print(stderr, "unknown operation {}\n", op);
            return 2;
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "bench_tarball: {}\n", e.what());
        return 3;
    }
    return 0;
}
