// The io layer: sources, sinks, observers, atomic files, digests; and the error hierarchy.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/core/secret.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/io/replay.hpp>

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <random>

using namespace dolibak;
using dolibak::test::random_bytes;
using dolibak::test::TempDir;

namespace {
// A sink that fails on the n-th write, to test error paths.
class FailingSink final : public io::Sink {
public:
    explicit FailingSink(int fail_at) : fail_at_(fail_at) {}
    void write(io::Bytes) override {
        if (++writes_ == fail_at_) throw IoError("cannot write", "failing-sink", ENOSPC);
    }
    void finish() override { finished = true; }
    void abort() noexcept override { aborted = true; }
    bool finished = false, aborted = false;

private:
    int fail_at_;
    int writes_ = 0;
};
}  // namespace

TEST_CASE("digests match published test vectors") {
    CHECK(io::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(io::sha256_hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    io::Md5 md5;
    md5.update("The quick brown fox jumps over the lazy dog");
    CHECK(md5.hex() == "9e107d9d372bb6826bd81d3542a419d6");
    CHECK(md5.base64() == "nhB9nTcrtoJr2B01QqQZ1g==");
    // Incremental equals one-shot, and reading the digest does not end the stream.
    io::Sha256 h;
    h.update("a");
    CHECK(h.hex() == io::sha256_hex("a"));
    h.update("bc");
    CHECK(h.hex() == io::sha256_hex("abc"));
    CHECK(io::to_hex(io::as_bytes(
              io::hmac_sha256("key", "The quick brown fox jumps over the lazy dog"))) ==
          "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST_CASE("base64 pads every remainder") {
    CHECK(io::to_base64(io::as_bytes("")) == "");
    CHECK(io::to_base64(io::as_bytes("f")) == "Zg==");
    CHECK(io::to_base64(io::as_bytes("fo")) == "Zm8=");
    CHECK(io::to_base64(io::as_bytes("foo")) == "Zm9v");
    CHECK(io::to_base64(io::as_bytes("foobar")) == "Zm9vYmFy");
}

TEST_CASE("pump through observers into a tee: every byte seen once, in order") {
    const std::string data = random_bytes(3 * 1024 * 1024 + 17, 1);
    io::MemorySource src(data);
    io::Sha256 sha;
    io::Md5 md5;
    io::ByteCounter count;
    io::ObservedSource observed(src, {&sha});
    io::MemorySink a, b;
    io::TeeSink tee(a, b);
    io::ObservedSink sink(tee, {&md5, &count});
    CHECK(io::pump(observed, sink, 4096) == data.size());
    sink.finish();
    CHECK(a.finished());
    CHECK(b.finished());
    CHECK(a.data() == data);
    CHECK(b.data() == data);
    CHECK(count.bytes() == data.size());
    CHECK(sha.hex() == io::sha256_hex(data));
    io::Md5 ref;
    ref.update(data);
    CHECK(md5.hex() == ref.hex());
}

TEST_CASE("a tee whose first sink fails to finish aborts the second") {
    io::MemorySink second;
    struct FinishFails final : io::Sink {
        void write(io::Bytes) override {}
        void finish() override { throw Error("no space"); }
        void abort() noexcept override {}
    } first;
    io::TeeSink tee(first, second);
    io::write(tee, std::string_view("x"));
    CHECK_THROWS_WITH_AS(tee.finish(), "no space", Error);
    CHECK(second.aborted());
    CHECK_FALSE(second.finished());
}

TEST_CASE("pump stops at the first failing write and reports it") {
    const std::string data(1024 * 1024, 'x');
    io::MemorySource src(data);
    FailingSink sink(3);
    CHECK_THROWS_AS(io::pump(src, sink, 1000), IoError);
    CHECK_FALSE(sink.finished);
}

TEST_CASE("read_all refuses a stream larger than its limit") {
    const std::string data(1000, 'y');
    io::MemorySource src(data);
    CHECK_THROWS_AS(io::read_all(src, 999), FormatError);
    io::MemorySource again(data);
    CHECK(io::read_all(again, 1000) == data);
}

TEST_CASE("read_sized reads a known length in one buffer and says whether more follows") {
    const std::string data = "0123456789";
    bool more = true;
    io::MemorySource exact(data);
    CHECK(io::read_sized(exact, 10, &more) == data);
    CHECK_FALSE(more);
    // One allocation at the size asked (read_all's string would have grown past it).
    const std::string large(3 << 20, 'z');
    io::MemorySource big(large);
    const auto read = io::read_sized(big, large.size(), &more);
    CHECK(read == large);
    CHECK(read.capacity() == large.size());
    CHECK_FALSE(more);
    io::MemorySource longer(data);
    CHECK(io::read_sized(longer, 4, &more) == "0123");
    CHECK(more);
    io::MemorySource shorter(data);
    CHECK(io::read_sized(shorter, 12, &more) == data);  // the stream ended first
    CHECK_FALSE(more);
    io::MemorySource unasked(data);
    CHECK(io::read_sized(unasked, 4) == "0123");
}

TEST_CASE("AtomicFileSink publishes only on finish") {
    TempDir dir;
    const auto target = dir / "db";
    std::filesystem::create_directories(target);
    const auto path = target / "20261123T010000Z.dump";
    {
        io::AtomicFileSink sink(path);
        io::write(sink, std::string_view("partial"));
        CHECK(std::filesystem::exists(sink.temp_path()));
        CHECK_FALSE(std::filesystem::exists(path));
        // destroyed without finish(): aborted
    }
    CHECK_FALSE(std::filesystem::exists(path));
    CHECK(std::filesystem::is_empty(target));

    {
        io::AtomicFileSink sink(path);
        io::write(sink, std::string_view("complete"));
        sink.abort();
        CHECK_FALSE(std::filesystem::exists(sink.temp_path()));
    }
    CHECK(std::filesystem::is_empty(target));

    io::AtomicFileSink sink(path, 0600);
    const auto data = random_bytes(1 << 20, 2);
    sink.write(io::as_bytes(data));
    sink.finish();
    CHECK(dolibak::test::read_file(path) == data);
    CHECK(io::sha256_file_hex(path) == io::sha256_hex(data));
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK_THROWS_AS(io::write(sink, std::string_view("more")), Error);
    // Only the final file remains.
    int entries = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(target)) ++entries;
    CHECK(entries == 1);
}

TEST_CASE("AtomicFileSink replaces an existing file atomically") {
    TempDir dir;
    const auto path = dir / "x";
    dolibak::test::write_file(path, "old");
    io::AtomicFileSink sink(path);
    io::write(sink, std::string_view("new content"));
    CHECK(dolibak::test::read_file(path) == "old");
    sink.finish();
    CHECK(dolibak::test::read_file(path) == "new content");
}

TEST_CASE("opening a missing file names the path and the reason") {
    try {
        io::FileSource src("/nonexistent/dolibak/file");
        FAIL("no error");
    } catch (const IoError& e) {
        CHECK(e.error_number() == ENOENT);
        CHECK(std::string(e.what()).find("/nonexistent/dolibak/file") != std::string::npos);
        CHECK(std::string(e.what()).find("No such file") != std::string::npos);
    }
    CHECK_THROWS_AS(io::AtomicFileSink("/nonexistent/dir/x"), IoError);
}

TEST_CASE("errors carry context, outermost first") {
    try {
        try {
            throw FormatError("bad block id 9", 1234);
        } catch (Error& e) {
            e.with_context("while reading db/20261123T010000Z.dump");
            throw;
        }
    } catch (const FormatError& e) {
        CHECK(e.offset() == 1234);
        CHECK(e.message() == "bad block id 9 (at byte 1234)");
        CHECK(std::string(e.what()) ==
              "while reading db/20261123T010000Z.dump: bad block id 9 (at byte 1234)");
    }
    VerificationError v("restored database differs", {"llx_facture: 10 rows, archive has 12"});
    CHECK(std::string(v.what()).find("llx_facture: 10 rows") != std::string::npos);
    RemoteError r("S3 GetObject failed", {404, "NoSuchKey", "gone", "req-1", "b", "k", false});
    CHECK(r.details().code == "NoSuchKey");
}

TEST_CASE("secrets never print and can be redacted from text") {
    Secret s("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    std::ostringstream os;
    os << s;
    CHECK(os.str() == "***");
    CHECK(s.reveal().size() == 40);
    CHECK(redact("key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY and again "
                 "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                 {s.reveal(), ""}) == "key=*** and again ***");
}

TEST_CASE("peek then replay: a recording gives back what it read, then the stream goes on") {
    const std::string text = "PGDMP and the rest of a stream that cannot seek";
    io::MemorySource src(text);
    io::RecordingSource rec(src, 16);
    std::vector<std::byte> head(5);
    REQUIRE(io::read_full(rec, head) == 5);
    CHECK(io::as_chars(head) == "PGDMP");
    io::ReplaySource all(rec.take(), src);
    CHECK(rec.take().empty());
    std::string whole;
    std::vector<std::byte> buf(3);  // small reads cross the head's end
    while (const std::size_t n = all.read(buf)) whole += io::as_chars(io::Bytes(buf.data(), n));
    CHECK(whole == text);
}

TEST_CASE("a recording refuses to hold more than its limit") {
    const std::string text(64, 'x');
    io::MemorySource src(text);
    io::RecordingSource rec(src, 10);
    std::vector<std::byte> buf(8);
    CHECK(rec.read(buf) == 8);
    CHECK_THROWS_AS(rec.read(buf), FormatError);
}
