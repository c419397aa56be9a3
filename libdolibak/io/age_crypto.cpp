// The OpenSSL 3 primitives age is built from, each handle owned by a unique_ptr: X25519,
// HKDF-SHA-256, HMAC-SHA-256, ChaCha20-Poly1305 and scrypt.
#include "io/age_format.hpp"

#include <dolibak/core/error.hpp>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <memory>

namespace dolibak::io::age {

namespace {
template <typename T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const noexcept { Free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using Kdf = std::unique_ptr<EVP_KDF, Deleter<EVP_KDF, EVP_KDF_free>>;
using KdfCtx = std::unique_ptr<EVP_KDF_CTX, Deleter<EVP_KDF_CTX, EVP_KDF_CTX_free>>;
using Mac = std::unique_ptr<EVP_MAC, Deleter<EVP_MAC, EVP_MAC_free>>;
using MacCtx = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX, EVP_MAC_CTX_free>>;

[[noreturn]] void fail(const char* what) {
    throw Error(std::string(what) + " failed (OpenSSL)");
}

KdfCtx kdf_ctx(const char* name) {
    Kdf kdf(EVP_KDF_fetch(nullptr, name, nullptr));
    if (!kdf) fail(name);
    KdfCtx ctx(EVP_KDF_CTX_new(kdf.get()));
    if (!ctx) fail(name);
    return ctx;
}

void* mut(const void* p) {
    return const_cast<void*>(p);  // OSSL_PARAM takes non-const pointers for input too
}
}  // namespace

void wipe(void* p, std::size_t n) noexcept {
    OPENSSL_cleanse(p, n);
}

void random_bytes(unsigned char* out, std::size_t size) {
    if (RAND_bytes(out, static_cast<int>(size)) != 1) fail("random generator");
}

void hkdf_sha256(const unsigned char* ikm, std::size_t ikm_size, std::string_view salt,
                 std::string_view info, SymKey& out) {
    auto ctx = kdf_ctx("HKDF");
    char digest[] = "SHA256";
    // An empty salt is left out: HKDF then uses a block of zeros, which HMAC treats as the
    // same key as an empty one (RFC 5869); OpenSSL refuses an empty salt parameter.
    OSSL_PARAM params[5];
    std::size_t i = 0;
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, mut(ikm), ikm_size);
    if (!salt.empty())
        params[i++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, mut(salt.data()), salt.size());
    params[i++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, mut(info.data()), info.size());
    params[i] = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) fail("HKDF-SHA-256");
}

void hmac_sha256(const SymKey& key, std::string_view data, unsigned char out[32]) {
    Mac mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!mac) fail("HMAC");
    MacCtx ctx(EVP_MAC_CTX_new(mac.get()));
    if (!ctx) fail("HMAC");
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    std::size_t len = 0;
    if (EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1 ||
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) != 1 ||
        EVP_MAC_final(ctx.get(), out, &len, 32) != 1 || len != 32)
        fail("HMAC-SHA-256");
}

struct Aead::Ctx {
    CipherCtx enc;
    CipherCtx dec;
};

Aead::Aead(const SymKey& key) : ctx_(std::make_unique<Ctx>()) {
    ctx_->enc.reset(EVP_CIPHER_CTX_new());
    ctx_->dec.reset(EVP_CIPHER_CTX_new());
    if (!ctx_->enc || !ctx_->dec ||
        EVP_EncryptInit_ex(ctx_->enc.get(), EVP_chacha20_poly1305(), nullptr, key.data(),
                           nullptr) != 1 ||
        EVP_DecryptInit_ex(ctx_->dec.get(), EVP_chacha20_poly1305(), nullptr, key.data(),
                           nullptr) != 1)
        fail("ChaCha20-Poly1305 set-up");
}
Aead::~Aead() = default;

void Aead::seal(const unsigned char nonce[12], const unsigned char* in, std::size_t size,
                unsigned char* out) {
    EVP_CIPHER_CTX* c = ctx_->enc.get();
    int len = 0, fin = 0;
    if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce) != 1 ||
        (size > 0 && EVP_EncryptUpdate(c, out, &len, in, static_cast<int>(size)) != 1) ||
        EVP_EncryptFinal_ex(c, out + len, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag_size), out + size) != 1)
        fail("ChaCha20-Poly1305 encryption");
}

bool Aead::open(const unsigned char nonce[12], const unsigned char* in, std::size_t size,
                unsigned char* out) {
    if (size < tag_size) return false;
    EVP_CIPHER_CTX* c = ctx_->dec.get();
    const std::size_t n = size - tag_size;
    int len = 0, fin = 0;
    if (EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce) != 1 ||
        (n > 0 && EVP_DecryptUpdate(c, out, &len, in, static_cast<int>(n)) != 1) ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag_size), mut(in + n)) != 1)
        fail("ChaCha20-Poly1305 decryption");
    if (EVP_DecryptFinal_ex(c, out + len, &fin) != 1) {
        wipe(out, n);  // never leave unauthenticated plaintext behind
        return false;
    }
    return true;
}

namespace {
Pkey private_key(const SymKey& scalar) {
    Pkey k(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, scalar.data(), scalar.size()));
    if (!k) fail("X25519 private key");
    return k;
}
}  // namespace

Key32 x25519_public(const SymKey& scalar) {
    auto k = private_key(scalar);
    Key32 pub{};
    std::size_t len = pub.size();
    if (EVP_PKEY_get_raw_public_key(k.get(), pub.data(), &len) != 1 || len != pub.size())
        fail("X25519 public key");
    return pub;
}

bool x25519_shared(const SymKey& scalar, const Key32& peer, SymKey& out) {
    auto k = private_key(scalar);
    Pkey p(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data(), peer.size()));
    if (!p) fail("X25519 public key");
    PkeyCtx ctx(EVP_PKEY_CTX_new(k.get(), nullptr));
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1) fail("X25519");
    if (EVP_PKEY_derive_set_peer(ctx.get(), p.get()) != 1) return false;
    std::size_t len = out.size();
    // OpenSSL refuses an all-zero result (a low-order point); check it as well.
    if (EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1 || len != out.size()) return false;
    unsigned char any = 0;
    for (auto b : out.bytes) any |= b;
    return any != 0;
}

void scrypt(std::string_view passphrase, std::string_view salt, int log_n, SymKey& out) {
    auto ctx = kdf_ctx("SCRYPT");
    std::uint64_t n = std::uint64_t{1} << log_n;
    std::uint32_t r = 8, p = 1;
    // 128 * r * N for the big array, plus room for the rest.
    std::uint64_t maxmem = 128 * std::uint64_t{r} * n + (std::uint64_t{16} << 20);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, mut(passphrase.data()),
                                          passphrase.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, mut(salt.data()), salt.size()),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end()};
    if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) fail("scrypt");
}

}  // namespace dolibak::io::age
