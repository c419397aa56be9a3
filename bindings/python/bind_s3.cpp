// dolibak.s3: the SigV4 signer (a pure function) for Python: sign() returns the headers to
// add to a request, presign() a URL.
#include "registry.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/s3/signer.hpp>

#include <pybind11/chrono.h>
#include <pybind11/stl.h>

#include <chrono>
#include <optional>

namespace py = pybind11;

namespace dolibak::python {
namespace {

struct ParsedUrl {
    std::string scheme, host, path, query;
};

ParsedUrl parse_url(const std::string& url) {
    ParsedUrl u;
    const auto sep = url.find("://");
    if (sep == std::string::npos) throw ConfigError("not an absolute URL: " + url);
    u.scheme = url.substr(0, sep);
    const auto rest = url.substr(sep + 3);
    const auto slash = rest.find_first_of("/?");
    u.host = rest.substr(0, slash);
    std::string target = slash == std::string::npos ? "/" : rest.substr(slash);
    if (target[0] == '?') target = "/" + target;
    const auto q = target.find('?');
    u.path = target.substr(0, q);
    if (q != std::string::npos) u.query = target.substr(q + 1);
    // The Host header leaves out the scheme's default port, as HTTP clients send it.
    if (u.scheme == "http" && u.host.ends_with(":80")) u.host.resize(u.host.size() - 3);
    if (u.scheme == "https" && u.host.ends_with(":443")) u.host.resize(u.host.size() - 4);
    return u;
}

// The path as it goes on the wire: bytes outside the unreserved set, '/' and existing %XX
// escapes are encoded; a correctly encoded path is kept as is (S3 signs it verbatim).
std::string wire_path(const std::string& path) {
    std::string out;
    for (char ch : path) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '/' || c == '%')
            out += ch;
        else
            out += s3::uri_encode(std::string_view(&ch, 1));
    }
    return out;
}

s3::QueryList parse_query(const std::string& qs) {
    s3::QueryList out;
    std::size_t p = 0;
    while (p <= qs.size()) {
        auto amp = qs.find('&', p);
        if (amp == std::string::npos) amp = qs.size();
        const auto item = qs.substr(p, amp - p);
        if (!item.empty()) {
            const auto eq = item.find('=');
            out.emplace_back(s3::uri_decode(item.substr(0, eq)),
                             eq == std::string::npos ? "" : s3::uri_decode(item.substr(eq + 1)));
        }
        p = amp + 1;
    }
    return out;
}

s3::HeaderList header_list(const py::object& headers) {
    s3::HeaderList out;
    if (headers.is_none()) return out;
    if (py::isinstance<py::dict>(headers)) {
        for (auto item : headers.cast<py::dict>())
            out.emplace_back(py::str(item.first), py::str(item.second));
    } else {
        for (auto item : headers) {
            auto pair = item.cast<py::tuple>();
            out.emplace_back(py::str(pair[0]), py::str(pair[1]));
        }
    }
    return out;
}

bool has_header(const s3::HeaderList& h, std::string_view name) {
    for (const auto& [n, v] : h) {
        if (n.size() != name.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < n.size(); ++i)
            if (std::tolower(static_cast<unsigned char>(n[i])) != name[i]) same = false;
        if (same) return true;
    }
    return false;
}

std::chrono::system_clock::time_point when(const std::optional<std::string>& amz_date) {
    return amz_date ? s3::parse_amz_date(*amz_date) : std::chrono::system_clock::now();
}

s3::SigningRequest make_request(const std::string& method, const std::string& url,
                                const py::object& headers, const std::string& region,
                                const std::string& service, const std::optional<std::string>& date,
                                std::string* scheme_host = nullptr) {
    const auto u = parse_url(url);
    s3::SigningRequest r;
    r.method = method;
    r.path = wire_path(u.path);
    r.query = parse_query(u.query);
    r.headers = header_list(headers);
    if (!has_header(r.headers, "host")) r.headers.emplace_back("host", u.host);
    r.region = region;
    r.service = service;
    r.time = when(date);
    if (scheme_host) *scheme_host = u.scheme + "://" + parse_url(url).host;
    return r;
}

s3::Credentials make_credentials(const std::string& ak, const std::string& sk,
                                 const std::optional<std::string>& token) {
    s3::Credentials c;
    c.access_key_id = ak;
    c.secret_access_key = Secret(sk);
    if (token) c.session_token = Secret(*token);
    return c;
}

const Registrar registrar(30, [](py::module_& m) {
    auto s3m = m.def_submodule("s3", "S3: the SigV4 signer");
    s3m.def(
        "sign",
        [](const std::string& method, const std::string& url, const std::string& region,
           const std::string& access_key, const std::string& secret_key,
           const std::optional<std::string>& session_token, const py::object& headers,
           const std::optional<py::bytes>& body, const std::optional<std::string>& payload_sha256,
           const std::optional<std::string>& amz_date, const std::string& service,
           bool content_sha256_header) {
            auto r = make_request(method, url, headers, region, service, amz_date);
            if (payload_sha256)
                r.payload_sha256 = *payload_sha256;
            else if (body)
                r.payload_sha256 = io::sha256_hex(std::string_view(*body));
            s3::SignOptions o;
            o.content_sha256_header = content_sha256_header;
            const auto s = s3::sign(r, make_credentials(access_key, secret_key, session_token), o);
            py::dict out;
            for (const auto& [n, v] : s.headers) out[py::str(n)] = v;
            return out;
        },
        py::arg("method"), py::arg("url"), py::kw_only(), py::arg("region"), py::arg("access_key"),
        py::arg("secret_key"), py::arg("session_token") = py::none(),
        py::arg("headers") = py::none(), py::arg("body") = py::none(),
        py::arg("payload_sha256") = py::none(), py::arg("amz_date") = py::none(),
        py::arg("service") = "s3", py::arg("content_sha256_header") = true,
        R"(Signs a request (SigV4, S3 rules) and returns the headers to add, lower-case:
x-amz-date, x-amz-content-sha256, [x-amz-security-token,] authorization.

url: the full URL as sent (path and query AWS-encoded; the path is signed verbatim).
headers: dict or (name, value) pairs to sign; Host is taken from the URL when absent.
body / payload_sha256: the payload (hashed here) or its hex SHA-256 / "UNSIGNED-PAYLOAD";
neither means an empty body. amz_date: "YYYYMMDDTHHMMSSZ", else now.)");

    s3m.def(
        "presign",
        [](const std::string& method, const std::string& url, const std::string& region,
           const std::string& access_key, const std::string& secret_key,
           const std::optional<std::string>& session_token, int expires, const py::object& headers,
           const std::string& payload_sha256, const std::optional<std::string>& amz_date,
           const std::string& service) {
            std::string base;
            auto r = make_request(method, url, headers, region, service, amz_date, &base);
            r.payload_sha256 = payload_sha256;
            const auto p = s3::presign(r, make_credentials(access_key, secret_key, session_token),
                                       std::chrono::seconds(expires));
            return base + r.path + "?" + p.query;
        },
        py::arg("method"), py::arg("url"), py::kw_only(), py::arg("region"), py::arg("access_key"),
        py::arg("secret_key"), py::arg("session_token") = py::none(), py::arg("expires") = 3600,
        py::arg("headers") = py::none(),
        py::arg("payload_sha256") = std::string(s3::unsigned_payload),
        py::arg("amz_date") = py::none(), py::arg("service") = "s3",
        "A presigned URL (query-string SigV4) for the request, valid `expires` seconds.");

    s3m.def(
        "uri_encode",
        [](const std::string& text, bool keep_slash) { return s3::uri_encode(text, keep_slash); },
        py::arg("text"), py::arg("keep_slash") = false,
        "AWS's UriEncode: every byte outside A-Za-z0-9-._~ as %XX ('/' kept if keep_slash).");
});

}  // namespace
}  // namespace dolibak::python
