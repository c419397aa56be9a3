// The SigV4 signer against AWS's own test vectors (tests/data/sigv4: aws-c-auth's suite
// and botocore's copy of the original suite) and the S3 examples of the S3 API reference.
// S3 signs the path as sent: the vectors' "-normalized" variants (and botocore's
// normalize-path group) apply to other services only; they are not copied into tests/data
// and would be skipped if they were.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/s3/signer.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

using namespace dolibak;
using namespace dolibak::s3;
namespace fs = std::filesystem;

namespace {

struct RawRequest {
    std::string method;
    std::string path;  // encoded as S3 would send it
    QueryList query;
    HeaderList headers;
    std::string body;
};

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\r' || s.back() == '\n')) s.pop_back();
    return s;
}

// Parses a raw HTTP request of the suites: request line, headers (continuation lines start
// with white space), blank line, body.
RawRequest parse_request(const std::string& text) {
    RawRequest r;
    std::vector<std::string> lines;
    std::size_t pos = 0;
    std::size_t body_at = std::string::npos;
    while (pos <= text.size()) {
        auto nl = text.find('\n', pos);
        if (nl == std::string::npos) nl = text.size();
        std::string line = text.substr(pos, nl - pos);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        pos = nl + 1;
        if (line.empty() && !lines.empty()) {
            body_at = pos;
            break;
        }
        lines.push_back(line);
    }
    if (body_at != std::string::npos && body_at < text.size()) r.body = text.substr(body_at);
    REQUIRE(!lines.empty());
    const auto& rl = lines[0];
    const auto sp1 = rl.find(' ');
    const auto sp2 = rl.rfind(" HTTP/");
    r.method = rl.substr(0, sp1);
    const std::string target = rl.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto q = target.find('?');
    r.path = uri_encode(uri_decode(target.substr(0, q)), true);
    if (q != std::string::npos) {
        std::string qs = target.substr(q + 1);
        std::size_t p = 0;
        while (p <= qs.size()) {
            auto amp = qs.find('&', p);
            if (amp == std::string::npos) amp = qs.size();
            const std::string item = qs.substr(p, amp - p);
            if (!item.empty()) {
                const auto eq = item.find('=');
                r.query.emplace_back(
                    uri_decode(item.substr(0, eq)),
                    eq == std::string::npos ? "" : uri_decode(item.substr(eq + 1)));
            }
            p = amp + 1;
        }
    }
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto& l = lines[i];
        if ((l[0] == ' ' || l[0] == '\t') && !r.headers.empty()) {
            r.headers.back().second += " " + l;
            continue;
        }
        const auto colon = l.find(':');
        r.headers.emplace_back(l.substr(0, colon), l.substr(colon + 1));
    }
    return r;
}

Credentials creds(const std::string& ak, const std::string& sk, const std::string& token = "") {
    Credentials c;
    c.access_key_id = ak;
    c.secret_access_key = Secret(sk);
    c.session_token = Secret(token);
    return c;
}

fs::path vectors() {
    return test::test_data_dir() / "sigv4";
}

}  // namespace

TEST_CASE("uri_encode and uri_decode follow AWS's UriEncode") {
    CHECK(uri_encode("a b/c~d_e-f.g") == "a%20b%2Fc~d_e-f.g");
    CHECK(uri_encode("a b/c", true) == "a%20b/c");
    CHECK(uri_encode("dump-2026-11-23T01:00:00Z.pgdump") == "dump-2026-11-23T01%3A00%3A00Z.pgdump");
    CHECK(uri_encode("\xc3\xbc+*()=&@") == "%C3%BC%2B%2A%28%29%3D%26%40");
    CHECK(uri_decode("%C3%BC+%2f") == "\xc3\xbc+/");
    CHECK_THROWS_AS(uri_decode("%G0"), FormatError);
    CHECK_THROWS_AS(uri_decode("abc%2"), FormatError);
    CHECK(amz_date(parse_amz_date("20150830T123600Z")) == "20150830T123600Z");
    CHECK_THROWS_AS(parse_amz_date("2015-08-30"), FormatError);
}

TEST_CASE("aws-c-auth SigV4 vectors (header and query signing)") {
    const auto dir = vectors() / "aws-c-auth-v4";
    REQUIRE(fs::is_directory(dir));
    int checked = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (!entry.is_directory()) continue;
        const std::string name = entry.path().filename().string();
        // S3 does not normalise paths: the "-normalized" twins don't apply.
        if (name.size() > 11 && name.ends_with("-normalized")) continue;
        CAPTURE(name);
        const auto ctx = nlohmann::json::parse(test::read_file(entry.path() / "context.json"));
        const auto& cj = ctx.at("credentials");
        const auto c = creds(cj.at("access_key_id"), cj.at("secret_access_key"),
                             cj.value("token", std::string()));
        const auto raw = parse_request(test::read_file(entry.path() / "request.txt"));
        const bool sign_body = ctx.value("sign_body", false);
        SigningRequest r;
        r.method = raw.method;
        r.path = raw.path;
        r.query = raw.query;
        r.headers = raw.headers;
        r.region = ctx.at("region");
        r.service = ctx.at("service");
        std::string ts = ctx.at("timestamp");  // 2015-08-30T12:36:00Z
        std::erase(ts, '-');
        std::erase(ts, ':');
        r.time = parse_amz_date(ts);
        r.payload_sha256 = io::sha256_hex(raw.body);
        SignOptions o;
        o.content_sha256_header = sign_body;
        o.sign_session_token = !ctx.value("omit_session_token", false);
        o.skip_unstable_headers = false;  // the generic vectors sign Content-Length

        const auto s = sign(r, c, o);
        CHECK(s.canonical_request ==
              trim(test::read_file(entry.path() / "header-canonical-request.txt")));
        CHECK(s.string_to_sign ==
              trim(test::read_file(entry.path() / "header-string-to-sign.txt")));
        CHECK(s.signature == trim(test::read_file(entry.path() / "header-signature.txt")));
        // The signed request shows every header we add, with the same values.
        const auto signed_req = test::read_file(entry.path() / "header-signed-request.txt");
        for (const auto& [n, v] : s.headers) {
            if (n == "authorization") {
                CHECK(signed_req.find("Authorization:" + v) != std::string::npos);
            } else if (n != "x-amz-content-sha256") {
                CHECK(signed_req.find(v) != std::string::npos);
            }
        }

        if (fs::exists(entry.path() / "query-signature.txt")) {
            const auto p =
                presign(r, c, std::chrono::seconds(ctx.value("expiration_in_seconds", 3600)), o);
            CHECK(p.canonical_request ==
                  trim(test::read_file(entry.path() / "query-canonical-request.txt")));
            CHECK(p.string_to_sign ==
                  trim(test::read_file(entry.path() / "query-string-to-sign.txt")));
            CHECK(p.signature == trim(test::read_file(entry.path() / "query-signature.txt")));
            CHECK(p.query.find("&X-Amz-Signature=" + p.signature) != std::string::npos);
        }
        ++checked;
    }
    CHECK(checked >= 25);
}

TEST_CASE("botocore's copy of the SigV4 test suite") {
    const auto dir = vectors() / "botocore-aws4_testsuite";
    REQUIRE(fs::is_directory(dir));
    int checked = 0;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
         ++it) {
        if (it->is_directory() && it->path().filename() == "normalize-path") {
            it.disable_recursion_pending();
            continue;
        }
        if (it->path().extension() != ".req") continue;
        const auto base = it->path().parent_path() / it->path().stem();
        const std::string name = it->path().stem().string();
        CAPTURE(name);
        const auto raw = parse_request(test::read_file(it->path()));
        const auto creq = test::read_file(base.string() + ".creq");
        const auto sreq = test::read_file(base.string() + ".sreq");
        // Session-token cases: the token is in the canonical request when it is signed, only
        // in the signed request when it is added afterwards.
        std::string token;
        bool token_signed = false;
        auto find_token = [&](const std::string& text, const std::string& label) {
            const auto at = text.find(label);
            if (at == std::string::npos) return false;
            const auto start = at + label.size();
            token = trim(text.substr(start, text.find('\n', start) - start));
            return true;
        };
        if (find_token(creq, "x-amz-security-token:"))
            token_signed = true;
        else
            find_token(sreq, "X-Amz-Security-Token:");
        SigningRequest r;
        r.method = raw.method;
        r.path = raw.path;
        r.query = raw.query;
        r.headers = raw.headers;
        r.region = "us-east-1";
        r.service = "service";
        r.time = parse_amz_date("20150830T123600Z");
        r.payload_sha256 = io::sha256_hex(raw.body);
        SignOptions o;
        o.content_sha256_header = false;
        o.sign_session_token = token_signed;
        o.skip_unstable_headers = false;
        const auto s =
            sign(r, creds("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token), o);
        CHECK(s.canonical_request == trim(creq));
        CHECK(s.string_to_sign == trim(test::read_file(base.string() + ".sts")));
        CHECK(s.authorization == trim(test::read_file(base.string() + ".authz")));
        ++checked;
    }
    CHECK(checked >= 20);
}

TEST_CASE("S3 API reference examples (single-chunk payload)") {
    const auto c = creds("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    SigningRequest r;
    r.region = "us-east-1";
    r.service = "s3";
    r.time = parse_amz_date("20130524T000000Z");
    const std::string host = "examplebucket.s3.amazonaws.com";

    SUBCASE("GET object with a range") {
        r.method = "GET";
        r.path = "/test.txt";
        r.headers = {{"Host", host}, {"Range", "bytes=0-9"}};
        const auto s = sign(r, c);
        CHECK(s.signed_headers == "host;range;x-amz-content-sha256;x-amz-date");
        CHECK(s.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    }
    SUBCASE("PUT object") {
        r.method = "PUT";
        r.path = uri_encode("/test$file.text", true);
        r.headers = {{"Host", host},
                     {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                     {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
        r.payload_sha256 = io::sha256_hex("Welcome to Amazon S3.");
        const auto s = sign(r, c);
        CHECK(s.signed_headers == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
        CHECK(s.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    }
    SUBCASE("GET bucket lifecycle") {
        r.method = "GET";
        r.path = "/";
        r.query = {{"lifecycle", ""}};
        r.headers = {{"Host", host}};
        CHECK(sign(r, c).signature ==
              "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    }
    SUBCASE("list objects") {
        r.method = "GET";
        r.path = "/";
        r.query = {{"prefix", "J"}, {"max-keys", "2"}};
        r.headers = {{"Host", host}};
        const auto s = sign(r, c);
        CHECK(s.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
        CHECK(canonical_query(r.query) == "max-keys=2&prefix=J");
    }
}

TEST_CASE("S3 signing leaves out the headers that get rewritten, and can use a cached key") {
    const auto c = creds("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    SigningRequest r;
    r.method = "PUT";
    r.path = "/b/k";
    r.time = parse_amz_date("20261123T010000Z");
    r.headers = {{"Host", "h"},
                 {"Content-Type", "application/octet-stream"},
                 {"Content-MD5", "x=="},
                 {"x-amz-meta-a", "1"},
                 {"Accept-Encoding", "gzip"},
                 {"User-Agent", "dolibak"},
                 {"Content-Length", "5"},
                 {"Expect", "100-continue"},
                 {"Transfer-Encoding", "chunked"}};
    const auto s = sign(r, c);
    CHECK(s.signed_headers ==
          "content-md5;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta-a");
    const auto key = signing_key(c.secret_access_key, "20261123", "us-east-1", "s3");
    SignOptions o;
    o.cached_signing_key = key;
    CHECK(sign(r, c, o).signature == s.signature);
}

TEST_CASE("the signer refuses to sign without credentials or host, and hides secrets") {
    SigningRequest r;
    r.method = "GET";
    r.headers = {{"host", "h"}};
    r.time = parse_amz_date("20130524T000000Z");
    CHECK_THROWS_AS(sign(r, Credentials{}), ConfigError);
    r.headers.clear();
    CHECK_THROWS_AS(sign(r, creds("AK", "SECRETSECRET")), Error);
    r.headers = {{"host", "h"}};
    const auto s = sign(r, creds("AK", "SECRETSECRET"));
    for (const auto& [n, v] : s.headers) CHECK(v.find("SECRETSECRET") == std::string::npos);
    CHECK_THROWS_AS(presign(r, creds("AK", "S"), std::chrono::seconds(8 * 24 * 3600)), ConfigError);
}
