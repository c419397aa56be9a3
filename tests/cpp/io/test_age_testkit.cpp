// The age testkit (tests/data/age-testkit/, from C2SP CCTV): every vector decrypts to its
// payload's SHA-256, or fails with the kind of failure it expects.
#include "support/testsupport.hpp"

#include <dolibak/io/age.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/io/hash.hpp>

#include <doctest/doctest.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <map>

using namespace dolibak;
namespace fs = std::filesystem;

namespace {
struct Vector {
    std::string name;
    std::multimap<std::string, std::string> keys;
    std::string file;  // the age file, decompressed
};

std::string inflate_all(const std::string& in) {
    z_stream z{};
    REQUIRE(inflateInit(&z) == Z_OK);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    std::string out;
    char buf[65536];
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        REQUIRE((rc == Z_OK || rc == Z_STREAM_END));
        out.append(buf, sizeof buf - z.avail_out);
    }
    inflateEnd(&z);
    return out;
}

Vector load(const fs::path& path) {
    io::FileSource src(path);
    const std::string text = io::read_all(src);
    Vector v;
    v.name = path.filename().string();
    std::size_t pos = 0;
    for (;;) {
        const auto nl = text.find('\n', pos);
        REQUIRE(nl != std::string::npos);
        const std::string line = text.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty()) break;
        const auto colon = line.find(": ");
        REQUIRE(colon != std::string::npos);
        v.keys.emplace(line.substr(0, colon), line.substr(colon + 2));
    }
    v.file = text.substr(pos);
    const auto c = v.keys.find("compressed");
    if (c != v.keys.end()) {
        REQUIRE(c->second == "zlib");
        v.file = inflate_all(v.file);
    }
    return v;
}

std::string one(const Vector& v, const std::string& key) {
    const auto it = v.keys.find(key);
    return it == v.keys.end() ? std::string() : it->second;
}

const char* kind_name(io::AgeError::Kind k) {
    switch (k) {
        case io::AgeError::Kind::header:
            return "header failure";
        case io::AgeError::Kind::no_match:
            return "no match";
        case io::AgeError::Kind::hmac:
            return "HMAC failure";
        case io::AgeError::Kind::payload:
            return "payload failure";
    }
    return "?";
}
}  // namespace

TEST_CASE("every vector of the age testkit meets its expectation") {
    const fs::path dir = dolibak::test::test_data_dir() / "age-testkit";
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) {
        const auto name = e.path().filename().string();
        if (name.starts_with("LICENSE") || name == "README.md") continue;
        files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    REQUIRE(files.size() == 92);
    std::map<std::string, int> outcomes;
    for (const auto& path : files) {
        const Vector v = load(path);
        CAPTURE(v.name);
        io::AgeIdentities ids;
        for (auto [it, end] = v.keys.equal_range("identity"); it != end; ++it)
            ids.x25519.emplace_back(it->second);
        if (const auto p = one(v, "passphrase"); !p.empty()) ids.passphrase = Secret(p);
        const std::string expect = one(v, "expect");
        REQUIRE(!expect.empty());
        io::MemorySource src(v.file);
        io::Sha256 released;
        std::string outcome = "success";
        try {
            io::AgeDecryptSource dec(src, ids);
            std::vector<std::byte> buf(10000);  // not a divisor of the chunk size
            while (const auto n = dec.read(buf)) released.update(io::Bytes(buf.data(), n));
        } catch (const io::AgeError& e) {
            outcome = kind_name(e.kind());
            // Messages name the defect, never the key material.
            for (auto [it, end] = v.keys.equal_range("identity"); it != end; ++it)
                CHECK(std::string(e.what()).find(it->second.substr(16, 20)) == std::string::npos);
        }
        CHECK(outcome == expect);
        if (expect == "success" || expect == "payload failure")
            CHECK(released.hex() == one(v, "payload"));
        ++outcomes[outcome];
    }
    // Every kind of outcome was met: the loop did not pass by failing everything one way.
    CHECK(outcomes["success"] >= 15);
    CHECK(outcomes["header failure"] >= 40);
    CHECK(outcomes["payload failure"] >= 15);
    CHECK(outcomes["no match"] >= 5);
    CHECK(outcomes["HMAC failure"] >= 1);
}
