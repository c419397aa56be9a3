// Uploads a file to S3 and downloads it back with dolibak's client, and prints wall time,
// client CPU time and CPU seconds per GiB for each direction (one JSON line each).
// Settings come from the AWS_* environment (endpoint, region, credentials).
//   s3_transfer BUCKET KEY FILE [--part-size MiB] [--parallel N] [--download-to PATH]
// Driven by bench/s3-vs-awscli.sh, which runs `aws s3 cp` on the same server for comparison.
#include <dolibak/core/error.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/s3/client.hpp>

#include <fmt/core.h>
#include <sys/resource.h>

#include <fcntl.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

namespace {

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto tv = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

long peak_rss_mib() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

void report(const char* what, std::uint64_t bytes, double wall, double cpu) {
    const double gib = static_cast<double>(bytes) / (1024.0 * 1024 * 1024);
    fmt::print(
        "{{\"client\": \"dolibak\", \"op\": \"{}\", \"bytes\": {}, \"wall_s\": {:.3f}, "
        "\"cpu_s\": {:.3f}, \"cpu_s_per_gib\": {:.3f}, \"mib_per_s\": {:.1f}, "
        "\"peak_rss_mib\": {}}}\n",
        what, bytes, wall, cpu, gib > 0 ? cpu / gib : 0.0,
        wall > 0 ? static_cast<double>(bytes) / (1024.0 * 1024) / wall : 0.0, peak_rss_mib());
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        fmt::print(stderr,
                   "usage: s3_transfer BUCKET KEY FILE [--part-size MiB] [--parallel N] "
                   "[--download-to PATH]\n");
        return 2;
    }
    const std::string bucket = argv[1], key = argv[2];
    const std::filesystem::path file = argv[3];
    dolibak::s3::ClientOptions base;
    base.addressing = dolibak::s3::AddressingStyle::path;
    std::filesystem::path download = "/dev/null";
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--part-size"))
            base.part_size = std::stoul(argv[i + 1]) * 1024 * 1024;
        else if (!std::strcmp(argv[i], "--parallel"))
            base.parallel_parts = static_cast<unsigned>(std::stoul(argv[i + 1]));
        else if (!std::strcmp(argv[i], "--download-to"))
            download = argv[i + 1];
    }
    try {
        auto cfg = dolibak::s3::client_config_from_environment({}, base);
        dolibak::s3::Client client(cfg.options, cfg.provider);  // renews temporary keys
        const auto size = std::filesystem::file_size(file);

        auto t0 = std::chrono::steady_clock::now();
        double c0 = cpu_seconds();
        {
            dolibak::io::FileSource src(file);
            dolibak::s3::PutOptions po;
            po.size_hint = size;
            auto sink = client.upload(bucket, key, po);
            dolibak::io::pump(src, *sink, 1024 * 1024);
            sink->finish();
        }
        report("upload", size,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
               cpu_seconds() - c0);

        t0 = std::chrono::steady_clock::now();
        c0 = cpu_seconds();
        std::uint64_t got = 0;
        {
            dolibak::io::FdSink out(
                dolibak::io::UniqueFd(
                    ::open(download.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)),
                download.string());
            got = client.get_object(bucket, key, out);
            out.finish();
        }
        report("download", got,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
               cpu_seconds() - c0);
        return got == size ? 0 : 1;
    } catch (const std::exception& e) {
        fmt::print(stderr, "s3_transfer: {}\n", e.what());
        return 1;
    }
}
