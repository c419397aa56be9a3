#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/s3/signer.hpp>

#include <algorithm>
#include <ctime>

namespace dolibak::s3 {

namespace {

bool unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Trims and collapses runs of white space to one space (as botocore: ' '.join(v.split())).
std::string canonical_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    bool pending_space = false;
    for (char c : v) {
        if (is_space(c)) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) out += ' ';
        pending_space = false;
        out += c;
    }
    return out;
}

std::string sha256_of(std::string_view s) {
    return io::sha256_hex(s);
}

struct Canonical {
    std::string request;
    std::string signed_headers;
};

// Headers: lower-case names, sorted, duplicates joined with ','.
std::vector<std::pair<std::string, std::string>> canonical_headers(const HeaderList& headers) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [name, value] : headers) {
        auto n = lower(canonical_value(name));
        auto v = canonical_value(value);
        auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == n; });
        if (it == out.end())
            out.emplace_back(std::move(n), std::move(v));
        else
            it->second += "," + v;
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
}

Canonical make_canonical(const SigningRequest& r, const HeaderList& headers,
                         const std::string& query) {
    Canonical c;
    const auto hs = canonical_headers(headers);
    bool has_host = false;
    std::string lines;
    for (const auto& [n, v] : hs) {
        if (n == "host") has_host = true;
        lines += n;
        lines += ':';
        lines += v;
        lines += '\n';
        if (!c.signed_headers.empty()) c.signed_headers += ';';
        c.signed_headers += n;
    }
    if (!has_host) throw Error("SigV4: the request to sign has no Host header");
    std::string method = r.method;
    for (auto& ch : method)
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    c.request = method + '\n' + (r.path.empty() ? std::string("/") : r.path) + '\n' + query + '\n' +
                lines + '\n' + c.signed_headers + '\n' + r.payload_sha256;
    return c;
}

std::string scope_of(const std::string& date, const SigningRequest& r) {
    return date + "/" + r.region + "/" + r.service + "/aws4_request";
}

bool header_named(const std::string& name, std::initializer_list<std::string_view> names) {
    const auto l = lower(name);
    return std::any_of(names.begin(), names.end(), [&](std::string_view n) { return l == n; });
}

void check_credentials(const Credentials& c) {
    if (c.access_key_id.empty() || c.secret_access_key.empty())
        throw ConfigError("SigV4: no credentials to sign with");
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
    static const char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size() + text.size() / 4);
    for (char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (unreserved(c) || (keep_slash && c == '/')) {
            out += ch;
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 15];
        }
    }
    return out;
}

std::string uri_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size())
            throw FormatError("malformed percent escape in '" + std::string(text) + "'");
        const int h = hex_value(text[i + 1]);
        const int l = hex_value(text[i + 2]);
        if (h < 0 || l < 0)
            throw FormatError("malformed percent escape in '" + std::string(text) + "'");
        out += static_cast<char>(h * 16 + l);
        i += 2;
    }
    return out;
}

std::string amz_date(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    return buf;
}

std::chrono::system_clock::time_point parse_amz_date(std::string_view text) {
    std::tm tm{};
    const std::string s(text);
    const char* end = strptime(s.c_str(), "%Y%m%dT%H%M%SZ", &tm);
    if (!end || *end != '\0' || s.size() != 16)
        throw FormatError("not an AWS date (YYYYMMDDTHHMMSSZ): '" + s + "'");
    return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string canonical_query(const QueryList& query) {
    std::vector<std::pair<std::string, std::string>> enc;
    enc.reserve(query.size());
    for (const auto& [k, v] : query) enc.emplace_back(uri_encode(k), uri_encode(v));
    std::sort(enc.begin(), enc.end());
    std::string out;
    for (const auto& [k, v] : enc) {
        if (!out.empty()) out += '&';
        out += k;
        out += '=';
        out += v;
    }
    return out;
}

std::string signing_key(const Secret& secret, std::string_view date, std::string_view region,
                        std::string_view service) {
    std::string k = "AWS4" + secret.reveal();
    std::string key = io::hmac_sha256(k, date);
    std::fill(k.begin(), k.end(), '\0');
    key = io::hmac_sha256(key, region);
    key = io::hmac_sha256(key, service);
    return io::hmac_sha256(key, "aws4_request");
}

SignedRequest sign(const SigningRequest& r, const Credentials& credentials,
                   const SignOptions& options) {
    check_credentials(credentials);
    const std::string when = amz_date(r.time);
    const std::string date = when.substr(0, 8);
    const bool token = !credentials.session_token.empty();

    HeaderList headers;
    headers.reserve(r.headers.size() + 3);
    for (const auto& h : r.headers) {
        if (header_named(h.first, {"authorization", "x-amz-date"})) continue;
        if (options.skip_unstable_headers &&
            header_named(h.first, {"accept-encoding", "user-agent", "content-length",
                                   "transfer-encoding", "expect", "connection", "x-amzn-trace-id"}))
            continue;
        if (options.content_sha256_header && header_named(h.first, {"x-amz-content-sha256"}))
            continue;
        if (token && header_named(h.first, {"x-amz-security-token"})) continue;
        headers.push_back(h);
    }
    SignedRequest out;
    out.headers.emplace_back("x-amz-date", when);
    if (options.content_sha256_header)
        out.headers.emplace_back("x-amz-content-sha256", r.payload_sha256);
    if (token && options.sign_session_token)
        out.headers.emplace_back("x-amz-security-token", credentials.session_token.reveal());
    for (const auto& h : out.headers) headers.push_back(h);

    auto c = make_canonical(r, headers, canonical_query(r.query));
    out.canonical_request = std::move(c.request);
    out.signed_headers = std::move(c.signed_headers);
    const std::string scope = scope_of(date, r);
    out.string_to_sign =
        "AWS4-HMAC-SHA256\n" + when + '\n' + scope + '\n' + sha256_of(out.canonical_request);
    const auto key = options.cached_signing_key.empty()
                         ? signing_key(credentials.secret_access_key, date, r.region, r.service)
                         : std::string(options.cached_signing_key);
    out.signature = io::to_hex(io::as_bytes(io::hmac_sha256(key, out.string_to_sign)));
    out.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope +
                        ", SignedHeaders=" + out.signed_headers + ", Signature=" + out.signature;
    if (token && !options.sign_session_token)
        out.headers.emplace_back("x-amz-security-token", credentials.session_token.reveal());
    out.headers.emplace_back("authorization", out.authorization);
    return out;
}

PresignedRequest presign(const SigningRequest& r, const Credentials& credentials,
                         std::chrono::seconds expires, const SignOptions& options) {
    check_credentials(credentials);
    if (expires.count() < 1 || expires.count() > 7 * 24 * 3600)
        throw ConfigError("a presigned URL lasts from 1 second to 7 days");
    const std::string when = amz_date(r.time);
    const std::string date = when.substr(0, 8);
    const std::string scope = scope_of(date, r);

    HeaderList headers;
    for (const auto& h : r.headers)
        if (!header_named(h.first, {"authorization", "x-amz-date", "x-amz-content-sha256",
                                    "x-amz-security-token"}))
            headers.push_back(h);
    // SignedHeaders is needed inside the query before the canonical request is made.
    std::string signed_headers;
    for (const auto& [n, v] : canonical_headers(headers)) {
        if (!signed_headers.empty()) signed_headers += ';';
        signed_headers += n;
    }
    QueryList query;
    for (const auto& q : r.query)
        if (q.first.rfind("X-Amz-", 0) != 0) query.push_back(q);
    query.emplace_back("X-Amz-Algorithm", "AWS4-HMAC-SHA256");
    query.emplace_back("X-Amz-Credential", credentials.access_key_id + "/" + scope);
    query.emplace_back("X-Amz-Date", when);
    query.emplace_back("X-Amz-Expires", std::to_string(expires.count()));
    const bool token = !credentials.session_token.empty();
    if (token && options.sign_session_token)
        query.emplace_back("X-Amz-Security-Token", credentials.session_token.reveal());
    query.emplace_back("X-Amz-SignedHeaders", signed_headers);
    const std::string q = canonical_query(query);

    PresignedRequest out;
    auto c = make_canonical(r, headers, q);
    out.canonical_request = std::move(c.request);
    out.string_to_sign =
        "AWS4-HMAC-SHA256\n" + when + '\n' + scope + '\n' + sha256_of(out.canonical_request);
    const auto key = signing_key(credentials.secret_access_key, date, r.region, r.service);
    out.signature = io::to_hex(io::as_bytes(io::hmac_sha256(key, out.string_to_sign)));
    out.query = q + "&X-Amz-Signature=" + out.signature;
    if (token && !options.sign_session_token)
        out.query += "&X-Amz-Security-Token=" + uri_encode(credentials.session_token.reveal());
    return out;
}

}  // namespace dolibak::s3
