#pragma once
// Message digests used across the library (OpenSSL EVP underneath): SHA-256 for manifests,
// payload hashes and fingerprints, MD5 for Content-MD5 and ETag checks.
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace dolibak::io {

/// Lower-case hexadecimal of bytes.
DOLIBAK_API std::string to_hex(io::Bytes bytes);
/// Standard base64 (with padding).
DOLIBAK_API std::string to_base64(io::Bytes bytes);

/// An incremental digest; an io::Observer, so it can sit in any pipeline.
class DOLIBAK_API Digest : public io::Observer {
public:
    enum class Algorithm { sha256, md5 };
    explicit Digest(Algorithm algorithm);
    ~Digest() override;
    Digest(Digest&&) noexcept;
    Digest& operator=(Digest&&) noexcept;
    Digest(const Digest&) = delete;
    Digest& operator=(const Digest&) = delete;

    void update(io::Bytes data) override;
    void update(std::string_view text) { update(io::as_bytes(text)); }
    /// The digest of everything seen so far; the object can keep being updated afterwards.
    std::string bytes() const;
    std::string hex() const;
    std::string base64() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

class DOLIBAK_API Sha256 final : public Digest {
public:
    Sha256() : Digest(Algorithm::sha256) {}
};

class DOLIBAK_API Md5 final : public Digest {
public:
    Md5() : Digest(Algorithm::md5) {}
};

DOLIBAK_API std::string sha256_hex(std::string_view data);
/// SHA-256 (raw 32 bytes) of data; cheap to call for many small inputs (one context per thread).
DOLIBAK_API std::string sha256_bytes(std::string_view data);
/// SHA-256 of a file's bytes, read in streaming fashion.
DOLIBAK_API std::string sha256_file_hex(const std::filesystem::path& path);
/// HMAC-SHA-256 (raw 32 bytes) of data with key.
DOLIBAK_API std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace dolibak::io
