#pragma once
// The client's private parts: one signed HTTP exchange over libcurl, with retries.
#include <dolibak/core/error.hpp>
#include <dolibak/s3/client.hpp>

#include <curl/curl.h>

#include <atomic>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <random>

namespace dolibak::s3 {

struct Endpoint {
    std::string scheme;  // http | https
    std::string host;    // without port
    std::string port;    // empty when the scheme's default
    bool aws = false;    // *.amazonaws.com
};
Endpoint parse_endpoint(const std::string& url);

struct HttpRequest {
    std::string method;
    std::string bucket;
    std::string key;  // decoded; empty for bucket operations
    QueryList query;
    HeaderList headers;  // extra signed headers (content-type, range, content-md5, ...)
    io::Bytes body;
    std::string payload_sha256;    // computed from body when empty
    io::Sink* sink = nullptr;      // where a 2xx body goes (else into HttpResponse::body)
    bool require_partial = false;  // a Range not starting at 0 was asked: 200 is an error
    std::size_t max_body = 32 * 1024 * 1024;
    const std::atomic<bool>* cancel = nullptr;
};

struct HttpResponse {
    long status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;                            // non-sunk body
    std::uint64_t sunk = 0;                      // bytes written to the sink (this attempt)
    bool head_complete = false;                  // the blank line ending the head was seen
    int attempts = 0;  // attempts execute() made for this answer (> 1: an earlier one may
                       // have been applied and its answer lost)

    std::string header(const std::string& name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

/// Parsed <Error> body of an S3 answer.
struct S3ErrorBody {
    std::string code, message, request_id;
};
S3ErrorBody parse_error_body(const std::string& xml);

/// Whether an answer to an upload sent without Content-MD5 refuses it for the lack of an
/// integrity header: a 400 whose code is MissingContentMD5 (MinIO) or
/// MissingUploadObjectWithObjectLockHeaders (moto), or whose message names Content-MD5 (AWS:
/// InvalidRequest "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object
/// requests with Object Lock parameters"), but not a digest that was wrong (BadDigest,
/// InvalidDigest: one was sent).
bool asks_for_content_md5(long status, const S3ErrorBody& error);

/// The part sizes of a streaming upload (S3 allows 10,000 parts of at most 5 GiB). Part n
/// (1-based) is `base` bytes for n <= steady_parts, then doubles every 1,000 parts, up to
/// 5 GiB. `base` is the client's part_size (at least min_part_size), or larger so that a
/// size hint fits in 9,000 parts; steady_parts is 1,000, or the parts the hinted size needs
/// when more: a hinted upload has parts of one size (memory stays
/// (parallel_parts + 1) x base) unless it outgrows its hint.
struct PartSizes {
    std::uint64_t base = 0;
    int steady_parts = 1000;
    std::uint64_t size(int part_number) const;
};
PartSizes part_sizes(const ClientOptions& options, std::optional<std::uint64_t> size_hint);

/// libcurl's global initialisation, done once per process before the first handle; every
/// user of libcurl in this layer (the client, the STS calls) calls it.
void ensure_curl_initialized();

struct CurlDeleter {
    void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
struct SlistDeleter {
    void operator()(curl_slist* s) const noexcept { curl_slist_free_all(s); }
};

std::chrono::system_clock::time_point parse_http_date(const std::string& text);
std::chrono::system_clock::time_point parse_iso8601(const std::string& text);

struct Client::Impl {
    ClientOptions options;
    std::shared_ptr<CredentialProvider> credentials;
    Endpoint endpoint;

    std::mutex pool_mutex;
    std::vector<CURL*> pool;

    std::atomic<long long> clock_offset_s{0};
    std::atomic<bool> skew_corrected{false};

    std::atomic<std::uint64_t> n_requests{0}, n_retries{0}, n_sent{0}, n_received{0};
    std::atomic<std::int64_t> upload_buffered{0};
    std::atomic<std::uint64_t> upload_buffered_peak{0};
    void note_buffered(std::int64_t delta) {
        const auto now = upload_buffered += delta;
        auto peak = upload_buffered_peak.load();
        while (now > 0 && static_cast<std::uint64_t>(now) > peak &&
               !upload_buffered_peak.compare_exchange_weak(peak, static_cast<std::uint64_t>(now))) {
        }
    }

    mutable std::mutex key_mutex;
    std::string key_date;  // the day the cached signing key is for
    Secret key_secret;     // and the secret key it was derived from
    std::string key_value;
    std::vector<Secret> seen_secrets;  // every secret and token signed with, for redacted()
    std::string cached_key(const std::string& date, const Credentials& c);

    std::mutex rng_mutex;
    std::mt19937_64 rng{std::random_device{}()};

    Impl(ClientOptions o, std::shared_ptr<CredentialProvider> c);
    ~Impl();

    CURL* acquire();
    void release(CURL* c);

    bool virtual_hosted(const std::string& bucket) const;
    std::string host_for(const std::string& bucket) const;
    std::string path_for(const std::string& bucket, const std::string& key) const;
    std::string url_for(const HttpRequest& r) const;

    /// One attempt. Fills resp; returns the curl result. Rethrows a sink's exception.
    CURLcode perform_once(HttpRequest& r, HttpResponse& resp, std::string& curl_error);

    /// With retries. `on_retry(resp)` (when set) is called before each new attempt and may
    /// adjust the request; it returns true when the failed attempt made progress (which
    /// gives the attempt back). Returns the last response for a non-retryable status (the
    /// caller checks it); throws RemoteError when retries run out, Cancelled on cancel.
    HttpResponse execute(
        HttpRequest& r,
        const std::function<bool(HttpRequest&, const HttpResponse&)>& on_retry = {});

    /// ContentMd5::automatic: set once a bucket asked for Content-MD5 (see ClientOptions).
    std::atomic<bool> content_md5_required{false};

    /// Adds Content-MD5 (base64 MD5 of r.body) when options.content_md5 is always, or
    /// automatic and a bucket already asked for it.
    void add_content_md5(HttpRequest& r) const;

    /// execute() for PutObject and UploadPart: an upload sent without Content-MD5 that the
    /// service refuses for the lack of it (asks_for_content_md5) is sent once more with it,
    /// and content_md5_required is set (ContentMd5::automatic only).
    HttpResponse execute_upload(HttpRequest& r);

    /// Throws RemoteError for a response with a non-2xx status.
    [[noreturn]] void fail(const HttpRequest& r, const HttpResponse& resp,
                           const std::string& what) const;
    std::string redacted(std::string text) const;
    void trace(const std::string& line) const;
    std::chrono::milliseconds backoff(int attempt);
};

}  // namespace dolibak::s3
