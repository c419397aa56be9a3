#pragma once
// The age v1 file format (age-encryption.org/v1) as stream filters: an encrypting Sink in
// front of another sink and a decrypting Source over another source, so that what dolibak
// writes can be decrypted by the standard `age` tool and the other way round. Recipients are
// X25519 keys (age1...) or one scrypt passphrase; memory stays at a few 64 KiB chunks.
// The format as implemented: docs/encryption.md.
#include <dolibak/core/error.hpp>
#include <dolibak/core/export.hpp>
#include <dolibak/core/secret.hpp>
#include <dolibak/io/io.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::io {

/// Encrypted data that cannot be decrypted: its kind follows the age testkit's outcomes.
class DOLIBAK_API AgeError : public FormatError {
public:
    enum class Kind {
        header,    ///< the header (or the payload nonce) is malformed or not canonical
        no_match,  ///< no identity or passphrase given opens any recipient stanza
        hmac,      ///< a stanza opened but the header's MAC does not match: tampered header
        payload,   ///< the payload is tampered, truncated or extended
    };
    AgeError(Kind kind, const std::string& message,
             std::optional<std::uint64_t> offset = std::nullopt);
    Kind kind() const noexcept { return kind_; }

private:
    Kind kind_;
};

/// A new X25519 key pair: the identity (secret) and its recipient (public).
struct AgeKeyPair {
    Secret identity;        ///< "AGE-SECRET-KEY-1..." (upper case, as age-keygen writes it)
    std::string recipient;  ///< "age1..." (lower case)
};

/// Generates an X25519 identity from the system's random generator.
DOLIBAK_API AgeKeyPair age_generate_key();

/// The recipient (age1...) of an identity (AGE-SECRET-KEY-1...). Throws ConfigError when the
/// identity is not a valid X25519 identity (the message never contains it).
DOLIBAK_API std::string age_recipient_of(const Secret& identity);

/// Checks a recipient (age1..., all lower or all upper case, bech32 checksum, 32-byte key)
/// and returns it in its canonical lower-case form. Throws ConfigError.
DOLIBAK_API std::string age_parse_recipient(std::string_view recipient);

/// The identities of an identity file as age-keygen writes it: one AGE-SECRET-KEY-1... per
/// line, with blank lines and '#' comments ignored. Each is checked; a bad line throws
/// ConfigError naming its line number. A file without any identity is an error.
DOLIBAK_API std::vector<Secret> age_parse_identity_file(std::string_view text);

/// Default scrypt work factor (log2 N) of passphrase encryption: age's own default.
inline constexpr int age_default_scrypt_work_factor = 18;
/// Largest scrypt work factor accepted on decryption by default (N = 2^22: 4 GiB, seconds).
inline constexpr int age_default_max_scrypt_work_factor = 22;

/// Who can decrypt what AgeEncryptSink writes: one or more X25519 recipients, or exactly one
/// passphrase (age requires an scrypt stanza to be alone in its header).
struct DOLIBAK_API AgeRecipients {
    std::vector<std::string> x25519;  ///< age1... recipients
    std::optional<Secret> passphrase;
    int scrypt_work_factor = age_default_scrypt_work_factor;  ///< log2 N, 1..30
};

/// Encrypts what is written into an age v1 file written to `next`: the header is written by
/// the constructor, the payload as 64 KiB chunks. finish() writes the final chunk and
/// finishes `next`; abort() aborts `next`. Throws ConfigError for bad recipients.
///
/// `sealed_observers` (such as the digest of the stored object) are shown every byte written
/// to `next`, in order, but each chunk as soon as it is sealed, which may be on a thread of
/// the sink's own: one pass over the ciphertext, off the caller's thread. They must not share
/// unsynchronised state with the caller's thread before finish() or abort() returns. An
/// exception one throws is raised by the write() or finish() that follows.
class DOLIBAK_API AgeEncryptSink final : public Sink {
public:
    AgeEncryptSink(Sink& next, const AgeRecipients& recipients,
                   std::vector<Observer*> sealed_observers = {});
    ~AgeEncryptSink() override;
    AgeEncryptSink(const AgeEncryptSink&) = delete;
    AgeEncryptSink& operator=(const AgeEncryptSink&) = delete;
    void write(Bytes data) override;
    void finish() override;
    void abort() noexcept override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// What may open an age file: X25519 identities and/or a passphrase.
struct DOLIBAK_API AgeIdentities {
    std::vector<Secret> x25519;  ///< AGE-SECRET-KEY-1... identities
    std::optional<Secret> passphrase;
    /// scrypt stanzas with a larger log2 N are refused (AgeError, header) before any work.
    int max_scrypt_work_factor = age_default_max_scrypt_work_factor;
};

/// Decrypts an age v1 file read from `inner`. The constructor reads and checks the header
/// (its MAC included) and the payload nonce; read() returns plaintext only once the chunk
/// that holds it is authenticated, and raises AgeError (payload) at a tampered, truncated or
/// extended payload. Binary files only (no ASCII armor).
class DOLIBAK_API AgeDecryptSource final : public Source {
public:
    AgeDecryptSource(Source& inner, const AgeIdentities& identities);
    ~AgeDecryptSource() override;
    AgeDecryptSource(const AgeDecryptSource&) = delete;
    AgeDecryptSource& operator=(const AgeDecryptSource&) = delete;
    std::size_t read(MutableBytes buf) override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Random access to the plaintext of an age file that can be read at any offset (a stored
/// object read with ranged gets: a pack of docs_mode packs). The constructor reads the header
/// and checks it (MAC included); read() then fetches, authenticates and decrypts only the
/// 64 KiB chunks that hold the range asked for. The file's size says which chunk is the final
/// one, and each chunk is opened with the final flag its position implies: a file truncated or
/// extended (at a chunk boundary or not) fails at the chunks concerned. Chunks never read are
/// not checked: read the whole file through AgeDecryptSource to check all of it.
class DOLIBAK_API AgeRandomAccess {
public:
    /// Up to `size` bytes of the encrypted file from `offset` (fewer only at its end).
    using ReadAt = std::function<std::string(std::uint64_t offset, std::size_t size)>;
    /// Throws AgeError (header, no_match, hmac) as AgeDecryptSource does, and AgeError
    /// (payload) when `file_size` cannot be the size of an age file with this header.
    AgeRandomAccess(ReadAt read_at, std::uint64_t file_size, const AgeIdentities& identities);
    ~AgeRandomAccess();
    AgeRandomAccess(const AgeRandomAccess&) = delete;
    AgeRandomAccess& operator=(const AgeRandomAccess&) = delete;
    /// The size of the plaintext.
    std::uint64_t size() const noexcept;
    /// The plaintext [offset, offset + size): AgeError (payload) when a chunk holding it fails
    /// authentication or the range goes beyond the plaintext's end.
    std::string read(std::uint64_t offset, std::size_t size);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// A short text (a manifest's sensitive part) encrypted to `recipients` as a whole age file,
/// returned as unpadded base64 so that it fits in a JSON string.
DOLIBAK_API std::string age_seal(std::string_view plaintext, const AgeRecipients& recipients);

/// The plaintext of what age_seal() returned. Throws AgeError (no_match without a fitting
/// identity, header or payload when the text is not a sealed age file or was altered).
DOLIBAK_API std::string age_unseal(std::string_view sealed, const AgeIdentities& identities);

}  // namespace dolibak::io
