#pragma once
// AWS Signature Version 4 for S3, as a pure function of its inputs (no clock, no I/O).
//
// S3's rules, which differ from other services: the path is signed exactly as it is sent
// (each key byte outside RFC 3986's unreserved set percent-encoded once, '/' kept; no
// normalisation of "." / ".." / "//", no double encoding), and every request carries
// x-amz-content-sha256 (the hex SHA-256 of the body, or UNSIGNED-PAYLOAD for presigned URLs).
// Checked against AWS's test vectors (aws-c-auth, botocore) and botocore's S3SigV4Auth.
#include <dolibak/core/export.hpp>
#include <dolibak/s3/credentials.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dolibak::s3 {

using HeaderList = std::vector<std::pair<std::string, std::string>>;
using QueryList = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::string_view empty_payload_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
inline constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";

/// Percent-encodes every byte outside A-Z a-z 0-9 - . _ ~ (upper-case hex); '/' too unless
/// keep_slash. This is AWS's UriEncode: use it for keys in paths (keep_slash) and for query
/// names and values (not).
DOLIBAK_API std::string uri_encode(std::string_view text, bool keep_slash = false);
/// Decodes %XX escapes ('+' stays '+'). Throws FormatError on a malformed escape.
DOLIBAK_API std::string uri_decode(std::string_view text);

/// "20150830T123600Z" for a time point (UTC).
DOLIBAK_API std::string amz_date(std::chrono::system_clock::time_point t);
/// Parses "20150830T123600Z"; throws FormatError.
DOLIBAK_API std::chrono::system_clock::time_point parse_amz_date(std::string_view text);

struct DOLIBAK_API SigningRequest {
    std::string method;  ///< "GET", "PUT", ...
    /// The path as sent on the wire, already encoded (e.g. uri_encode("/bucket/" + key, true)).
    /// Signed verbatim.
    std::string path = "/";
    /// Query parameters, decoded; the signer encodes and sorts them. The same encoding must
    /// be used on the wire: canonical_query() gives it.
    QueryList query;
    /// Headers to sign, as sent (names in any case); must include "host". Values are
    /// trimmed and inner runs of spaces collapsed; repeated names are joined with ','.
    /// Never include Expect, User-Agent, Content-Length, Transfer-Encoding or Authorization:
    /// proxies and libcurl change them.
    HeaderList headers;
    /// Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD".
    std::string payload_sha256 = std::string(empty_payload_sha256);
    std::string region = "us-east-1";
    std::string service = "s3";
    std::chrono::system_clock::time_point time;
};

struct DOLIBAK_API SignOptions {
    /// Add and sign x-amz-content-sha256 (S3 needs it; AWS's generic vectors don't use it).
    bool content_sha256_header = true;
    /// Add and sign x-amz-security-token when the credentials have a session token. When
    /// false the token is added after signing, unsigned (the vectors' "omit" cases).
    bool sign_session_token = true;
    /// Leave out of the signature the headers that proxies, libcurl or services rewrite:
    /// Accept-Encoding (GCS rewrites it), User-Agent, Content-Length, Transfer-Encoding,
    /// Expect, Connection, X-Amzn-Trace-Id. (AWS's generic vectors sign all: false there.)
    bool skip_unstable_headers = true;
    /// A signing key from signing_key() for this request's date, region and service (for
    /// clients that cache it); empty: derived here.
    std::string_view cached_signing_key;
};

struct DOLIBAK_API SignedRequest {
    /// Headers to add to the request: x-amz-date, x-amz-content-sha256 (when asked),
    /// x-amz-security-token (when there is a token), authorization.
    HeaderList headers;
    std::string canonical_request;
    std::string string_to_sign;
    std::string signed_headers;  ///< "host;x-amz-content-sha256;x-amz-date"
    std::string signature;       ///< hex
    std::string authorization;
};

/// Signs a request for the Authorization header.
DOLIBAK_API SignedRequest sign(const SigningRequest& request, const Credentials& credentials,
                               const SignOptions& options = {});

/// The canonical (and wire) form of a query: names and values uri_encode()d, sorted by
/// name then value, joined as a=b&c=d (a name with an empty value gives "a=").
DOLIBAK_API std::string canonical_query(const QueryList& query);

struct DOLIBAK_API PresignedRequest {
    /// The query to send: the request's own parameters plus X-Amz-Algorithm,
    /// X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
    /// [X-Amz-Security-Token,] X-Amz-Signature; canonical order, encoded.
    std::string query;
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature;
};

/// Presigns a request (query-string authentication), valid for `expires` (1 s to 7 days).
/// request.payload_sha256 is usually UNSIGNED-PAYLOAD for S3. Headers (at least host) are
/// signed and must be sent as given. options.content_sha256_header is ignored; with
/// options.sign_session_token false the token is appended after the signature, unsigned.
DOLIBAK_API PresignedRequest presign(const SigningRequest& request, const Credentials& credentials,
                                     std::chrono::seconds expires, const SignOptions& options = {});

/// The derived signing key (for caching across requests of one day/region/service).
DOLIBAK_API std::string signing_key(const Secret& secret, std::string_view date,
                                    std::string_view region, std::string_view service);

}  // namespace dolibak::s3
