// X25519 keys in age's text forms: identities (AGE-SECRET-KEY-1..., upper case) and their
// recipients (age1..., lower case); identity files as age-keygen writes them.
#include "io/age_format.hpp"

#include <dolibak/core/error.hpp>

#include <cstring>

namespace dolibak::io {

namespace age {

namespace {
constexpr std::string_view identity_hrp = "age-secret-key-";
constexpr std::string_view recipient_hrp = "age";

std::string encode_identity(const SymKey& scalar) {
    std::string text = bech32_encode(identity_hrp, scalar.data(), scalar.size());
    for (auto& c : text)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return text;
}
}  // namespace

std::optional<SymKey> decode_identity(std::string_view text) {
    auto decoded = bech32_decode(text);
    if (!decoded || decoded->hrp != identity_hrp || decoded->data.size() != 32) {
        if (decoded) wipe(decoded->data.data(), decoded->data.size());
        return std::nullopt;
    }
    SymKey key;
    std::memcpy(key.data(), decoded->data.data(), 32);
    wipe(decoded->data.data(), decoded->data.size());
    return key;
}

std::optional<Key32> decode_recipient(std::string_view text) {
    auto decoded = bech32_decode(text);
    if (!decoded || decoded->hrp != recipient_hrp || decoded->data.size() != 32)
        return std::nullopt;
    Key32 key{};
    std::memcpy(key.data(), decoded->data.data(), 32);
    return key;
}

std::string encode_recipient(const Key32& key) {
    return bech32_encode(recipient_hrp, key.data(), key.size());
}

}  // namespace age

AgeKeyPair age_generate_key() {
    age::SymKey scalar;
    age::random_bytes(scalar.data(), scalar.size());
    return AgeKeyPair{Secret(age::encode_identity(scalar)),
                      age::encode_recipient(age::x25519_public(scalar))};
}

std::string age_recipient_of(const Secret& identity) {
    const auto scalar = age::decode_identity(identity.reveal());
    if (!scalar) throw ConfigError("not an age X25519 identity (AGE-SECRET-KEY-1...)");
    return age::encode_recipient(age::x25519_public(*scalar));
}

std::string age_parse_recipient(std::string_view recipient) {
    const auto key = age::decode_recipient(recipient);
    if (!key)
        throw ConfigError("not an age X25519 recipient (age1... with a valid checksum): '" +
                          std::string(recipient.substr(0, 80)) + "'");
    return age::encode_recipient(*key);
}

std::vector<Secret> age_parse_identity_file(std::string_view text) {
    std::vector<Secret> out;
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
            line.remove_prefix(1);
        if (line.empty() || line.front() == '#') continue;
        if (!age::decode_identity(line))
            throw ConfigError("identity file, line " + std::to_string(line_no) +
                              ": not an age X25519 identity (AGE-SECRET-KEY-1...)");
        out.emplace_back(std::string(line));
    }
    if (out.empty()) throw ConfigError("identity file: no identity in it");
    return out;
}

}  // namespace dolibak::io
