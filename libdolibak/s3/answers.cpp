#include "s3/answers.hpp"

#include "s3/transport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/s3/signer.hpp>

#include <pugixml.hpp>

#include <charconv>
#include <string_view>
#include <system_error>

namespace dolibak::s3 {

namespace {

pugi::xml_document parse_xml(const std::string& body, const std::string& what) {
    pugi::xml_document doc;
    const auto res = doc.load_buffer(body.data(), body.size());
    if (!res)
        throw FormatError("S3 " + what + ": malformed XML answer: " + res.description(),
                          static_cast<std::uint64_t>(res.offset));
    return doc;
}

}  // namespace

std::uint64_t parse_byte_count(std::string_view text, const std::string& what) {
    std::uint64_t n = 0;
    if (text.empty()) return n;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || text.front() == '+')
        throw FormatError("S3 " + what + ": not a byte count: '" + std::string(text.substr(0, 40)) +
                          (text.size() > 40 ? "...'" : "'"));
    return n;
}

ListPage parse_list_objects(const std::string& body) {
    const auto doc = parse_xml(body, "ListObjectsV2");
    const auto root = doc.child("ListBucketResult");
    if (!root) throw FormatError("S3 ListObjectsV2: no ListBucketResult in the answer");
    const bool url_encoded = std::string_view(root.child_value("EncodingType")) == "url";
    auto key_of = [&](const char* raw) {
        std::string k = raw;
        return url_encoded ? uri_decode(k) : k;
    };
    ListPage page;
    for (auto c : root.children("Contents")) {
        ObjectInfo o;
        o.key = key_of(c.child_value("Key"));
        o.size = parse_byte_count(c.child_value("Size"), "ListObjectsV2 Size");
        o.etag = c.child_value("ETag");
        const std::string lm = c.child_value("LastModified");
        if (!lm.empty()) o.last_modified = parse_iso8601(lm);
        page.objects.push_back(std::move(o));
    }
    for (auto p : root.children("CommonPrefixes"))
        page.common_prefixes.push_back(key_of(p.child_value("Prefix")));
    if (std::string_view(root.child_value("IsTruncated")) == "true") {
        page.next_continuation_token = root.child_value("NextContinuationToken");
        if (page.next_continuation_token.empty())
            throw FormatError("S3 ListObjectsV2: truncated page without a continuation token");
    }
    return page;
}

std::vector<DeleteFailure> parse_delete_objects(const std::string& body) {
    const auto answer = parse_xml(body, "DeleteObjects");
    std::vector<DeleteFailure> failures;
    for (auto e : answer.child("DeleteResult").children("Error"))
        failures.push_back({e.child_value("Key"), e.child_value("Code"), e.child_value("Message")});
    return failures;
}

std::string parse_create_multipart_upload(const std::string& body) {
    const auto doc = parse_xml(body, "CreateMultipartUpload");
    std::string id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
    if (id.empty()) throw FormatError("S3 CreateMultipartUpload: no UploadId in the answer");
    return id;
}

std::string parse_complete_multipart_upload(const std::string& body) {
    const auto answer = parse_xml(body, "CompleteMultipartUpload");
    // CompleteMultipartUploadResult on S3 (moto calls it ...Response): any root.
    std::string etag = answer.document_element().child_value("ETag");
    // S3 quotes it, as in every ETag header; moto does not: one form for callers.
    if (!etag.empty() && !etag.starts_with('"')) etag = '"' + etag + '"';
    return etag;
}

UploadsPage parse_list_multipart_uploads(const std::string& body) {
    const auto doc = parse_xml(body, "ListMultipartUploads");
    const auto root = doc.child("ListMultipartUploadsResult");
    const bool url_encoded = std::string_view(root.child_value("EncodingType")) == "url";
    UploadsPage page;
    for (auto u : root.children("Upload")) {
        MultipartUploadInfo info;
        info.key = u.child_value("Key");
        if (url_encoded) info.key = uri_decode(info.key);
        info.upload_id = u.child_value("UploadId");
        const std::string when = u.child_value("Initiated");
        if (!when.empty()) info.initiated = parse_iso8601(when);
        page.uploads.push_back(std::move(info));
    }
    page.truncated = std::string_view(root.child_value("IsTruncated")) == "true";
    if (!page.truncated) return page;
    page.next_key_marker = root.child_value("NextKeyMarker");
    if (url_encoded) page.next_key_marker = uri_decode(page.next_key_marker);
    page.next_upload_id_marker = root.child_value("NextUploadIdMarker");
    return page;
}

}  // namespace dolibak::s3

namespace dolibak::s3 {

Credentials parse_sts_credentials(const std::string& body, const std::string& action) {
    pugi::xml_document doc;
    if (!doc.load_buffer(body.data(), body.size()))
        throw FormatError("STS " + action + ": the answer is not XML");
    const auto result = doc.child((action + "Response").c_str()).child((action + "Result").c_str());
    if (!result) throw FormatError("STS " + action + ": no " + action + "Result in the answer");
    const auto creds = result.child("Credentials");
    Credentials c;
    c.access_key_id = creds.child_value("AccessKeyId");
    c.secret_access_key = Secret(creds.child_value("SecretAccessKey"));
    c.session_token = Secret(creds.child_value("SessionToken"));
    const std::string expiration = creds.child_value("Expiration");
    if (c.access_key_id.empty() || c.secret_access_key.empty() || c.session_token.empty() ||
        expiration.empty())
        throw FormatError("STS " + action +
                          ": the answer lacks AccessKeyId, SecretAccessKey, SessionToken or "
                          "Expiration");
    c.expiration = parse_iso8601(expiration);
    return c;
}

StsErrorBody parse_sts_error(const std::string& body) {
    StsErrorBody out;
    pugi::xml_document doc;
    if (body.empty() || !doc.load_buffer(body.data(), body.size())) return out;
    // AWS: <ErrorResponse><Error/><RequestId/>; the IAM / EC2 styles some servers (moto)
    // use: <ErrorResponse> or <Response> with <Errors><Error/></Errors> and <RequestID/>.
    auto root = doc.child("ErrorResponse");
    if (!root) root = doc.child("Response");
    if (!root) {
        const auto s3 = parse_error_body(body);  // some services answer S3's <Error>
        return {s3.code, s3.message, s3.request_id};
    }
    auto err = root.child("Error");
    if (!err) err = root.child("Errors").child("Error");
    out.code = err.child_value("Code");
    out.message = err.child_value("Message");
    out.request_id = root.child_value("RequestId");
    if (out.request_id.empty()) out.request_id = root.child_value("RequestID");
    return out;
}

}  // namespace dolibak::s3
