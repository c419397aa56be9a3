// Bech32 (the BIP 173 checksum) as age uses it for keys: no 90-character limit, all lower or
// all upper case, 5-bit groups packed into bytes with zero padding.
#include "io/age_format.hpp"

namespace dolibak::io::age {

namespace {
constexpr std::string_view charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

std::uint32_t polymod(const std::vector<unsigned char>& values) {
    constexpr std::uint32_t gen[5] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
    std::uint32_t chk = 1;
    for (const unsigned char v : values) {
        const std::uint32_t top = chk >> 25;
        chk = (chk & 0x1ffffff) << 5 ^ v;
        for (int i = 0; i < 5; ++i)
            if (top >> i & 1) chk ^= gen[i];
    }
    return chk;
}

std::vector<unsigned char> hrp_expand(std::string_view hrp) {
    std::vector<unsigned char> out;
    out.reserve(hrp.size() * 2 + 1);
    for (const char c : hrp) out.push_back(static_cast<unsigned char>(c) >> 5);
    out.push_back(0);
    for (const char c : hrp) out.push_back(static_cast<unsigned char>(c) & 31);
    return out;
}

// Regroups bits: from 8 to 5 (with padding) or from 5 to 8 (padding must be zero and short).
std::optional<std::vector<unsigned char>> regroup(const unsigned char* in, std::size_t size,
                                                  int from, int to, bool pad) {
    std::vector<unsigned char> out;
    unsigned acc = 0;
    int bits = 0;
    const unsigned mask = (1u << to) - 1;
    for (std::size_t i = 0; i < size; ++i) {
        acc = acc << from | in[i];
        bits += from;
        while (bits >= to) {
            bits -= to;
            out.push_back(static_cast<unsigned char>(acc >> bits & mask));
        }
    }
    if (pad) {
        if (bits > 0) out.push_back(static_cast<unsigned char>(acc << (to - bits) & mask));
    } else if (bits >= from || (acc << (to - bits) & mask) != 0) {
        return std::nullopt;
    }
    return out;
}
}  // namespace

std::string bech32_encode(std::string_view hrp, const unsigned char* data, std::size_t size) {
    auto values = *regroup(data, size, 8, 5, true);
    auto check = hrp_expand(hrp);
    check.insert(check.end(), values.begin(), values.end());
    check.insert(check.end(), 6, 0);
    const std::uint32_t mod = polymod(check) ^ 1;
    std::string out(hrp);
    out += '1';
    for (const unsigned char v : values) out += charset[v];
    for (int i = 0; i < 6; ++i) out += charset[mod >> (5 * (5 - i)) & 31];
    return out;
}

std::optional<Bech32> bech32_decode(std::string_view text) {
    bool lower = false, upper = false;
    for (const char c : text) {
        if (c < 33 || c > 126) return std::nullopt;
        if (c >= 'a' && c <= 'z') lower = true;
        if (c >= 'A' && c <= 'Z') upper = true;
    }
    if (lower && upper) return std::nullopt;
    std::string s(text);
    std::vector<unsigned char> values;
    struct Wiper {  // the text may be a secret key
        std::string& s;
        std::vector<unsigned char>& v;
        ~Wiper() {
            wipe(s.data(), s.size());
            wipe(v.data(), v.size());
        }
    } wiper{s, values};
    for (auto& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const auto sep = s.rfind('1');
    if (sep == std::string::npos || sep == 0 || sep + 7 > s.size()) return std::nullopt;
    Bech32 out;
    out.hrp = s.substr(0, sep);
    for (std::size_t i = sep + 1; i < s.size(); ++i) {
        const auto pos = charset.find(s[i]);
        if (pos == std::string_view::npos) return std::nullopt;
        values.push_back(static_cast<unsigned char>(pos));
    }
    auto check = hrp_expand(out.hrp);
    check.insert(check.end(), values.begin(), values.end());
    if (polymod(check) != 1) return std::nullopt;
    values.resize(values.size() - 6);
    auto bytes = regroup(values.data(), values.size(), 5, 8, false);
    if (!bytes) return std::nullopt;
    out.data = std::move(*bytes);
    return out;
}

}  // namespace dolibak::io::age
