// The age payload: a 16-byte nonce, a key derived from it and the file key, then STREAM
// chunks of 64 KiB sealed with ChaCha20-Poly1305 under a counter nonce with a last-chunk flag.
#include "io/age_format.hpp"

namespace dolibak::io {

AgeError::AgeError(Kind kind, const std::string& message, std::optional<std::uint64_t> offset)
    : FormatError(message, offset), kind_(kind) {}

namespace age {

void stream_nonce(std::uint64_t counter, bool last, unsigned char out[12]) {
    for (int i = 0; i < 3; ++i) out[i] = 0;  // the counter's high bytes: never reached
    for (int i = 0; i < 8; ++i) out[3 + i] = static_cast<unsigned char>(counter >> (56 - 8 * i));
    out[11] = last ? 1 : 0;
}

void payload_key(const FileKey& file_key, const unsigned char nonce[nonce_size], SymKey& out) {
    hkdf_sha256(file_key.data(), file_key.size(),
                std::string_view(reinterpret_cast<const char*>(nonce), nonce_size), "payload", out);
}

}  // namespace age
}  // namespace dolibak::io
