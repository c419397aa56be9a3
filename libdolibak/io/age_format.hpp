#pragma once
// The pieces of the age v1 format (private to the io layer): bech32, canonical unpadded
// base64, the OpenSSL primitives it is built from, the header's stanzas and MAC, the
// recipient stanzas (X25519, scrypt) and the STREAM payload chunks.
#include <dolibak/core/secret.hpp>
#include <dolibak/io/age.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::io::age {

using Key32 = std::array<unsigned char, 32>;

/// A fixed-size buffer of key material, wiped when it goes.
template <std::size_t N>
struct SecretArray {
    std::array<unsigned char, N> bytes{};
    SecretArray() = default;
    SecretArray(const SecretArray&) = default;
    SecretArray& operator=(const SecretArray&) = default;
    ~SecretArray();
    unsigned char* data() noexcept { return bytes.data(); }
    const unsigned char* data() const noexcept { return bytes.data(); }
    static constexpr std::size_t size() noexcept { return N; }
};
void wipe(void* p, std::size_t n) noexcept;
template <std::size_t N>
SecretArray<N>::~SecretArray() {
    wipe(bytes.data(), N);
}
using FileKey = SecretArray<16>;
using SymKey = SecretArray<32>;

// --- bech32 (BIP 173 checksum, without its 90-character limit, as age uses it)
struct Bech32 {
    std::string hrp;                  ///< lower case
    std::vector<unsigned char> data;  ///< 8-bit bytes
};
/// Lower-case bech32 of `data` under `hrp` (given in lower case).
std::string bech32_encode(std::string_view hrp, const unsigned char* data, std::size_t size);
/// Decodes an all-lower or all-upper case string; nullopt when it is not valid bech32.
std::optional<Bech32> bech32_decode(std::string_view text);

// --- base64, standard alphabet, no padding, canonical (unused bits zero)
std::string base64_unpadded(const unsigned char* data, std::size_t size);
std::optional<std::string> base64_decode_canonical(std::string_view text);

// --- OpenSSL primitives
void random_bytes(unsigned char* out, std::size_t size);
/// HKDF-SHA-256, 32 bytes of output.
void hkdf_sha256(const unsigned char* ikm, std::size_t ikm_size, std::string_view salt,
                 std::string_view info, SymKey& out);
void hmac_sha256(const SymKey& key, std::string_view data, unsigned char out[32]);
/// ChaCha20-Poly1305 with a 12-byte nonce and no associated data; the 16-byte tag follows
/// the ciphertext. Reusable across many messages with the same key.
class Aead {
public:
    explicit Aead(const SymKey& key);
    ~Aead();
    Aead(const Aead&) = delete;
    Aead& operator=(const Aead&) = delete;
    /// out must hold size + 16 bytes.
    void seal(const unsigned char nonce[12], const unsigned char* in, std::size_t size,
              unsigned char* out);
    /// in holds size bytes (ciphertext + tag, size >= 16); out receives size - 16 bytes.
    /// Returns false when the tag does not match.
    bool open(const unsigned char nonce[12], const unsigned char* in, std::size_t size,
              unsigned char* out);

private:
    struct Ctx;
    std::unique_ptr<Ctx> ctx_;
};
/// X25519: the public key of a 32-byte private scalar.
Key32 x25519_public(const SymKey& scalar);
/// X25519 shared secret; false when it is all zeros (a low-order share).
bool x25519_shared(const SymKey& scalar, const Key32& peer, SymKey& out);
/// scrypt (N = 2^log_n, r = 8, p = 1), 32 bytes.
void scrypt(std::string_view passphrase, std::string_view salt, int log_n, SymKey& out);

// --- keys
/// The 32-byte scalar of an AGE-SECRET-KEY-1 identity; nullopt when it is not one.
std::optional<SymKey> decode_identity(std::string_view text);
/// The 32-byte key of an age1 recipient; nullopt when it is not one.
std::optional<Key32> decode_recipient(std::string_view text);
std::string encode_recipient(const Key32& key);

// --- header
inline constexpr std::string_view version_line = "age-encryption.org/v1";
struct Stanza {
    std::vector<std::string> args;  ///< args[0] is the type
    std::string body;               ///< decoded
};
struct Header {
    std::vector<Stanza> stanzas;
    std::string mac_input;  ///< the header text up to and including "---"
    std::string mac;        ///< 32 bytes
};
/// The text of a stanza, its body wrapped at 64 columns and ending with a short line.
std::string encode_stanza(const Stanza& stanza);
/// Reads the header line by line: next_line returns a line without its '\n' (nullopt at the
/// end of the input, or for a line that did not end with '\n'). Throws AgeError (header).
Header parse_header(const std::function<std::optional<std::string>()>& next_line);
/// The header MAC of mac_input under the file key.
std::string header_mac(const FileKey& file_key, std::string_view mac_input);

// --- recipient stanzas
Stanza wrap_x25519(const FileKey& file_key, const Key32& recipient);
Stanza wrap_scrypt(const FileKey& file_key, const Secret& passphrase, int log_n);
/// Opens the stanzas with the identities; throws AgeError (header for a malformed stanza of
/// a known type, or a forbidden combination; no_match when none opens).
FileKey unwrap(const std::vector<Stanza>& stanzas, const AgeIdentities& identities);

// --- STREAM
inline constexpr std::size_t chunk_size = 64 * 1024;
inline constexpr std::size_t tag_size = 16;
inline constexpr std::size_t nonce_size = 16;
/// The 12-byte nonce of chunk `counter`: an 11-byte big-endian counter and the last flag.
void stream_nonce(std::uint64_t counter, bool last, unsigned char out[12]);
void payload_key(const FileKey& file_key, const unsigned char nonce[nonce_size], SymKey& out);

}  // namespace dolibak::io::age
