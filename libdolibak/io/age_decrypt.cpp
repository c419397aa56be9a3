// AgeDecryptSource: reads and checks the header and the nonce, then authenticates each
// chunk before releasing a byte of it. One byte past a full chunk is read ahead to know
// whether that chunk must be the final one.
#include "io/age_format.hpp"

#include <dolibak/core/error.hpp>

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>

namespace dolibak::io {

using namespace age;

namespace {
constexpr std::size_t max_header_size = 1 << 20;
constexpr std::size_t sealed_size = chunk_size + tag_size;

[[noreturn]] void payload_error(const std::string& what, std::uint64_t offset) {
    throw AgeError(AgeError::Kind::payload, "age payload: " + what, offset);
}
}  // namespace

struct AgeDecryptSource::Impl {
    Source& inner;
    std::string pending;  // bytes read past the header
    std::size_t pending_pos = 0;
    std::unique_ptr<Aead> aead;
    std::vector<unsigned char> sealed = std::vector<unsigned char>(sealed_size + 1);
    std::size_t carry = 0;  // bytes of the next chunk already in sealed[0..carry)
    std::vector<unsigned char> plain = std::vector<unsigned char>(chunk_size);
    std::size_t plain_pos = 0, plain_end = 0;
    std::uint64_t counter = 0;
    std::uint64_t offset = 0;  // of the next chunk in the file
    bool last_seen = false;
    std::optional<AgeError> deferred;  // raised once the authentic plaintext before it is read

    explicit Impl(Source& s) : inner(s) {}
    ~Impl() { wipe(plain.data(), plain.size()); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    // Reads up to n bytes (fewer only at the end of the input).
    std::size_t read_exact(unsigned char* out, std::size_t n) {
        std::size_t got = std::min(n, pending.size() - pending_pos);
        std::memcpy(out, pending.data() + pending_pos, got);
        pending_pos += got;
        if (got < n)
            got += read_full(inner, MutableBytes(reinterpret_cast<std::byte*>(out) + got, n - got));
        return got;
    }

    void next_chunk() {
        const std::size_t n = carry + read_exact(sealed.data() + carry, sealed.size() - carry);
        const std::uint64_t at = offset;
        unsigned char nonce[12];
        if (n == 0) payload_error("no chunk after the nonce", at);
        if (n > sealed_size) {  // a full chunk and more after it: not the final chunk
            stream_nonce(counter, false, nonce);
            if (aead->open(nonce, sealed.data(), sealed_size, plain.data())) {
                sealed[0] = sealed[sealed_size];
                carry = 1;
            } else {
                stream_nonce(counter, true, nonce);
                if (!aead->open(nonce, sealed.data(), sealed_size, plain.data()))
                    payload_error("chunk " + std::to_string(counter) + " fails authentication", at);
                // An authentic final chunk with more after it: released, then the error.
                deferred = AgeError(AgeError::Kind::payload,
                                    "age payload: data after the final chunk", at + sealed_size);
                last_seen = true;
            }
            plain_end = chunk_size;
        } else {  // the input ends: this must be the final chunk
            if (n < tag_size) payload_error("the input ends inside a chunk's tag", at);
            stream_nonce(counter, true, nonce);
            if (!aead->open(nonce, sealed.data(), n, plain.data())) {
                stream_nonce(counter, false, nonce);
                if (n != sealed_size || !aead->open(nonce, sealed.data(), n, plain.data()))
                    payload_error("chunk " + std::to_string(counter) +
                                      " fails authentication (tampered or truncated)",
                                  at);
                // An authentic chunk that is not the final one: released, then the error.
                deferred = AgeError(AgeError::Kind::payload,
                                    "age payload: truncated, the input ends at a chunk "
                                    "boundary before the final chunk",
                                    at + n);
            } else if (n == tag_size && counter > 0) {
                payload_error("an empty final chunk after other chunks", at);
            }
            plain_end = n - tag_size;
            carry = 0;
            last_seen = true;
        }
        plain_pos = 0;
        offset += std::min(n, sealed_size);
        ++counter;
    }
};

AgeDecryptSource::AgeDecryptSource(Source& inner, const AgeIdentities& identities)
    : impl_(std::make_unique<Impl>(inner)) {
    auto& m = *impl_;
    std::string& buf = m.pending;
    std::size_t scanned = 0;
    bool eof = false;
    auto next_line = [&]() -> std::optional<std::string> {
        for (;;) {
            const auto nl = buf.find('\n', m.pending_pos + scanned);
            if (nl != std::string::npos) {
                std::string line = buf.substr(m.pending_pos, nl - m.pending_pos);
                m.pending_pos = nl + 1;
                scanned = 0;
                return line;
            }
            scanned = buf.size() - m.pending_pos;
            if (eof) return std::nullopt;
            if (buf.size() >= max_header_size)
                throw AgeError(AgeError::Kind::header, "invalid age header: larger than 1 MiB");
            char block[4096];
            const std::size_t got =
                inner.read(MutableBytes(reinterpret_cast<std::byte*>(block), sizeof block));
            if (got == 0) eof = true;
            buf.append(block, got);
        }
    };
    const Header header = parse_header(next_line);
    const FileKey file_key = unwrap(header.stanzas, identities);
    const std::string mac = header_mac(file_key, header.mac_input);
    const std::uint64_t header_size = m.pending_pos;
    if (mac.size() != header.mac.size() ||
        CRYPTO_memcmp(mac.data(), header.mac.data(), mac.size()) != 0)
        throw AgeError(AgeError::Kind::hmac,
                       "age header: the MAC does not match (the header was changed)");
    unsigned char nonce[nonce_size];
    if (m.read_exact(nonce, nonce_size) != nonce_size)
        throw AgeError(AgeError::Kind::header, "age file: the payload nonce is missing or short");
    m.offset = header_size + nonce_size;
    SymKey key;
    payload_key(file_key, nonce, key);
    m.aead = std::make_unique<Aead>(key);
}

AgeDecryptSource::~AgeDecryptSource() = default;

std::size_t AgeDecryptSource::read(MutableBytes buf) {
    auto& m = *impl_;
    if (buf.empty()) return 0;
    while (m.plain_pos == m.plain_end) {
        if (m.deferred) throw *m.deferred;
        if (m.last_seen) return 0;
        try {
            m.next_chunk();
        } catch (const AgeError& e) {
            m.deferred = e;  // a failed stream stays failed: every later read raises it again
            throw;
        }
    }
    const std::size_t n = std::min(buf.size(), m.plain_end - m.plain_pos);
    std::memcpy(buf.data(), m.plain.data() + m.plain_pos, n);
    m.plain_pos += n;
    return n;
}

}  // namespace dolibak::io
