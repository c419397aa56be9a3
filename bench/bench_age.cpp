// age encryption and decryption of a file, streamed (bench/age.sh compares it with the age
// CLI on the same data).
//   bench_age encrypt RECIPIENT IN OUT
//   bench_age decrypt IDENTITY_FILE IN OUT
//   bench_age memory SIZE_MIB    (no file I/O: MiB/s of each direction over CPU time)
#include <dolibak/core/error.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/io/file_io.hpp>

#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

using namespace dolibak;

namespace {
double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

int memory(std::size_t mib) {
    std::string plain(mib << 20, '\0');
    for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<char>(i * 131 >> 7);
    const auto key = io::age_generate_key();
    io::AgeRecipients r;
    r.x25519 = {key.recipient};
    auto encrypt = [&](io::Sink& sink) {
        io::AgeEncryptSink enc(sink, r);
        for (std::size_t i = 0; i < plain.size(); i += 1 << 20)
            enc.write(io::as_bytes(std::string_view(plain).substr(i, 1 << 20)));
        enc.finish();
    };
    io::NullSink discard;  // timed without the growth of an in-memory copy
    double t = cpu_seconds();
    encrypt(discard);
    const double enc_s = cpu_seconds() - t;
    io::MemorySink file;
    encrypt(file);
    io::AgeIdentities ids;
    ids.x25519 = {key.identity};
    io::MemorySource src(file.data());
    io::NullSink out;
    t = cpu_seconds();
    io::AgeDecryptSource dec(src, ids);
    io::pump(dec, out);
    const double dec_s = cpu_seconds() - t;
    std::printf("memory, %zu MiB: encrypt %.0f MiB/s, decrypt %.0f MiB/s (CPU time)\n", mib,
                static_cast<double>(mib) / enc_s, static_cast<double>(mib) / dec_s);
    return out.bytes() == plain.size() ? 0 : 1;
}
}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "memory") return memory(std::stoul(argv[2]));
    if (argc != 5) {
        std::fprintf(stderr, "usage: bench_age encrypt|decrypt RECIPIENT|KEYFILE IN OUT\n");
        return 2;
    }
    try {
        const std::string mode = argv[1];
        io::FileSource in(argv[3]);
        io::AtomicFileSink out(argv[4]);
        if (mode == "encrypt") {
            io::AgeRecipients r;
            r.x25519 = {argv[2]};
            io::AgeEncryptSink enc(out, r);
            io::pump(in, enc);
            enc.finish();
        } else {
            io::FileSource keys(argv[2]);
            io::AgeIdentities ids;
            ids.x25519 = io::age_parse_identity_file(io::read_all(keys));
            io::AgeDecryptSource dec(in, ids);
            io::pump(dec, out);
            out.finish();
        }
    } catch (const Error& e) {
        std::fprintf(stderr, "bench_age: %s\n", e.what());
        return 1;
    }
    return 0;
}
