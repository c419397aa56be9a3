#include "s3/answers.hpp"
#include "s3/transport.hpp"

#include <dolibak/io/hash.hpp>

#include <pugixml.hpp>

#include <algorithm>
#include <sstream>
#include <thread>

namespace dolibak::s3 {

namespace {

constexpr const char* xml_ns = "http://s3.amazonaws.com/doc/2006-03-01/";

void check_key(const std::string& bucket, const std::string& key) {
    if (bucket.empty()) throw ConfigError("S3: empty bucket name");
    if (key.empty()) throw ConfigError("S3: empty object key in bucket " + bucket);
    if (key.size() > 1024) throw ConfigError("S3: object key longer than 1024 bytes");
}

std::string xml_text(const pugi::xml_document& doc) {
    std::ostringstream ss;
    doc.save(ss, "", pugi::format_raw | pugi::format_no_declaration);
    return ss.str();
}

// An ETag without its quotes (S3 quotes them; a caller may not).
std::string_view bare_etag(std::string_view e) {
    if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
    return e;
}

bool same_etag(std::string_view a, std::string_view b) {
    return !bare_etag(a).empty() && bare_etag(a) == bare_etag(b);
}

// A conditional write that lost: 412, or 409 ConditionalRequestConflict (AWS, when another
// conditional write to the key was in progress).
bool conditional_conflict(const HttpResponse& resp) {
    if (resp.status == 412) return true;
    return resp.status == 409 && parse_error_body(resp.body).code == "ConditionalRequestConflict";
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The ETag S3 gives a multipart object: the MD5 of the parts' binary MD5s, then "-<parts>".
// Empty when a part's ETag is not an MD5 (SSE-KMS, some services): nothing to compare then.
std::string multipart_etag(const std::vector<CompletedPart>& parts) {
    std::string md5s;
    for (const auto& p : parts) {
        const auto hex = bare_etag(p.etag);
        if (hex.size() != 32) return {};
        for (std::size_t i = 0; i < hex.size(); i += 2) {
            const int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
            if (hi < 0 || lo < 0) return {};
            md5s += static_cast<char>(hi * 16 + lo);
        }
    }
    io::Md5 md5;
    md5.update(md5s);
    return "\"" + md5.hex() + "-" + std::to_string(parts.size()) + "\"";
}

void add_put_headers(HeaderList& h, const PutOptions& o) {
    h.emplace_back("content-type",
                   o.content_type.empty() ? "application/octet-stream" : o.content_type);
    for (const auto& [k, v] : o.metadata) h.emplace_back("x-amz-meta-" + k, v);
}

}  // namespace

void Client::Impl::add_content_md5(HttpRequest& r) const {
    if (options.content_md5 == ContentMd5::never) return;
    if (options.content_md5 == ContentMd5::automatic && !content_md5_required.load()) return;
    io::Md5 md5;
    md5.update(r.body);
    r.headers.emplace_back("content-md5", md5.base64());
}

bool asks_for_content_md5(long status, const S3ErrorBody& error) {
    if (status != 400) return false;
    if (error.code == "BadDigest" || error.code == "InvalidDigest") return false;
    if (error.code == "MissingContentMD5" ||
        error.code == "MissingUploadObjectWithObjectLockHeaders")
        return true;
    std::string m = error.message;
    for (auto& c : m)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return m.find("content-md5") != std::string::npos;
}

HttpResponse Client::Impl::execute_upload(HttpRequest& r) {
    auto resp = execute(r);
    if (options.content_md5 != ContentMd5::automatic || resp.status != 400) return resp;
    for (const auto& h : r.headers)
        if (h.first == "content-md5") return resp;  // it was sent: the answer is another matter
    const auto e = parse_error_body(resp.body);
    if (!asks_for_content_md5(resp.status, e)) return resp;
    if (!content_md5_required.exchange(true))
        trace(r.method + " " + Client::describe(r.bucket, r.key) + ": 400 " + e.code +
              " asks for Content-MD5 (an Object Lock bucket?): sent from now on");
    add_content_md5(r);
    // A 400 was not applied: sending the same body again cannot publish it twice.
    return execute(r);
}

ContentMd5 parse_content_md5(std::string_view text) {
    if (text == "never") return ContentMd5::never;
    if (text == "always") return ContentMd5::always;
    if (text == "auto") return ContentMd5::automatic;
    throw ConfigError("S3 Content-MD5 must be auto, always or never, not '" + std::string(text) +
                      "'");
}

AddressingStyle parse_addressing_style(std::string_view text) {
    if (text == "path") return AddressingStyle::path;
    if (text == "virtual" || text == "virtual-hosted" || text == "virtual_hosted")
        return AddressingStyle::virtual_hosted;
    if (text == "auto" || text.empty()) return AddressingStyle::automatic;
    throw ConfigError("S3 addressing style must be path, virtual or auto, not '" +
                      std::string(text) + "'");
}

Client::Client(ClientOptions options, Credentials credentials)
    : impl_(std::make_unique<Impl>(std::move(options),
                                   std::make_shared<CredentialProvider>(std::move(credentials)))) {}

Client::Client(ClientOptions options, std::shared_ptr<CredentialProvider> credentials)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(credentials))) {}

Client::~Client() = default;

const ClientOptions& Client::options() const noexcept {
    return impl_->options;
}

std::string Client::describe(const std::string& bucket, const std::string& key) {
    return "s3://" + bucket + (key.empty() ? "" : "/" + key);
}

ClientStats Client::stats() const {
    return {impl_->n_requests.load(),
            impl_->n_retries.load(),
            impl_->n_sent.load(),
            impl_->n_received.load(),
            impl_->upload_buffered_peak.load(),
            impl_->content_md5_required.load()};
}

std::chrono::seconds Client::clock_offset() const {
    return std::chrono::seconds(impl_->clock_offset_s.load());
}

std::string Client::put_object(const std::string& bucket, const std::string& key, io::Bytes data,
                               const PutOptions& options) {
    check_key(bucket, key);
    HttpRequest r;
    r.method = "PUT";
    r.bucket = bucket;
    r.key = key;
    r.body = data;
    add_put_headers(r.headers, options);
    impl_->add_content_md5(r);
    if (options.if_none_match) r.headers.emplace_back("if-none-match", "*");
    if (!options.if_match.empty()) r.headers.emplace_back("if-match", options.if_match);
    auto resp = impl_->execute_upload(r);
    if (resp.status != 200 && resp.attempts > 1 && conditional_conflict(resp) &&
        (options.if_none_match || !options.if_match.empty())) {
        // A retry: the attempt whose answer was lost may have published this very object.
        io::Md5 md5;
        md5.update(data);
        if (auto info = head_object(bucket, key); info && same_etag(info->etag, md5.hex())) {
            impl_->trace("PUT " + describe(bucket, key) + ": " + std::to_string(resp.status) +
                         " to a retry, but the object is ours (ETag " + info->etag +
                         "): an earlier attempt was applied");
            return info->etag;
        }
    }
    if (resp.status != 200) impl_->fail(r, resp, "");
    return resp.header("etag");
}

std::uint64_t Client::get_object(const std::string& bucket, const std::string& key, io::Sink& out,
                                 const GetOptions& options) {
    check_key(bucket, key);
    if (options.length && *options.length == 0) return 0;
    std::uint64_t delivered = 0;
    std::string etag = options.if_match;
    std::optional<std::uint64_t> expected;  // bytes the range should give, once known

    HttpRequest r;
    r.method = "GET";
    r.bucket = bucket;
    r.key = key;
    r.sink = &out;
    auto set_headers = [&] {
        r.headers.clear();
        const std::uint64_t start = options.offset + delivered;
        r.require_partial = start > 0;
        if (start > 0 || options.length) {
            std::string range = "bytes=" + std::to_string(start) + "-";
            if (options.length) range += std::to_string(options.offset + *options.length - 1);
            r.headers.emplace_back("range", range);
        }
        if (!etag.empty()) r.headers.emplace_back("if-match", etag);
    };
    set_headers();
    auto learn = [&](const HttpResponse& resp) {
        if (etag.empty()) etag = resp.header("etag");
        if (!expected && resp.status >= 200 && resp.status < 300) {
            const auto cl = resp.header("content-length");
            if (!cl.empty()) expected = delivered + std::stoull(cl);
        }
    };
    auto resp = impl_->execute(r, [&](HttpRequest&, const HttpResponse& failed) {
        learn(failed);
        delivered += failed.sunk;
        set_headers();
        return failed.sunk > 0;
    });
    learn(resp);
    if (resp.status == 416 && options.offset + delivered > 0 && !options.length) {
        // Resuming exactly at the end (or an offset at the end): nothing more to read.
        return delivered;
    }
    if (resp.status != 200 && resp.status != 206) impl_->fail(r, resp, "");
    delivered += resp.sunk;
    if (expected && delivered != *expected)
        throw RemoteError("S3 GET " + describe(bucket, key) + ": received " +
                              std::to_string(delivered) + " bytes, expected " +
                              std::to_string(*expected),
                          RemoteError::Details{0, "IncompleteBody", "", "", bucket, key, true});
    return delivered;
}

std::optional<ObjectInfo> Client::head_object(const std::string& bucket, const std::string& key) {
    check_key(bucket, key);
    HttpRequest r;
    r.method = "HEAD";
    r.bucket = bucket;
    r.key = key;
    auto resp = impl_->execute(r);
    if (resp.status == 404) return std::nullopt;
    if (resp.status != 200) impl_->fail(r, resp, "");
    ObjectInfo info;
    info.key = key;
    const auto cl = resp.header("content-length");
    info.size = parse_byte_count(cl, "HEAD Content-Length");
    info.etag = resp.header("etag");
    info.content_type = resp.header("content-type");
    const auto lm = resp.header("last-modified");
    if (!lm.empty()) info.last_modified = parse_http_date(lm);
    for (const auto& [n, v] : resp.headers)
        if (n.starts_with("x-amz-meta-")) info.metadata[n.substr(11)] = v;
    return info;
}

void Client::delete_object(const std::string& bucket, const std::string& key,
                           const std::string& if_match) {
    check_key(bucket, key);
    HttpRequest r;
    r.method = "DELETE";
    r.bucket = bucket;
    r.key = key;
    if (!if_match.empty()) r.headers.emplace_back("if-match", if_match);
    auto resp = impl_->execute(r);
    if (resp.status == 204 || resp.status == 200) return;
    if (resp.status == 404) {
        // Unconditional: a missing key is fine. Conditional: only when retried (the object
        // is gone, most likely by the attempt whose answer was lost).
        if (if_match.empty()) return;
        if (resp.attempts > 1) {
            impl_->trace("DELETE " + describe(bucket, key) +
                         ": 404 to a retry of a conditional delete: taken as done");
            return;
        }
    }
    impl_->fail(r, resp, "");
}

std::vector<DeleteFailure> Client::delete_objects(const std::string& bucket,
                                                  const std::vector<std::string>& keys) {
    std::vector<DeleteFailure> failures;
    for (std::size_t begin = 0; begin < keys.size(); begin += 1000) {
        const std::size_t end = std::min(keys.size(), begin + 1000);
        pugi::xml_document doc;
        auto del = doc.append_child("Delete");
        del.append_attribute("xmlns") = xml_ns;
        del.append_child("Quiet").text() = "true";
        for (std::size_t i = begin; i < end; ++i) {
            check_key(bucket, keys[i]);
            del.append_child("Object").append_child("Key").text() = keys[i].c_str();
        }
        const std::string body = xml_text(doc);
        io::Md5 md5;
        md5.update(body);
        HttpRequest r;
        r.method = "POST";
        r.bucket = bucket;
        r.query = {{"delete", ""}};
        r.headers = {{"content-type", "application/xml"}, {"content-md5", md5.base64()}};
        r.body = io::as_bytes(body);
        auto resp = impl_->execute(r);
        if (resp.status != 200) impl_->fail(r, resp, "DeleteObjects");
        for (auto& f : parse_delete_objects(resp.body)) failures.push_back(std::move(f));
    }
    return failures;
}

ListPage Client::list_objects_page(const std::string& bucket, const std::string& prefix,
                                   const std::string& delimiter,
                                   const std::string& continuation_token, int max_keys) {
    HttpRequest r;
    r.method = "GET";
    r.bucket = bucket;
    r.query = {{"list-type", "2"}, {"max-keys", std::to_string(max_keys)}, {"prefix", prefix}};
    // Keys come back URL-encoded, so that any byte survives XML.
    r.query.emplace_back("encoding-type", "url");
    if (!delimiter.empty()) r.query.emplace_back("delimiter", delimiter);
    if (!continuation_token.empty()) r.query.emplace_back("continuation-token", continuation_token);
    auto resp = impl_->execute(r);
    if (resp.status != 200) impl_->fail(r, resp, "ListObjectsV2");
    return parse_list_objects(resp.body);
}

std::vector<ObjectInfo> Client::list_objects(const std::string& bucket, const std::string& prefix) {
    std::vector<ObjectInfo> all;
    std::string token;
    do {
        auto page = list_objects_page(bucket, prefix, {}, token);
        for (auto& o : page.objects) all.push_back(std::move(o));
        token = std::move(page.next_continuation_token);
    } while (!token.empty());
    return all;
}

std::string Client::create_multipart_upload(const std::string& bucket, const std::string& key,
                                            const PutOptions& options) {
    check_key(bucket, key);
    HttpRequest r;
    r.method = "POST";
    r.bucket = bucket;
    r.key = key;
    r.query = {{"uploads", ""}};
    add_put_headers(r.headers, options);
    auto resp = impl_->execute(r);
    if (resp.status != 200) impl_->fail(r, resp, "CreateMultipartUpload");
    return parse_create_multipart_upload(resp.body);
}

std::string Client::upload_part(const std::string& bucket, const std::string& key,
                                const std::string& upload_id, int part_number, io::Bytes data) {
    check_key(bucket, key);
    if (part_number < 1 || part_number > 10000)
        throw ConfigError("S3: part number " + std::to_string(part_number) + " out of 1..10000");
    HttpRequest r;
    r.method = "PUT";
    r.bucket = bucket;
    r.key = key;
    r.query = {{"partNumber", std::to_string(part_number)}, {"uploadId", upload_id}};
    r.headers = {{"content-type", "application/octet-stream"}};
    r.body = data;
    impl_->add_content_md5(r);
    auto resp = impl_->execute_upload(r);
    if (resp.status != 200) impl_->fail(r, resp, "UploadPart " + std::to_string(part_number));
    auto etag = resp.header("etag");
    if (etag.empty()) throw FormatError("S3 UploadPart: no ETag in the answer");
    return etag;
}

std::string Client::complete_multipart_upload(const std::string& bucket, const std::string& key,
                                              const std::string& upload_id,
                                              const std::vector<CompletedPart>& parts,
                                              bool if_none_match) {
    pugi::xml_document doc;
    auto root = doc.append_child("CompleteMultipartUpload");
    root.append_attribute("xmlns") = xml_ns;
    for (const auto& p : parts) {
        auto part = root.append_child("Part");
        part.append_child("PartNumber").text() = p.number;
        part.append_child("ETag").text() = p.etag.c_str();
    }
    const std::string body = xml_text(doc);
    HttpRequest r;
    r.method = "POST";
    r.bucket = bucket;
    r.key = key;
    r.query = {{"uploadId", upload_id}};
    r.headers = {{"content-type", "application/xml"}};
    if (if_none_match) r.headers.emplace_back("if-none-match", "*");
    r.body = io::as_bytes(body);
    // S3 may answer 200 with an <Error> body (the error came after the headers): retry those.
    for (int attempt = 1;; ++attempt) {
        auto resp = impl_->execute(r);
        const bool retried = attempt > 1 || resp.attempts > 1;
        const bool gone = resp.status == 404 && parse_error_body(resp.body).code == "NoSuchUpload";
        if (resp.status != 200 && retried && (gone || conditional_conflict(resp))) {
            // An earlier attempt may have completed the upload and its answer been lost: then
            // the object under the key is ours, with the ETag these parts make.
            const auto ours = multipart_etag(parts);
            if (auto info = head_object(bucket, key);
                info && !ours.empty() && same_etag(info->etag, ours)) {
                impl_->trace("POST " + describe(bucket, key) + ": " + std::to_string(resp.status) +
                             " to a retried CompleteMultipartUpload, but the object is ours "
                             "(ETag " +
                             info->etag + "): an earlier attempt completed it");
                return info->etag;
            }
        }
        if (resp.status != 200) impl_->fail(r, resp, "CompleteMultipartUpload");
        const auto e = parse_error_body(resp.body);
        if (e.code.empty()) {
            const std::string etag = parse_complete_multipart_upload(resp.body);
            if (etag.empty()) {
                resp.status = 500;
                impl_->fail(r, resp, "CompleteMultipartUpload answered 200 without an ETag");
            }
            return etag;
        }
        if (attempt >= impl_->options.retry.max_attempts) {
            resp.status = 500;
            impl_->fail(r, resp, "CompleteMultipartUpload answered 200 with an error");
        }
        ++impl_->n_retries;
        const auto delay = impl_->backoff(attempt);
        impl_->trace("retrying POST " + describe(bucket, key) + " after 200 " + e.code + " in " +
                     std::to_string(delay.count()) + " ms");
        std::this_thread::sleep_for(delay);
    }
}

void Client::abort_multipart_upload(const std::string& bucket, const std::string& key,
                                    const std::string& upload_id) {
    HttpRequest r;
    r.method = "DELETE";
    r.bucket = bucket;
    r.key = key;
    r.query = {{"uploadId", upload_id}};
    auto resp = impl_->execute(r);
    // 404 NoSuchUpload: already gone (completed or aborted by an earlier attempt).
    if (resp.status != 204 && resp.status != 200 && resp.status != 404)
        impl_->fail(r, resp, "AbortMultipartUpload");
}

std::vector<MultipartUploadInfo> Client::list_multipart_uploads(const std::string& bucket,
                                                                const std::string& prefix) {
    std::vector<MultipartUploadInfo> out;
    std::string key_marker, id_marker;
    for (;;) {
        HttpRequest r;
        r.method = "GET";
        r.bucket = bucket;
        r.query = {{"uploads", ""}, {"prefix", prefix}, {"encoding-type", "url"}};
        if (!key_marker.empty()) r.query.emplace_back("key-marker", key_marker);
        if (!id_marker.empty()) r.query.emplace_back("upload-id-marker", id_marker);
        auto resp = impl_->execute(r);
        if (resp.status != 200) impl_->fail(r, resp, "ListMultipartUploads");
        auto page = parse_list_multipart_uploads(resp.body);
        for (auto& u : page.uploads) out.push_back(std::move(u));
        if (!page.truncated) break;
        key_marker = std::move(page.next_key_marker);
        id_marker = std::move(page.next_upload_id_marker);
        if (key_marker.empty() && id_marker.empty()) break;
    }
    return out;
}

std::size_t Client::abort_stale_uploads(const std::string& bucket, const std::string& prefix,
                                        std::chrono::seconds older_than) {
    const auto now = std::chrono::system_clock::now() + clock_offset();
    std::size_t n = 0;
    for (const auto& u : list_multipart_uploads(bucket, prefix)) {
        if (now - u.initiated < older_than) continue;
        abort_multipart_upload(bucket, u.key, u.upload_id);
        ++n;
    }
    return n;
}

void Client::create_bucket(const std::string& bucket) {
    HttpRequest r;
    r.method = "PUT";
    r.bucket = bucket;
    std::string body;
    if (impl_->options.region != "us-east-1" && impl_->options.region != "auto" &&
        impl_->endpoint.aws) {
        body = "<CreateBucketConfiguration xmlns=\"" + std::string(xml_ns) +
               "\"><LocationConstraint>" + impl_->options.region +
               "</LocationConstraint></CreateBucketConfiguration>";
        r.headers = {{"content-type", "application/xml"}};
    }
    r.body = io::as_bytes(body);
    auto resp = impl_->execute(r);
    if (resp.status != 200) impl_->fail(r, resp, "CreateBucket");
}

bool Client::bucket_exists(const std::string& bucket) {
    HttpRequest r;
    r.method = "HEAD";
    r.bucket = bucket;
    auto resp = impl_->execute(r);
    if (resp.status == 404) return false;
    if (resp.status != 200) impl_->fail(r, resp, "HeadBucket");
    return true;
}

ClientConfig client_config_from_environment(const CredentialOptions& where, ClientOptions base,
                                            bool require_credentials) {
    CredentialOptions w = where;
    if (!require_credentials) w.resolve_credentials = false;  // neither AWS_PROFILE nor ~/.aws
    auto rc = resolve_config(w);  // throws, naming every source tried, when none gives any
    ClientConfig c{std::move(base), std::move(rc.credentials), std::move(rc.provider)};
    if (c.options.endpoint.empty()) c.options.endpoint = rc.endpoint_url;
    // What the caller set wins; the environment and the profile only fill what is unset.
    if (c.options.region.empty()) c.options.region = rc.region;
    if (!c.options.addressing && !rc.addressing_style.empty())
        c.options.addressing = parse_addressing_style(rc.addressing_style);
    if (c.options.ca_bundle.empty()) c.options.ca_bundle = rc.ca_bundle;
    return c;
}

}  // namespace dolibak::s3
