#pragma once
// The XML answers of S3 that the client reads, parsed from the body alone (no request, no
// connection): layer-private, for the client and for tests/fuzz/fuzz_s3_answers.cpp. Each
// throws FormatError for a body it cannot use; <Error> bodies are parse_error_body's
// (transport.hpp).
#include <dolibak/s3/client.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::s3 {

/// A byte count in an answer (a Size element, a Content-Length header): decimal digits, empty
/// meaning 0; FormatError naming `what` for anything else or more than 2^64 - 1.
std::uint64_t parse_byte_count(std::string_view text, const std::string& what);

/// ListObjectsV2 (ListBucketResult); keys are URL-decoded when EncodingType is "url".
ListPage parse_list_objects(const std::string& body);

/// DeleteObjects (DeleteResult): the <Error> entries.
std::vector<DeleteFailure> parse_delete_objects(const std::string& body);

/// CreateMultipartUpload (InitiateMultipartUploadResult): the UploadId, never empty.
std::string parse_create_multipart_upload(const std::string& body);

/// CompleteMultipartUpload: the ETag of the root element (any root name), quoted; empty when
/// the answer has none.
std::string parse_complete_multipart_upload(const std::string& body);

/// ListMultipartUploads (ListMultipartUploadsResult).
struct UploadsPage {
    std::vector<MultipartUploadInfo> uploads;
    bool truncated = false;
    std::string next_key_marker;  ///< decoded like the keys
    std::string next_upload_id_marker;
};
UploadsPage parse_list_multipart_uploads(const std::string& body);

}  // namespace dolibak::s3

namespace dolibak::s3 {

/// The <Credentials> of an STS answer to `action` (AssumeRole, AssumeRoleWithWebIdentity):
/// AccessKeyId, SecretAccessKey, SessionToken and Expiration, each required. FormatError
/// otherwise, never quoting the body.
Credentials parse_sts_credentials(const std::string& body, const std::string& action);

/// An STS error answer (<ErrorResponse><Error><Code/><Message/></Error><RequestId/>); empty
/// fields when the body is not one.
struct StsErrorBody {
    std::string code, message, request_id;
};
StsErrorBody parse_sts_error(const std::string& body);

}  // namespace dolibak::s3
