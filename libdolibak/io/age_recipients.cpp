// The recipient stanzas: X25519 (an ephemeral share, the file key wrapped under a key
// derived from the shared secret) and scrypt (a salt and a work factor, the file key wrapped
// under a key derived from the passphrase).
#include "io/age_format.hpp"

#include <dolibak/core/error.hpp>

#include <cstring>

namespace dolibak::io::age {

namespace {
constexpr std::string_view x25519_label = "age-encryption.org/v1/X25519";
constexpr std::string_view scrypt_label = "age-encryption.org/v1/scrypt";
constexpr std::size_t wrapped_size = 16 + tag_size;

[[noreturn]] void bad(const std::string& what) {
    throw AgeError(AgeError::Kind::header, "invalid age header: " + what);
}

std::string wrap(const SymKey& key, const FileKey& file_key) {
    Aead aead(key);
    const unsigned char nonce[12] = {};
    std::string out(wrapped_size, '\0');
    aead.seal(nonce, file_key.data(), file_key.size(),
              reinterpret_cast<unsigned char*>(out.data()));
    return out;
}

bool unwrap_body(const SymKey& key, const std::string& body, FileKey& file_key) {
    Aead aead(key);
    const unsigned char nonce[12] = {};
    return aead.open(nonce, reinterpret_cast<const unsigned char*>(body.data()), body.size(),
                     file_key.data());
}

std::string salt_of(const Key32& a, const Key32& b) {
    std::string salt(reinterpret_cast<const char*>(a.data()), a.size());
    salt.append(reinterpret_cast<const char*>(b.data()), b.size());
    return salt;
}

// A work factor as age writes it: decimal, no sign, no leading zero, 1..max.
int parse_work_factor(std::string_view text) {
    if (text.empty() || text.size() > 2 || text[0] == '0') bad("bad scrypt work factor");
    int v = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') bad("bad scrypt work factor");
        v = v * 10 + (c - '0');
    }
    return v;
}
}  // namespace

Stanza wrap_x25519(const FileKey& file_key, const Key32& recipient) {
    SymKey ephemeral;
    random_bytes(ephemeral.data(), ephemeral.size());
    const Key32 share = x25519_public(ephemeral);
    SymKey shared;
    if (!x25519_shared(ephemeral, recipient, shared))
        throw ConfigError("an age recipient is a low-order X25519 point");
    SymKey key;
    hkdf_sha256(shared.data(), shared.size(), salt_of(share, recipient), x25519_label, key);
    return Stanza{{"X25519", base64_unpadded(share.data(), share.size())}, wrap(key, file_key)};
}

Stanza wrap_scrypt(const FileKey& file_key, const Secret& passphrase, int log_n) {
    if (log_n < 1 || log_n > 30) throw ConfigError("the scrypt work factor must be 1..30");
    if (passphrase.empty()) throw ConfigError("the passphrase is empty");
    unsigned char salt[16];
    random_bytes(salt, sizeof salt);
    std::string full_salt(scrypt_label);
    full_salt.append(reinterpret_cast<const char*>(salt), sizeof salt);
    SymKey key;
    scrypt(passphrase.reveal(), full_salt, log_n, key);
    return Stanza{{"scrypt", base64_unpadded(salt, sizeof salt), std::to_string(log_n)},
                  wrap(key, file_key)};
}

FileKey unwrap(const std::vector<Stanza>& stanzas, const AgeIdentities& identities) {
    // Structure first: a scrypt stanza must be alone, and every stanza of a type we know is
    // well formed, whichever identity will open it.
    std::size_t scrypt_count = 0;
    for (const auto& s : stanzas) {
        if (s.args[0] == "X25519") {
            if (s.args.size() != 2) bad("an X25519 stanza must have exactly one argument");
            const auto share = base64_decode_canonical(s.args[1]);
            if (!share || share->size() != 32) bad("an X25519 share is not 32 bytes");
            if (s.body.size() != wrapped_size) bad("an X25519 stanza body is not 32 bytes");
        } else if (s.args[0] == "scrypt") {
            ++scrypt_count;
            if (s.args.size() != 3) bad("an scrypt stanza must have exactly two arguments");
            const auto salt = base64_decode_canonical(s.args[1]);
            if (!salt || salt->size() != 16) bad("an scrypt salt is not 16 bytes");
            (void)parse_work_factor(s.args[2]);
            if (s.body.size() != wrapped_size) bad("an scrypt stanza body is not 32 bytes");
        }
    }
    if (scrypt_count > 0 && stanzas.size() != 1)
        bad("an scrypt stanza must be the only stanza of its header");

    FileKey file_key;
    std::vector<SymKey> scalars;
    for (const auto& id : identities.x25519) {
        auto scalar = decode_identity(id.reveal());
        if (!scalar) throw ConfigError("not an age X25519 identity (AGE-SECRET-KEY-1...)");
        scalars.push_back(*scalar);
    }
    for (const auto& s : stanzas) {
        if (s.args[0] == "X25519") {
            Key32 share{};
            std::memcpy(share.data(), base64_decode_canonical(s.args[1])->data(), 32);
            for (const auto& scalar : scalars) {
                SymKey shared;
                if (!x25519_shared(scalar, share, shared))
                    bad("an X25519 share is a low-order point");
                SymKey key;
                hkdf_sha256(shared.data(), shared.size(), salt_of(share, x25519_public(scalar)),
                            x25519_label, key);
                if (unwrap_body(key, s.body, file_key)) return file_key;
            }
        } else if (s.args[0] == "scrypt" && identities.passphrase) {
            const int log_n = parse_work_factor(s.args[2]);
            if (log_n > identities.max_scrypt_work_factor)
                bad("the scrypt work factor " + std::to_string(log_n) + " is above the limit of " +
                    std::to_string(identities.max_scrypt_work_factor));
            std::string full_salt(scrypt_label);
            full_salt += *base64_decode_canonical(s.args[1]);
            SymKey key;
            scrypt(identities.passphrase->reveal(), full_salt, log_n, key);
            if (unwrap_body(key, s.body, file_key)) return file_key;
        }
    }
    throw AgeError(AgeError::Kind::no_match,
                   "no identity or passphrase given opens any recipient stanza of this age file "
                   "(stanzas: " +
                       std::to_string(stanzas.size()) + ")");
}

}  // namespace dolibak::io::age
