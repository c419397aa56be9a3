// age v1 (include/dolibak/io/age.hpp): keys in their text forms, round trips through the
// encrypting sink and the decrypting source, and tampering of every part of a file.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/io/hash.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>

using namespace dolibak;
using io::AgeError;

namespace {
constexpr std::size_t chunk = 64 * 1024;
// The encryptor seals batches of 8 chunks on a worker thread, from a ring of 8 batches:
// sizes around one chunk, one and two batches, and a full ring (64 chunks) and beyond.
constexpr std::size_t sizes[] = {0,
                                 1,
                                 chunk - 1,
                                 chunk,
                                 chunk + 1,
                                 2 * chunk,
                                 8 * chunk,
                                 8 * chunk + 1,
                                 16 * chunk,
                                 16 * chunk + 1,
                                 3 * 1024 * 1024 + 5,
                                 64 * chunk,
                                 64 * chunk + 1,
                                 72 * chunk + 1,
                                 200 * chunk + 3};

std::string random_text(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

std::string encrypt(const std::string& plain, const io::AgeRecipients& r,
                    std::size_t write_size = 100000) {
    io::MemorySink out;
    io::AgeEncryptSink enc(out, r);
    for (std::size_t i = 0; i < plain.size(); i += write_size)
        enc.write(io::as_bytes(std::string_view(plain).substr(i, write_size)));
    enc.finish();
    REQUIRE(out.finished());
    return out.data();
}

struct Outcome {
    std::string released;
    std::optional<AgeError::Kind> error;
};

Outcome decrypt(const std::string& file, const io::AgeIdentities& ids,
                std::size_t read_size = 70000) {
    Outcome o;
    io::MemorySource src(file);
    try {
        io::AgeDecryptSource dec(src, ids);
        std::vector<std::byte> buf(read_size);
        while (const auto n = dec.read(buf)) o.released += io::as_chars(io::Bytes(buf.data(), n));
    } catch (const AgeError& e) {
        o.error = e.kind();
    }
    return o;
}

io::AgeIdentities with(const Secret& identity) {
    io::AgeIdentities ids;
    ids.x25519.push_back(identity);
    return ids;
}

// The size of the header: everything up to the MAC line's end.
std::size_t header_size(const std::string& file) {
    const auto mac = file.find("\n--- ");
    REQUIRE(mac != std::string::npos);
    return file.find('\n', mac + 1) + 1;
}
}  // namespace

TEST_CASE("a generated key pair: an upper-case identity and the lower-case recipient it gives") {
    const auto a = io::age_generate_key();
    const auto b = io::age_generate_key();
    CHECK(a.identity.reveal().starts_with("AGE-SECRET-KEY-1"));
    CHECK(a.identity.reveal().size() == 74);
    CHECK(a.recipient.starts_with("age1"));
    CHECK(a.recipient.size() == 62);
    CHECK(a.recipient == io::age_recipient_of(a.identity));
    CHECK_FALSE(a.identity == b.identity);
    CHECK(a.recipient != b.recipient);
    for (const char c : a.identity.reveal()) CHECK_FALSE((c >= 'a' && c <= 'z'));
    for (const char c : a.recipient) CHECK_FALSE((c >= 'A' && c <= 'Z'));
}

TEST_CASE("the testkit's identity gives the recipient age-keygen -y gives") {
    const Secret id("AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0");
    const std::string recipient = "age1xmwwc06ly3ee5rytxm9mflaz2u56jjj36s0mypdrwsvlul66mv4q47ryef";
    CHECK(io::age_recipient_of(id) == recipient);
    // bech32 is case-insensitive as a whole: the all-lower-case identity is the same key.
    std::string lower = id.reveal();
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(io::age_recipient_of(Secret(lower)) == recipient);
    CHECK(io::age_parse_recipient(recipient) == recipient);
    std::string upper = recipient;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(io::age_parse_recipient(upper) == recipient);
}

TEST_CASE("bad recipients and identities are refused without echoing a secret") {
    const std::string good = "age1xmwwc06ly3ee5rytxm9mflaz2u56jjj36s0mypdrwsvlul66mv4q47ryef";
    std::string mixed = good;
    mixed[5] = 'M';
    CHECK_THROWS_AS(io::age_parse_recipient(mixed), ConfigError);
    std::string typo = good;
    typo[10] = typo[10] == 'q' ? 'p' : 'q';
    CHECK_THROWS_AS(io::age_parse_recipient(typo), ConfigError);
    CHECK_THROWS_AS(io::age_parse_recipient(good.substr(0, 61)), ConfigError);
    CHECK_THROWS_AS(io::age_parse_recipient(""), ConfigError);
    CHECK_THROWS_AS(io::age_parse_recipient("age1"), ConfigError);
    const auto pair = io::age_generate_key();
    // An identity is not a recipient, and a recipient not an identity.
    CHECK_THROWS_AS(io::age_parse_recipient(pair.identity.reveal()), ConfigError);
    CHECK_THROWS_AS(io::age_recipient_of(Secret(pair.recipient)), ConfigError);
    std::string bad_id = pair.identity.reveal();
    bad_id[30] = bad_id[30] == 'Q' ? 'P' : 'Q';
    try {
        (void)io::age_recipient_of(Secret(bad_id));
        FAIL("a bad checksum was accepted");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()).find(bad_id.substr(16, 20)) == std::string::npos);
    }
}

TEST_CASE("an identity file as age-keygen writes it: comments, blank lines, several keys") {
    const auto a = io::age_generate_key();
    const auto b = io::age_generate_key();
    const std::string text = "# created: 2026-12-07T03:00:00Z\n# public key: " + a.recipient +
                             "\n" + a.identity.reveal() + "\n\n# second\r\n" + b.identity.reveal() +
                             "\r\n";
    const auto ids = io::age_parse_identity_file(text);
    REQUIRE(ids.size() == 2);
    CHECK(ids[0] == a.identity);
    CHECK(ids[1] == b.identity);
    CHECK_THROWS_AS(io::age_parse_identity_file("# nothing\n\n"), ConfigError);
    std::string broken = a.identity.reveal();
    broken[20] = broken[20] == 'Q' ? 'P' : 'Q';
    try {
        (void)io::age_parse_identity_file("# key\n" + broken + "\n");
        FAIL("a bad identity line was accepted");
    } catch (const ConfigError& e) {
        const std::string what = e.what();
        CHECK(what.find("line 2") != std::string::npos);
        CHECK(what.find(broken.substr(16, 20)) == std::string::npos);
    }
}

TEST_CASE("round trips at the chunk boundaries, to several recipients") {
    const auto a = io::age_generate_key();
    const auto b = io::age_generate_key();
    const auto other = io::age_generate_key();
    io::AgeRecipients r;
    r.x25519 = {a.recipient, b.recipient};
    for (const std::size_t size : sizes) {
        CAPTURE(size);
        const std::string plain = random_text(size, static_cast<unsigned>(size));
        const std::string file = encrypt(plain, r);
        const std::size_t chunks = size == 0 ? 1 : (size + chunk - 1) / chunk;
        CHECK(file.size() == header_size(file) + 16 + size + 16 * chunks);
        CHECK(file.starts_with("age-encryption.org/v1\n-> X25519 "));
        for (const auto* id : {&a.identity, &b.identity}) {
            const auto o = decrypt(file, with(*id));
            CHECK_FALSE(o.error);
            CHECK(o.released == plain);
        }
        const auto wrong = decrypt(file, with(other.identity));
        CHECK(wrong.error == AgeError::Kind::no_match);
        CHECK(wrong.released.empty());
    }
}

TEST_CASE("writes and reads of any size give the same stream") {
    const auto k = io::age_generate_key();
    io::AgeRecipients r;
    r.x25519 = {k.recipient};
    const std::string plain = random_text(2 * chunk + 3, 7);
    const std::string file = encrypt(plain, r, 1);
    CHECK(file.size() == header_size(file) + 16 + plain.size() + 3 * 16);
    const auto o = decrypt(file, with(k.identity), 1);
    CHECK_FALSE(o.error);
    CHECK(o.released == plain);
    // Two encryptions of the same data differ (file key, share and nonce are random).
    CHECK(encrypt(plain, r) != encrypt(plain, r));
}

TEST_CASE("a passphrase: scrypt alone in the header, its work factor bounded on decryption") {
    io::AgeRecipients r;
    r.passphrase = Secret("correct horse battery staple");
    r.scrypt_work_factor = 10;
    const std::string plain = random_text(chunk + 10, 3);
    const std::string file = encrypt(plain, r);
    CHECK(file.find("\n-> scrypt ") != std::string::npos);
    CHECK(file.find(" 10\n") != std::string::npos);
    io::AgeIdentities ids;
    ids.passphrase = Secret("correct horse battery staple");
    auto o = decrypt(file, ids);
    CHECK_FALSE(o.error);
    CHECK(o.released == plain);
    ids.passphrase = Secret("correct horse battery stapler");
    CHECK(decrypt(file, ids).error == AgeError::Kind::no_match);
    ids.passphrase = Secret("correct horse battery staple");
    ids.max_scrypt_work_factor = 9;
    CHECK(decrypt(file, ids).error == AgeError::Kind::header);
    // An X25519 identity does not open a passphrase file.
    CHECK(decrypt(file, with(io::age_generate_key().identity)).error == AgeError::Kind::no_match);

    io::MemorySink out;
    io::AgeRecipients both = r;
    both.x25519 = {io::age_generate_key().recipient};
    CHECK_THROWS_AS(io::AgeEncryptSink(out, both), ConfigError);
    CHECK_THROWS_AS(io::AgeEncryptSink(out, io::AgeRecipients{}), ConfigError);
    io::AgeRecipients bad;
    bad.x25519 = {"age1notarecipient"};
    CHECK_THROWS_AS(io::AgeEncryptSink(out, bad), ConfigError);
    CHECK(out.data().empty());
}

TEST_CASE("the sink's contract: finish finishes the next sink, abort and destruction abort it") {
    io::AgeRecipients r;
    r.x25519 = {io::age_generate_key().recipient};
    {
        io::MemorySink out;
        io::AgeEncryptSink enc(out, r);
        enc.write(io::as_bytes("abc"));
        enc.abort();
        CHECK(out.aborted());
        CHECK_FALSE(out.finished());
        CHECK_THROWS_AS(enc.write(io::as_bytes("x")), Error);
    }
    io::MemorySink out;
    {
        io::AgeEncryptSink enc(out, r);
        enc.write(io::as_bytes("abc"));
    }
    CHECK(out.aborted());
    CHECK_FALSE(out.finished());
}

namespace {
/// A sink that fails once it has received `limit` bytes.
struct FailingSink final : io::Sink {
    std::size_t limit;
    std::size_t got = 0;
    bool aborted = false;
    explicit FailingSink(std::size_t l) : limit(l) {}
    void write(io::Bytes data) override {
        got += data.size();
        if (got > limit) throw IoError("write", "the store went away", 5);
    }
    void finish() override {}
    void abort() noexcept override { aborted = true; }
};
}  // namespace

TEST_CASE("a batch being sealed beside the writer: abort, destruction and a failing next sink") {
    io::AgeRecipients r;
    r.x25519 = {io::age_generate_key().recipient};
    const std::string plain = random_text(100 * chunk + 7, 9);
    const auto bytes = io::as_bytes(plain);
    // Aborted, or destroyed, while batches may be in flight (up to a full ring of them): the
    // next sink is aborted, the worker ends (no hang, no leak under the sanitizers).
    for (const std::size_t cut :
         {8 * chunk + 1, 9 * chunk, 17 * chunk + 3, 40 * chunk + 7, 71 * chunk, 100 * chunk + 7}) {
        CAPTURE(cut);
        io::MemorySink out;
        {
            io::AgeEncryptSink enc(out, r);
            enc.write(bytes.first(cut));
            if (cut % 2) enc.abort();
        }
        CHECK(out.aborted());
        CHECK_FALSE(out.finished());
    }
    // The next sink fails when a sealed batch reaches it: the error reaches the writer (in
    // write or in finish), and abort then aborts the next sink.
    for (const std::size_t limit : {std::size_t{1000}, 9 * chunk, 30 * chunk, 80 * chunk}) {
        CAPTURE(limit);
        FailingSink out(limit);
        io::AgeEncryptSink enc(out, r);
        bool thrown = false;
        try {
            for (std::size_t at = 0; at < plain.size(); at += 100000)
                enc.write(bytes.subspan(at, std::min<std::size_t>(100000, plain.size() - at)));
            enc.finish();
        } catch (const IoError& e) {
            thrown = true;
            CHECK(std::string(e.what()).find("went away") != std::string::npos);
            enc.abort();
        }
        CHECK(thrown);
        CHECK(out.aborted);
    }
}

namespace {
/// Hashes what it is shown; throws once it has seen more than `limit` bytes.
struct LimitedDigest final : io::Observer {
    io::Sha256 sha;
    std::size_t seen = 0;
    std::size_t limit = SIZE_MAX;
    void update(io::Bytes data) override {
        seen += data.size();
        if (seen > limit) throw IoError("digest", "the observer gave up", 5);
        sha.update(data);
    }
};
}  // namespace

TEST_CASE("sealed observers see exactly the stored bytes, in order, and their failures surface") {
    io::AgeRecipients r;
    r.x25519 = {io::age_generate_key().recipient};
    for (const std::size_t n : sizes) {
        CAPTURE(n);
        const std::string plain = random_text(n, 21);
        io::MemorySink out;
        LimitedDigest digest;
        io::AgeEncryptSink enc(out, r, {&digest});
        for (std::size_t i = 0; i < plain.size(); i += 100000)
            enc.write(io::as_bytes(std::string_view(plain).substr(i, 100000)));
        enc.finish();
        REQUIRE(out.finished());
        CHECK(digest.seen == out.data().size());
        CHECK(digest.sha.hex() == io::sha256_hex(out.data()));
    }
    // An observer that throws (on the worker's thread, or the caller's for the header and the
    // last batch): the error reaches the writer, and the next sink is aborted (or, when the
    // header's failed the constructor, never written to).
    const std::string plain = random_text(100 * chunk + 7, 22);
    for (const std::size_t limit : {std::size_t{10}, 3 * chunk, 70 * chunk, 100 * chunk}) {
        CAPTURE(limit);
        io::MemorySink out;
        LimitedDigest digest;
        digest.limit = limit;
        bool thrown = false;
        bool constructed = false;
        try {
            io::AgeEncryptSink enc(out, r, {&digest});
            constructed = true;
            for (std::size_t i = 0; i < plain.size(); i += 100000)
                enc.write(io::as_bytes(std::string_view(plain).substr(i, 100000)));
            enc.finish();
        } catch (const IoError& e) {
            thrown = true;
            CHECK(std::string(e.what()).find("gave up") != std::string::npos);
        }
        CHECK(thrown);
        CHECK(constructed == (limit != 10));
        CHECK(out.aborted() == constructed);
        CHECK(out.data().empty());
        CHECK_FALSE(out.finished());
    }
}

TEST_CASE("tampering anywhere is detected, and only authentic plaintext is released") {
    const auto k = io::age_generate_key();
    const auto k2 = io::age_generate_key();
    io::AgeRecipients r;
    r.x25519 = {k.recipient, k2.recipient};
    const std::string plain = random_text(2 * chunk + 1000, 11);  // chunks: full, full, short
    const std::string file = encrypt(plain, r);
    const auto ids = with(k.identity);
    REQUIRE_FALSE(decrypt(file, ids).error);
    const std::size_t hs = header_size(file);
    const std::size_t payload = hs + 16;
    const std::size_t sealed = chunk + 16;

    auto check_detected = [&](const std::string& bad, const char* what, std::size_t at) {
        CAPTURE(what);
        CAPTURE(at);
        const auto o = decrypt(bad, ids);
        CHECK(o.error.has_value());
        // Whatever was released is a prefix of the plaintext, in whole chunks.
        CHECK(plain.starts_with(o.released));
        CHECK(o.released.size() % chunk == 0);
    };
    // Every byte of the header (version, both stanzas, MAC line) and of the nonce.
    for (std::size_t i = 0; i < payload; ++i) {
        std::string bad = file;
        bad[i] = static_cast<char>(bad[i] ^ 0x01);
        check_detected(bad, "flipped header or nonce byte", i);
    }
    // Bytes of each chunk: its first, middle and last ciphertext bytes and its tag.
    for (std::size_t c = 0; c < 3; ++c) {
        const std::size_t start = payload + c * sealed;
        const std::size_t end = std::min(start + sealed, file.size());
        for (const std::size_t i : {start, start + 500, end - 17, end - 16, end - 1}) {
            std::string bad = file;
            bad[i] = static_cast<char>(bad[i] ^ 0x80);
            check_detected(bad, "flipped chunk byte", i);
            const auto o = decrypt(bad, ids);
            CHECK(o.error == AgeError::Kind::payload);
            CHECK(o.released.size() == c * chunk);  // the chunks before it, no more
        }
    }
    // The header's MAC is what a changed-but-well-formed header fails on.
    {
        std::string bad = file;
        const auto mac = file.find("\n--- ") + 5;
        bad[mac] = bad[mac] == 'A' ? 'B' : 'A';
        CHECK(decrypt(bad, ids).error == AgeError::Kind::hmac);
    }
    // Truncations: at each chunk boundary (the final chunk missing), and off them.
    for (const std::size_t cut : {payload, payload + sealed, payload + 2 * sealed}) {
        check_detected(file.substr(0, cut), "truncated at a chunk boundary", cut);
        CHECK(decrypt(file.substr(0, cut), ids).error == AgeError::Kind::payload);
    }
    for (const std::size_t cut :
         {std::size_t{0}, std::size_t{10}, hs - 1, hs, payload - 1, payload + 1, payload + 15,
          payload + sealed - 1, payload + sealed + 1, file.size() - 1, file.size() - 16}) {
        check_detected(file.substr(0, cut), "truncated", cut);
    }
    // Appended data: a byte, a tag's worth, a whole copy of the last chunk.
    for (const std::string& extra :
         {std::string(1, '\0'), std::string(16, 'x'), file.substr(payload + 2 * sealed)}) {
        const auto o = decrypt(file + extra, ids);
        CHECK(o.error == AgeError::Kind::payload);
    }
    // Chunks swapped or one dropped: the counter in the nonce catches it.
    {
        const std::string c0 = file.substr(payload, sealed),
                          c1 = file.substr(payload + sealed, sealed);
        std::string swapped = file;
        swapped.replace(payload, sealed, c1);
        swapped.replace(payload + sealed, sealed, c0);
        CHECK(decrypt(swapped, ids).error == AgeError::Kind::payload);
        std::string dropped = file;
        dropped.erase(payload + sealed, sealed);
        CHECK(decrypt(dropped, ids).error == AgeError::Kind::payload);
    }
    // A file whose last chunk is full: cutting that chunk off leaves a valid-looking prefix
    // that must still fail (its last chunk is not flagged as the final one).
    {
        const std::string two = encrypt(random_text(2 * chunk, 5), r);
        const std::size_t p2 = header_size(two) + 16;
        REQUIRE(two.size() == p2 + 2 * sealed);
        const auto o = decrypt(two.substr(0, p2 + sealed), ids);
        CHECK(o.error == AgeError::Kind::payload);
        CHECK(o.released.size() == chunk);
    }
}

namespace {
// Hands out at most `step` bytes per read, as a pipe or a network stream may.
class TrickleSource final : public io::Source {
public:
    TrickleSource(std::string_view data, std::size_t step) : data_(data), step_(step) {}
    std::size_t read(io::MutableBytes buf) override {
        const std::size_t n = std::min({buf.size(), step_, data_.size() - pos_});
        std::memcpy(buf.data(), data_.data() + pos_, n);
        pos_ += n;
        return n;
    }

private:
    std::string_view data_;
    std::size_t step_;
    std::size_t pos_ = 0;
};
}  // namespace

TEST_CASE("a source that returns a few bytes at a time decrypts the same") {
    const auto k = io::age_generate_key();
    io::AgeRecipients r;
    r.x25519 = {k.recipient};
    const std::string plain = random_text(chunk + 77, 9);
    const std::string file = encrypt(plain, r);
    for (const std::size_t step : {std::size_t{1}, std::size_t{7}, std::size_t{4097}}) {
        CAPTURE(step);
        TrickleSource src(file, step);
        io::AgeDecryptSource dec(src, with(k.identity));
        CHECK(io::read_all(dec) == plain);
        // And a truncated one still fails.
        TrickleSource cut(std::string_view(file).substr(0, file.size() - 1), step);
        io::AgeDecryptSource dec2(cut, with(k.identity));
        CHECK_THROWS_AS(io::read_all(dec2), AgeError);
        std::byte one[1];
        CHECK_THROWS_AS(dec2.read(one), AgeError);  // and stays failed
    }
}

TEST_CASE("random access: any range decrypts from its chunks; tampering and truncation fail") {
    const auto pair = io::age_generate_key();
    io::AgeRecipients to;
    to.x25519 = {pair.recipient};
    const auto ids = with(pair.identity);
    for (const std::size_t size : {std::size_t{1}, chunk, 3 * chunk + 7}) {
        CAPTURE(size);
        const auto plain = random_text(size, static_cast<unsigned>(size));
        const auto file = encrypt(plain, to);
        std::size_t fetches = 0;
        auto read_at = [&fetches](const std::string& f) {
            return [&fetches, &f](std::uint64_t at, std::size_t n) {
                ++fetches;
                return at >= f.size() ? std::string() : f.substr(at, n);
            };
        };
        io::AgeRandomAccess ra(read_at(file), file.size(), ids);
        CHECK(ra.size() == size);
        const std::pair<std::size_t, std::size_t> ranges[] = {
            {0, size}, {0, 1}, {size - 1, 1}, {size / 2, size - size / 2}, {chunk - 3, 6}};
        for (const auto& range : ranges) {
            const std::size_t at = range.first, n = range.second;
            if (at + n > size) continue;
            CAPTURE(at);
            fetches = 0;
            CHECK(ra.read(at, n) == plain.substr(at, n));
            CHECK(fetches == 1);  // one ranged read of the chunks that hold it
        }
        CHECK(ra.read(size, 0).empty());
        CHECK_THROWS_AS(ra.read(size, 1), AgeError);

        // A flipped byte in the last chunk fails a read there, not one elsewhere.
        std::string bad = file;
        bad[bad.size() - 20] ^= 0x01;
        io::AgeRandomAccess tampered(read_at(bad), bad.size(), ids);
        CHECK_THROWS_AS(tampered.read(size - 1, 1), AgeError);
        if (size > chunk) CHECK(tampered.read(0, 10) == plain.substr(0, 10));
        // Truncated at a chunk boundary: the new last chunk fails its final flag.
        if (size > chunk) {
            const std::string cut = file.substr(0, file.size() - (size - 3 * chunk) - 16);
            io::AgeRandomAccess truncated(read_at(cut), cut.size(), ids);
            CHECK_THROWS_AS(truncated.read(truncated.size() - 1, 1), AgeError);
        }
        // Another identity opens nothing; a changed header fails its MAC.
        CHECK_THROWS_AS(
            io::AgeRandomAccess(read_at(file), file.size(), with(io::age_generate_key().identity)),
            AgeError);
        std::string header = file;
        header[header.find("\n-> X25519 ") + 12] ^= 0x01;
        CHECK_THROWS_AS(io::AgeRandomAccess(read_at(header), header.size(), ids), AgeError);
    }
}
