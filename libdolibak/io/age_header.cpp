// The age header: the version line, recipient stanzas (arguments, then a body in canonical
// unpadded base64 wrapped at 64 columns and ended by a short line) and the MAC line.
#include "io/age_format.hpp"

#include <dolibak/core/error.hpp>

namespace dolibak::io::age {

namespace {
constexpr std::string_view b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::size_t columns = 64;

int b64_value(char c) {
    const auto pos = b64.find(c);
    return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

[[noreturn]] void bad(const std::string& what) {
    throw AgeError(AgeError::Kind::header, "invalid age header: " + what);
}

bool valid_argument(std::string_view arg) {
    if (arg.empty()) return false;
    for (const char c : arg)
        if (c < 33 || c > 126) return false;
    return true;
}
}  // namespace

std::string base64_unpadded(const unsigned char* data, std::size_t size) {
    std::string out;
    out.reserve((size * 4 + 2) / 3);
    unsigned acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < size; ++i) {
        acc = (acc << 8 | data[i]) & 0xffff;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += b64[acc >> bits & 63];
        }
    }
    if (bits > 0) out += b64[acc << (6 - bits) & 63];
    return out;
}

std::optional<std::string> base64_decode_canonical(std::string_view text) {
    if (text.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(text.size() * 3 / 4);
    unsigned acc = 0;
    int bits = 0;
    for (const char c : text) {
        const int v = b64_value(c);
        if (v < 0) return std::nullopt;  // '=' padding included
        acc = (acc << 6 | static_cast<unsigned>(v)) & 0xffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>(acc >> bits & 0xff);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;  // not canonical
    return out;
}

std::string encode_stanza(const Stanza& stanza) {
    std::string out = "->";
    for (const auto& arg : stanza.args) {
        out += ' ';
        out += arg;
    }
    out += '\n';
    const std::string body = base64_unpadded(
        reinterpret_cast<const unsigned char*>(stanza.body.data()), stanza.body.size());
    std::size_t pos = 0;
    for (; body.size() - pos >= columns; pos += columns) {
        out.append(body, pos, columns);
        out += '\n';
    }
    out.append(body, pos);  // the short final line, empty when the body fills its lines
    out += '\n';
    return out;
}

Header parse_header(const std::function<std::optional<std::string>()>& next_line) {
    Header header;
    auto line = next_line();
    if (!line) bad("the input is empty or ends before the version line");
    if (*line != version_line) {
        if (line->starts_with("age-encryption.org/")) bad("unsupported version line");
        bad("not an age file (no age-encryption.org/v1 line)");
    }
    header.mac_input = *line + '\n';
    for (;;) {
        line = next_line();
        if (!line) bad("it ends before the MAC line");
        if (line->starts_with("---")) {
            if (line->size() != 4 + 43 || (*line)[3] != ' ') bad("malformed MAC line");
            auto mac = base64_decode_canonical(std::string_view(*line).substr(4));
            if (!mac || mac->size() != 32) bad("the MAC is not 32 bytes of canonical base64");
            header.mac_input += "---";
            header.mac = std::move(*mac);
            if (header.stanzas.empty()) bad("no recipient stanza");
            return header;
        }
        if (!line->starts_with("-> ")) bad("a line is neither a stanza nor the MAC line");
        Stanza stanza;
        std::string_view rest = std::string_view(*line).substr(3);
        for (;;) {
            const auto sp = rest.find(' ');
            const auto arg = rest.substr(0, sp);
            if (!valid_argument(arg)) bad("a stanza argument is empty or has a bad character");
            stanza.args.emplace_back(arg);
            if (sp == std::string_view::npos) break;
            rest = rest.substr(sp + 1);
        }
        header.mac_input += *line + '\n';
        std::string body_text;
        for (;;) {
            auto body_line = next_line();
            if (!body_line) bad("a stanza body does not end with a short line");
            if (body_line->size() > columns) bad("a stanza body line is longer than 64 columns");
            header.mac_input += *body_line + '\n';
            body_text += *body_line;
            if (body_line->size() < columns) break;
        }
        auto body = base64_decode_canonical(body_text);
        if (!body) bad("a stanza body is not canonical unpadded base64");
        stanza.body = std::move(*body);
        header.stanzas.push_back(std::move(stanza));
    }
}

std::string header_mac(const FileKey& file_key, std::string_view mac_input) {
    SymKey key;
    hkdf_sha256(file_key.data(), file_key.size(), {}, "header", key);
    unsigned char mac[32];
    hmac_sha256(key, mac_input, mac);
    return std::string(reinterpret_cast<const char*>(mac), 32);
}

}  // namespace dolibak::io::age
