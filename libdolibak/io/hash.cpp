#include <dolibak/core/error.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/io/hash.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <vector>

namespace dolibak::io {

namespace {
struct MdCtxDeleter {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
}  // namespace

struct Digest::Impl {
    MdCtx ctx;
};

Digest::Digest(Algorithm algorithm) : impl_(std::make_unique<Impl>()) {
    impl_->ctx.reset(EVP_MD_CTX_new());
    const EVP_MD* md = algorithm == Algorithm::sha256 ? EVP_sha256() : EVP_md5();
    if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx.get(), md, nullptr) != 1)
        throw Error("cannot initialise a message digest (OpenSSL)");
}

Digest::~Digest() = default;
Digest::Digest(Digest&&) noexcept = default;
Digest& Digest::operator=(Digest&&) noexcept = default;

void Digest::update(io::Bytes data) {
    if (EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()) != 1)
        throw Error("message digest update failed (OpenSSL)");
}

std::string Digest::bytes() const {
    MdCtx copy(EVP_MD_CTX_new());
    if (!copy || EVP_MD_CTX_copy_ex(copy.get(), impl_->ctx.get()) != 1)
        throw Error("cannot copy a message digest (OpenSSL)");
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(copy.get(), out, &len) != 1)
        throw Error("message digest final failed (OpenSSL)");
    return std::string(reinterpret_cast<const char*>(out), len);
}

std::string Digest::hex() const {
    return to_hex(io::as_bytes(bytes()));
}
std::string Digest::base64() const {
    return to_base64(io::as_bytes(bytes()));
}

std::string to_hex(io::Bytes bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (auto b : bytes) {
        const auto v = std::to_integer<unsigned>(b);
        out += digits[v >> 4];
        out += digits[v & 15];
    }
    return out;
}

std::string to_base64(io::Bytes bytes) {
    static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned v = std::to_integer<unsigned>(bytes[i]) << 16 |
                           std::to_integer<unsigned>(bytes[i + 1]) << 8 |
                           std::to_integer<unsigned>(bytes[i + 2]);
        out += table[v >> 18 & 63];
        out += table[v >> 12 & 63];
        out += table[v >> 6 & 63];
        out += table[v & 63];
    }
    if (const auto rest = bytes.size() - i; rest > 0) {
        unsigned v = std::to_integer<unsigned>(bytes[i]) << 16;
        if (rest == 2) v |= std::to_integer<unsigned>(bytes[i + 1]) << 8;
        out += table[v >> 18 & 63];
        out += table[v >> 12 & 63];
        out += rest == 2 ? table[v >> 6 & 63] : '=';
        out += '=';
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.hex();
}

std::string sha256_bytes(std::string_view data) {
    thread_local MdCtx ctx(EVP_MD_CTX_new());
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), out, &len) != 1)
        throw Error("SHA-256 failed (OpenSSL)");
    return std::string(reinterpret_cast<const char*>(out), len);
}

std::string sha256_file_hex(const std::filesystem::path& path) {
    io::FileSource src(path);
    Sha256 h;
    std::vector<std::byte> buf(io::default_buffer_size);
    while (const auto n = src.read(buf)) h.update(io::Bytes(buf.data(), n));
    return h.hex();
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
              reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len))
        throw Error("HMAC-SHA-256 failed (OpenSSL)");
    return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace dolibak::io
