// AgeRandomAccess: the header read and checked once, then any plaintext range decrypted from
// the chunks that hold it. A chunk's place follows from the format: the header, the 16-byte
// nonce, then chunks of 64 KiB + 16 bytes of tag, the final one shorter or full.
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

[[noreturn]] void payload_error(const std::string& what, std::optional<std::uint64_t> offset) {
    throw AgeError(AgeError::Kind::payload, "age payload: " + what, offset);
}
}  // namespace

struct AgeRandomAccess::Impl {
    ReadAt read_at;
    std::uint64_t file_size = 0;
    std::uint64_t payload_start = 0;  // of chunk 0
    std::uint64_t chunks = 0;
    std::uint64_t plain_size = 0;
    std::unique_ptr<Aead> aead;
};

AgeRandomAccess::AgeRandomAccess(ReadAt read_at, std::uint64_t file_size,
                                 const AgeIdentities& identities)
    : impl_(std::make_unique<Impl>()) {
    auto& m = *impl_;
    m.read_at = std::move(read_at);
    m.file_size = file_size;
    std::string buf;
    std::size_t pos = 0, scanned = 0;
    auto next_line = [&]() -> std::optional<std::string> {
        for (;;) {
            const auto nl = buf.find('\n', pos + scanned);
            if (nl != std::string::npos) {
                std::string line = buf.substr(pos, nl - pos);
                pos = nl + 1;
                scanned = 0;
                return line;
            }
            scanned = buf.size() - pos;
            if (buf.size() >= file_size) return std::nullopt;
            if (buf.size() >= max_header_size)
                throw AgeError(AgeError::Kind::header, "invalid age header: larger than 1 MiB");
            const std::string more = m.read_at(buf.size(), 4096);
            if (more.empty()) return std::nullopt;
            buf += more;
        }
    };
    const Header header = parse_header(next_line);
    const FileKey file_key = unwrap(header.stanzas, identities);
    const std::string mac = header_mac(file_key, header.mac_input);
    if (mac.size() != header.mac.size() ||
        CRYPTO_memcmp(mac.data(), header.mac.data(), mac.size()) != 0)
        throw AgeError(AgeError::Kind::hmac,
                       "age header: the MAC does not match (the header was changed)");
    if (file_size < pos + nonce_size)
        throw AgeError(AgeError::Kind::header, "age file: the payload nonce is missing or short");
    std::string nonce = buf.substr(pos, nonce_size);
    if (nonce.size() < nonce_size)
        nonce += m.read_at(pos + nonce.size(), nonce_size - nonce.size());
    if (nonce.size() != nonce_size)
        throw AgeError(AgeError::Kind::header, "age file: the payload nonce is missing or short");
    m.payload_start = pos + nonce_size;
    const std::uint64_t payload = file_size - m.payload_start;
    if (payload == 0) payload_error("no chunk after the nonce", m.payload_start);
    m.chunks = (payload + sealed_size - 1) / sealed_size;
    const std::uint64_t last = payload - (m.chunks - 1) * sealed_size;
    if (last < tag_size) payload_error("the file ends inside a chunk's tag", file_size - last);
    if (last == tag_size && m.chunks > 1)
        payload_error("an empty final chunk after other chunks", file_size - last);
    m.plain_size = payload - m.chunks * tag_size;
    SymKey key;
    payload_key(file_key, reinterpret_cast<const unsigned char*>(nonce.data()), key);
    m.aead = std::make_unique<Aead>(key);
}

AgeRandomAccess::~AgeRandomAccess() = default;

std::uint64_t AgeRandomAccess::size() const noexcept {
    return impl_->plain_size;
}

std::string AgeRandomAccess::read(std::uint64_t offset, std::size_t size) {
    auto& m = *impl_;
    if (offset > m.plain_size || size > m.plain_size - offset)
        payload_error("a read of " + std::to_string(size) + " bytes at " + std::to_string(offset) +
                          " goes beyond the plaintext's " + std::to_string(m.plain_size),
                      std::nullopt);
    if (size == 0) return {};
    const std::uint64_t first = offset / chunk_size;
    const std::uint64_t last = (offset + size - 1) / chunk_size;
    const std::uint64_t from = m.payload_start + first * sealed_size;
    const std::uint64_t to =
        std::min<std::uint64_t>(m.file_size, m.payload_start + (last + 1) * sealed_size);
    const std::string sealed = m.read_at(from, static_cast<std::size_t>(to - from));
    if (sealed.size() != to - from)
        payload_error("the file ends before its size (" + std::to_string(m.file_size) + ")",
                      from + sealed.size());
    std::string out;
    out.reserve(size);
    std::vector<unsigned char> plain(chunk_size);
    for (std::uint64_t i = first; i <= last; ++i) {
        const std::size_t at = static_cast<std::size_t>((i - first) * sealed_size);
        const std::size_t n = std::min(sealed_size, sealed.size() - at);
        unsigned char nonce[12];
        stream_nonce(i, i + 1 == m.chunks, nonce);
        if (!m.aead->open(nonce, reinterpret_cast<const unsigned char*>(sealed.data()) + at, n,
                          plain.data()))
            payload_error("chunk " + std::to_string(i) + " fails authentication", from + at);
        const std::uint64_t chunk_start = i * chunk_size;
        const std::uint64_t lo = std::max(offset, chunk_start);
        const std::uint64_t hi =
            std::min<std::uint64_t>(offset + size, chunk_start + (n - tag_size));
        out.append(reinterpret_cast<const char*>(plain.data()) + (lo - chunk_start),
                   static_cast<std::size_t>(hi - lo));
    }
    wipe(plain.data(), plain.size());
    return out;
}

}  // namespace dolibak::io
