#include "s3/transport.hpp"

#include <dolibak/core/secret.hpp>
#include <dolibak/core/version.hpp>
#include <dolibak/io/hash.hpp>

#include <pugixml.hpp>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <thread>

namespace dolibak::s3 {

namespace {

std::string lower(std::string s) {
    for (auto& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

bool retryable_curl(CURLcode c) {
    switch (c) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_SEND_FAIL_REWIND:
            return true;
        default:
            return false;
    }
}

bool retryable_status(long status, const std::string& code) {
    if (status == 500 || status == 502 || status == 503 || status == 504 || status == 429 ||
        status == 408)
        return true;
    return code == "RequestTimeout" || code == "SlowDown" || code == "InternalError" ||
           code == "ServiceUnavailable" || code == "Throttling" || code == "ThrottlingException" ||
           code == "RequestTimeTooSkewed";
}

struct Transfer {
    HttpRequest* req;
    HttpResponse* resp;
    CURL* curl;
    std::size_t read_pos = 0;
    std::exception_ptr sink_error;
};

std::size_t on_read(char* buffer, std::size_t size, std::size_t n, void* p) {
    auto* t = static_cast<Transfer*>(p);
    const auto& body = t->req->body;
    const std::size_t len = std::min(size * n, body.size() - t->read_pos);
    if (len) std::memcpy(buffer, body.data() + t->read_pos, len);
    t->read_pos += len;
    return len;
}

int on_seek(void* p, curl_off_t offset, int origin) {
    auto* t = static_cast<Transfer*>(p);
    if (origin != SEEK_SET || offset < 0 || static_cast<std::size_t>(offset) > t->req->body.size())
        return CURL_SEEKFUNC_CANTSEEK;
    t->read_pos = static_cast<std::size_t>(offset);
    return CURL_SEEKFUNC_OK;
}

std::size_t on_write(char* data, std::size_t size, std::size_t n, void* p) {
    auto* t = static_cast<Transfer*>(p);
    const std::size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (t->req->sink && status >= 200 && status < 300) {
        try {
            if (t->req->require_partial && status != 206)
                throw RemoteError("S3 GET " + Client::describe(t->req->bucket, t->req->key) +
                                      ": the server ignored the Range header (HTTP " +
                                      std::to_string(status) + "); cannot resume",
                                  RemoteError::Details{static_cast<int>(status), "RangeIgnored", "",
                                                       "", t->req->bucket, t->req->key, false});
            t->req->sink->write(io::Bytes(reinterpret_cast<const std::byte*>(data), len));
        } catch (...) {
            t->sink_error = std::current_exception();
            return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
        }
        t->resp->sunk += len;
        return len;
    }
    if (t->resp->body.size() + len > t->req->max_body) return 0;
    t->resp->body.append(data, len);
    return len;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* p) {
    auto* t = static_cast<Transfer*>(p);
    const std::size_t len = size * n;
    const std::string_view line(data, len);
    if (line.starts_with("HTTP/")) {
        t->resp->headers.clear();  // a new response (after 100 Continue, say)
        t->resp->head_complete = false;
        return len;
    }
    if (line == "\r\n" || line == "\n") {
        t->resp->head_complete = true;
        return len;
    }
    const auto colon = line.find(':');
    if (colon != std::string_view::npos)
        t->resp->headers[lower(std::string(line.substr(0, colon)))] = trim(line.substr(colon + 1));
    return len;
}

int on_progress(void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(p);
    return t->req->cancel && t->req->cancel->load() ? 1 : 0;
}

}  // namespace

Endpoint parse_endpoint(const std::string& url) {
    Endpoint e;
    const auto sep = url.find("://");
    if (sep == std::string::npos)
        throw ConfigError("S3 endpoint must be a URL like https://host[:port]: '" + url + "'");
    e.scheme = lower(url.substr(0, sep));
    if (e.scheme != "http" && e.scheme != "https")
        throw ConfigError("S3 endpoint must use http or https: '" + url + "'");
    std::string rest = url.substr(sep + 3);
    if (const auto slash = rest.find('/'); slash != std::string::npos) {
        if (rest.find_first_not_of('/', slash) != std::string::npos)
            throw ConfigError("S3 endpoint must not have a path: '" + url + "'");
        rest.resize(slash);
    }
    if (rest.find('@') != std::string::npos)
        throw ConfigError("S3 endpoint must not contain credentials");
    if (rest.empty()) throw ConfigError("S3 endpoint has no host: '" + url + "'");
    std::string host = rest;
    if (host.front() == '[') {  // IPv6
        const auto close = host.find(']');
        if (close == std::string::npos) throw ConfigError("bad S3 endpoint: '" + url + "'");
        if (close + 1 < host.size() && host[close + 1] == ':') e.port = host.substr(close + 2);
        host.resize(close + 1);
    } else if (const auto colon = host.rfind(':'); colon != std::string::npos) {
        e.port = host.substr(colon + 1);
        host.resize(colon);
    }
    if ((e.scheme == "http" && e.port == "80") || (e.scheme == "https" && e.port == "443"))
        e.port.clear();
    e.host = lower(host);
    e.aws = e.host.ends_with(".amazonaws.com") || e.host.ends_with(".amazonaws.com.cn");
    return e;
}

S3ErrorBody parse_error_body(const std::string& xml) {
    S3ErrorBody out;
    if (xml.empty()) return out;
    pugi::xml_document doc;
    if (!doc.load_buffer(xml.data(), xml.size())) return out;
    const auto err = doc.child("Error");
    if (!err) return out;
    out.code = err.child_value("Code");
    out.message = err.child_value("Message");
    out.request_id = err.child_value("RequestId");
    return out;
}

namespace {

// A calendar time as a system_clock time point, refusing one it cannot hold (its nanoseconds
// span the years 1678 to 2261): converting such a time would overflow. One second of room is
// kept for a fraction added afterwards.
std::chrono::system_clock::time_point clock_time(std::time_t t, const std::string& text) {
    using std::chrono::seconds;
    using std::chrono::system_clock;
    constexpr auto most = std::chrono::duration_cast<seconds>(system_clock::duration::max());
    constexpr auto least = std::chrono::duration_cast<seconds>(system_clock::duration::min());
    if (t >= most.count() || t <= least.count())
        throw FormatError("time out of range: '" + text + "'");
    return system_clock::from_time_t(t);
}

}  // namespace

std::chrono::system_clock::time_point parse_http_date(const std::string& text) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
    if (!end) throw FormatError("not an HTTP date: '" + text + "'");
    return clock_time(timegm(&tm), text);
}

std::chrono::system_clock::time_point parse_iso8601(const std::string& text) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) throw FormatError("not an ISO 8601 time: '" + text + "'");
    auto t = clock_time(timegm(&tm), text);
    if (*end == '.') {  // fractional seconds
        ++end;
        long ms = 0;
        int digits = 0;
        for (; *end >= '0' && *end <= '9'; ++end)
            if (digits++ < 3) ms = ms * 10 + (*end - '0');
        for (; digits < 3; ++digits) ms *= 10;
        t += std::chrono::milliseconds(ms);
    }
    return t;
}

void ensure_curl_initialized() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Client::Impl::Impl(ClientOptions o, std::shared_ptr<CredentialProvider> c)
    : options(std::move(o)), credentials(std::move(c)) {
    ensure_curl_initialized();
    if (options.region.empty()) options.region = "us-east-1";
    if (options.endpoint.empty()) {
        if (options.region == "auto")
            throw ConfigError("region 'auto' needs an explicit S3 endpoint URL");
        options.endpoint = "https://s3." + options.region + ".amazonaws.com";
    }
    endpoint = parse_endpoint(options.endpoint);
    if (!credentials || credentials->current().empty())
        throw ConfigError("no S3 credentials (access key id and secret access key)");
    if (options.parallel_parts == 0) options.parallel_parts = 1;
    if (options.part_size < options.min_part_size) options.part_size = options.min_part_size;
    if (options.user_agent.empty()) options.user_agent = "dolibak/" + std::string(version());
    if (!options.ca_bundle.empty() && !std::filesystem::exists(options.ca_bundle))
        throw ConfigError("CA bundle not found: " + options.ca_bundle);
}

Client::Impl::~Impl() {
    for (auto* c : pool) curl_easy_cleanup(c);
}

std::string Client::Impl::cached_key(const std::string& date, const Credentials& c) {
    std::lock_guard lock(key_mutex);
    if (key_date != date || !(key_secret == c.secret_access_key)) {
        if (!(key_secret == c.secret_access_key)) {
            seen_secrets.push_back(c.secret_access_key);
            if (!c.session_token.empty()) seen_secrets.push_back(c.session_token);
        }
        key_value = signing_key(c.secret_access_key, date, options.region, "s3");
        key_date = date;
        key_secret = c.secret_access_key;
    }
    return key_value;
}

CURL* Client::Impl::acquire() {
    {
        std::lock_guard lock(pool_mutex);
        if (!pool.empty()) {
            CURL* c = pool.back();
            pool.pop_back();
            curl_easy_reset(c);  // keeps its connections
            return c;
        }
    }
    CURL* c = curl_easy_init();
    if (!c) throw Error("cannot create a libcurl handle");
    return c;
}

void Client::Impl::release(CURL* c) {
    std::lock_guard lock(pool_mutex);
    pool.push_back(c);
}

bool Client::Impl::virtual_hosted(const std::string& bucket) const {
    if (bucket.empty()) return false;
    switch (options.addressing.value_or(AddressingStyle::automatic)) {
        case AddressingStyle::path:
            return false;
        case AddressingStyle::virtual_hosted:
            return true;
        case AddressingStyle::automatic:
            break;
    }
    if (!endpoint.aws) return false;
    // DNS-safe names only; names with dots break TLS certificate matching.
    if (bucket.size() < 3 || bucket.size() > 63) return false;
    for (char ch : bucket)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) return false;
    return bucket.front() != '-' && bucket.back() != '-';
}

std::string Client::Impl::host_for(const std::string& bucket) const {
    std::string h = virtual_hosted(bucket) ? bucket + "." + endpoint.host : endpoint.host;
    if (!endpoint.port.empty()) h += ":" + endpoint.port;
    return h;
}

std::string Client::Impl::path_for(const std::string& bucket, const std::string& key) const {
    std::string p = "/";
    if (!virtual_hosted(bucket) && !bucket.empty()) {
        p += bucket;
        if (!key.empty()) p += "/";
    }
    p += uri_encode(key, true);
    return p;
}

std::string Client::Impl::url_for(const HttpRequest& r) const {
    std::string url = endpoint.scheme + "://" + host_for(r.bucket) + path_for(r.bucket, r.key);
    const auto q = canonical_query(r.query);
    if (!q.empty()) url += "?" + q;
    return url;
}

std::string Client::Impl::redacted(std::string text) const {
    std::lock_guard lock(key_mutex);
    for (const auto& secret : seen_secrets) text = redact(std::move(text), {secret.reveal()});
    return text;
}

void Client::Impl::trace(const std::string& line) const {
    if (options.trace) options.trace(redacted(line));
}

std::chrono::milliseconds Client::Impl::backoff(int attempt) {
    // Full jitter: uniform in [0, min(max, base * 2^(attempt-1))].
    const auto cap = options.retry.max_delay.count();
    long long ceiling = options.retry.base_delay.count();
    for (int i = 1; i < attempt && ceiling < cap; ++i) ceiling *= 2;
    ceiling = std::min<long long>(ceiling, cap);
    std::lock_guard lock(rng_mutex);
    std::uniform_int_distribution<long long> d(0, std::max<long long>(ceiling, 0));
    return std::chrono::milliseconds(d(rng));
}

CURLcode Client::Impl::perform_once(HttpRequest& r, HttpResponse& resp, std::string& curl_error) {
    resp = HttpResponse{};
    CURL* curl = acquire();
    struct Releaser {
        Impl* impl;
        CURL* c;
        ~Releaser() { impl->release(c); }
    } releaser{this, curl};

    if (r.payload_sha256.empty()) r.payload_sha256 = io::sha256_hex(io::as_chars(r.body));
    const std::string host = host_for(r.bucket);
    SigningRequest sr;
    sr.method = r.method;
    sr.path = path_for(r.bucket, r.key);
    sr.query = r.query;
    sr.headers = r.headers;
    sr.headers.emplace_back("host", host);
    sr.payload_sha256 = r.payload_sha256;
    sr.region = options.region;
    sr.service = "s3";
    sr.time = std::chrono::system_clock::now() + std::chrono::seconds(clock_offset_s.load());
    SignOptions so;
    const Credentials creds = credentials->current();  // renewed when about to expire
    const std::string key = cached_key(amz_date(sr.time).substr(0, 8), creds);
    so.cached_signing_key = key;
    const auto signed_req = sign(sr, creds, so);

    std::unique_ptr<curl_slist, SlistDeleter> list;
    auto add = [&](const std::string& line) {
        curl_slist* n = curl_slist_append(list.get(), line.c_str());
        if (!n) throw std::bad_alloc();
        (void)list.release();
        list.reset(n);
    };
    for (const auto& [n, v] : sr.headers) add(n + ": " + v);
    for (const auto& [n, v] : signed_req.headers) add(n + ": " + v);
    add("Expect:");  // no 100-continue round trip (and Expect is never signed)
    add("Accept:");
    bool has_type = false;
    for (const auto& [n, v] : r.headers)
        if (lower(n) == "content-type") has_type = true;
    if (!has_type) add("Content-Type:");  // never libcurl's form default

    const std::string url = url_for(r);
    Transfer t{&r, &resp, curl, 0, nullptr};
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list.get());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, options.low_speed_bytes);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(options.low_speed_time.count()));
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
    if (!options.ca_bundle.empty())
        curl_easy_setopt(curl, CURLOPT_CAINFO, options.ca_bundle.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(curl, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    // Buffers sized for the direction of the transfer, per handle (one per part worker): a
    // download reads 512 KiB per callback; an upload hands curl 256 KiB at a time, enough to
    // keep the socket busy (2 MiB cost 2.5 MiB of RSS per worker for no CPU saved), and its
    // small answer needs no more than curl's default receive buffer.
    const bool sends_body = r.method == "PUT" || r.method == "POST";
    curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, sends_body ? 16L * 1024 : 512L * 1024);
    curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, sends_body ? 256L * 1024 : 64L * 1024);

    if (r.method == "HEAD") {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (r.method == "PUT" || r.method == "POST") {
        // An upload with a read callback: no form encoding, Content-Length from the size.
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, &t);
        curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(curl, CURLOPT_SEEKDATA, &t);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
        if (r.method == "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "POST");
    } else if (r.method != "GET") {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, r.method.c_str());
    }

    const auto started = std::chrono::steady_clock::now();
    ++n_requests;
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK && !resp.head_complete) {
        // libcurl accepts a connection closed in the middle of the response head; we don't
        // (a cut ETag would be taken for the real one).
        rc = CURLE_PARTIAL_FILE;
        std::strcpy(errbuf, "connection closed in the middle of the response head");
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp.status);
    curl_off_t up = 0, down = 0;
    curl_easy_getinfo(curl, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(curl, CURLINFO_SIZE_DOWNLOAD_T, &down);
    n_sent += static_cast<std::uint64_t>(up);
    n_received += static_cast<std::uint64_t>(down);
    curl_error = errbuf[0] ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
    if (options.trace) {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
        trace(r.method + " " + url + " -> " +
              (rc == CURLE_OK ? std::to_string(resp.status) : "error: " + curl_error) + " (" +
              std::to_string(up) + " bytes up, " + std::to_string(down) + " down, " +
              std::to_string(ms) + " ms)");
    }
    if (t.sink_error) std::rethrow_exception(t.sink_error);
    return rc;
}

HttpResponse Client::Impl::execute(
    HttpRequest& r, const std::function<bool(HttpRequest&, const HttpResponse&)>& on_retry) {
    HttpResponse resp;
    int attempt = 0;
    int total = 0;
    for (;;) {
        ++attempt;
        ++total;
        std::string curl_error;
        const CURLcode rc = perform_once(r, resp, curl_error);
        if (rc == CURLE_ABORTED_BY_CALLBACK && r.cancel && r.cancel->load())
            throw Cancelled("S3 " + r.method + " " + Client::describe(r.bucket, r.key) +
                            " cancelled");
        bool retry = false;
        bool immediate = false;
        std::string why;
        RemoteError::Details d;
        d.bucket = r.bucket;
        d.key = r.key;
        if (rc != CURLE_OK) {
            if (!retryable_curl(rc)) {
                d.message = curl_error;
                throw RemoteError(redacted("S3 " + r.method + " " +
                                           Client::describe(r.bucket, r.key) + ": " + curl_error),
                                  d);
            }
            retry = true;
            why = curl_error;
        } else if (resp.status >= 200 && resp.status < 300) {
            resp.attempts = total;
            return resp;
        } else {
            const auto e = parse_error_body(resp.body);
            if (e.code == "RequestTimeTooSkewed") {
                // Correct the clock from the server's Date, once per client.
                const auto date = resp.header("date");
                if (!date.empty() && !skew_corrected.exchange(true)) {
                    try {
                        const auto server = parse_http_date(date);
                        const auto off = std::chrono::duration_cast<std::chrono::seconds>(
                            server - std::chrono::system_clock::now());
                        clock_offset_s = off.count();
                        trace("clock corrected by " + std::to_string(off.count()) +
                              " s from the server's Date");
                        retry = true;
                        immediate = true;
                        why = "RequestTimeTooSkewed";
                    } catch (const FormatError&) {
                    }
                }
                if (!retry) {
                    resp.attempts = total;
                    return resp;
                }
            } else if (retryable_status(resp.status, e.code)) {
                retry = true;
                why = std::to_string(resp.status) + (e.code.empty() ? "" : " " + e.code);
            } else {
                resp.attempts = total;
                return resp;
            }
        }
        bool progress = false;
        if (on_retry) progress = on_retry(r, resp);
        if (progress) attempt = 1;
        if (attempt >= options.retry.max_attempts || total >= options.retry.max_total_attempts) {
            if (rc == CURLE_OK)
                fail(r, resp, "giving up after " + std::to_string(total) + " attempts");
            d.retryable = true;
            d.message = curl_error;
            throw RemoteError(
                redacted("S3 " + r.method + " " + Client::describe(r.bucket, r.key) + ": " +
                         curl_error + " (giving up after " + std::to_string(total) + " attempts)"),
                d);
        }
        ++n_retries;
        if (!immediate) {
            const auto delay = backoff(attempt);
            trace("retrying " + r.method + " " + Client::describe(r.bucket, r.key) + " after " +
                  why + " in " + std::to_string(delay.count()) + " ms");
            std::this_thread::sleep_for(delay);
        }
        if (r.cancel && r.cancel->load())
            throw Cancelled("S3 " + r.method + " " + Client::describe(r.bucket, r.key) +
                            " cancelled");
    }
}

void Client::Impl::fail(const HttpRequest& r, const HttpResponse& resp,
                        const std::string& what) const {
    const auto e = parse_error_body(resp.body);
    RemoteError::Details d;
    d.http_status = static_cast<int>(resp.status);
    d.code = e.code;
    if (d.code.empty()) {
        switch (resp.status) {
            case 404:
                d.code = r.key.empty() ? "NoSuchBucket" : "NoSuchKey";
                break;
            case 403:
                d.code = "AccessDenied";
                break;
            case 412:
                d.code = "PreconditionFailed";
                break;
            default:
                break;
        }
    }
    d.message = redacted(e.message);
    // From the <Error> body, else (HEAD, bodiless errors) S3's header; some S3-compatible
    // services (moto) send only the x-amzn-requestid of other AWS services.
    d.request_id = e.request_id;
    if (d.request_id.empty()) d.request_id = resp.header("x-amz-request-id");
    if (d.request_id.empty()) d.request_id = resp.header("x-amzn-requestid");
    d.bucket = r.bucket;
    d.key = r.key;
    d.retryable = retryable_status(resp.status, e.code);
    std::string msg = "S3 " + r.method + " " + Client::describe(r.bucket, r.key) + ": HTTP " +
                      std::to_string(resp.status);
    if (!d.code.empty()) msg += " " + d.code;
    if (!d.message.empty()) msg += ": " + d.message;
    if (!what.empty()) msg += " (" + what + ")";
    if (!d.request_id.empty()) msg += " [request id " + d.request_id + "]";
    throw RemoteError(redacted(msg), d);
}

}  // namespace dolibak::s3
