#pragma once
// An S3 client on libcurl, written for backups: every request is signed with SigV4 and
// carries the real SHA-256 of its body in x-amz-content-sha256; it never sends the
// "flexible checksum" headers (x-amz-checksum-*, x-amz-sdk-checksum-algorithm,
// x-amz-trailer) nor aws-chunked bodies, which S3-compatible services such as GCS refuse.
//
// Every request is retried on network errors, 5xx, 429, SlowDown and RequestTimeout with
// full-jitter exponential backoff, and re-signed for each attempt. A RequestTimeTooSkewed
// answer corrects the client's clock from the server's Date once. Downloads resume where a
// cut connection left them (Range + If-Match). Uploads of any size stream through a Sink:
// one PutObject when the data fits in one part, else a multipart upload with parallel part
// workers and bounded memory ((parallel_parts + 1) x part size), aborted on any failure.
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/s3/credentials.hpp>
#include <dolibak/s3/signer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::s3 {

enum class AddressingStyle {
    automatic,       ///< virtual-hosted on AWS endpoints for DNS-safe bucket names, else path
    path,            ///< https://endpoint/bucket/key
    virtual_hosted,  ///< https://bucket.endpoint/key
};

/// "path", "virtual" (or "virtual-hosted"), "auto"; throws ConfigError otherwise.
DOLIBAK_API AddressingStyle parse_addressing_style(std::string_view text);

/// When PutObject and UploadPart carry a Content-MD5 header (DeleteObjects always does).
enum class ContentMd5 {
    never,      ///< for a service that refuses it
    always,     ///< on every upload (one MD5 pass over the bytes)
    automatic,  ///< the default: only once the bucket asked for it (see ClientOptions)
};

/// "never", "always", "auto"; throws ConfigError otherwise.
DOLIBAK_API ContentMd5 parse_content_md5(std::string_view text);

struct DOLIBAK_API RetryPolicy {
    /// Attempts per request (the first included). A download that made progress before
    /// failing gets its attempts back, up to max_total_attempts.
    int max_attempts = 6;
    int max_total_attempts = 100;
    std::chrono::milliseconds base_delay{250};
    std::chrono::milliseconds max_delay{20'000};
};

struct DOLIBAK_API ClientOptions {
    /// "https://s3.eu-west-3.amazonaws.com", "http://127.0.0.1:9000",
    /// "https://storage.googleapis.com". Empty: AWS's endpoint for the region.
    std::string endpoint;
    /// Signing region; "auto" for Cloudflare R2; "us-east-1" for most other services. Empty:
    /// not chosen (client_config_from_environment then takes AWS_REGION...; the client
    /// itself uses "us-east-1"). A region that is set is never replaced.
    std::string region;
    /// Unset: the profile's s3.addressing_style (client_config_from_environment), else
    /// automatic. A style that is set, automatic included, is never replaced.
    std::optional<AddressingStyle> addressing;
    bool verify_tls = true;  ///< never turned off silently: a ConfigError names the flag
    /// A PEM file of CAs to trust instead of the system's. Empty: AWS_CA_BUNDLE, else the
    /// profile's ca_bundle (client_config_from_environment), else the system's.
    std::string ca_bundle;
    /// Content-MD5 on PutObject and UploadPart. Buckets with a default Object Lock retention
    /// refuse uploads without it (or a flexible checksum, which dolibak never sends); AWS,
    /// GCS (XML API), B2, Scaleway, R2 and MinIO all accept it. Costs one MD5 pass over
    /// the uploaded bytes (about 1.3 s of CPU per GiB here).
    /// `automatic`: sent only once the service asked for it. An upload sent without it and
    /// refused with a 400 whose answer names Content-MD5 (AWS's InvalidRequest "Content-MD5
    /// OR x-amz-checksum- HTTP header is required ...", MinIO's MissingContentMD5, moto's
    /// MissingUploadObjectWithObjectLockHeaders) is sent again at once with it, and every
    /// later upload of this client carries it (ClientStats::content_md5_required). The body
    /// is in memory (a part buffer), so the retry costs one more transfer of that body per
    /// client, nothing else.
    ContentMd5 content_md5 = ContentMd5::automatic;
    /// Multipart: the size of each part (grows for very large streams, see upload()).
    std::size_t part_size = 16 * 1024 * 1024;
    /// S3 refuses parts smaller than 5 MiB (but the last); lower only for tests.
    std::size_t min_part_size = 5 * 1024 * 1024;
    unsigned parallel_parts = 4;
    RetryPolicy retry;
    std::chrono::seconds connect_timeout{15};
    /// A transfer slower than low_speed_bytes per second for low_speed_time is cut (and
    /// retried).
    long low_speed_bytes = 1024;
    std::chrono::seconds low_speed_time{60};
    std::string user_agent;  ///< default "dolibak/<version>"
    /// One line per request attempt (method, URL, status, bytes, time); no secrets. Called
    /// from several threads at once during multipart uploads.
    std::function<void(const std::string&)> trace;
};

struct DOLIBAK_API ObjectInfo {
    std::string key;
    std::uint64_t size = 0;
    std::string etag;  ///< with its quotes, as S3 sends it
    std::chrono::system_clock::time_point last_modified{};
    std::string content_type;
    std::map<std::string, std::string> metadata;  ///< x-amz-meta-* (HEAD only), lower-case
};

struct DOLIBAK_API PutOptions {
    std::string content_type = "application/octet-stream";
    std::map<std::string, std::string> metadata;  ///< sent as x-amz-meta-<name>
    /// Fail with 412 PreconditionFailed instead of replacing an existing object
    /// (If-None-Match: *; AWS, MinIO, moto; not every service). Sent on PutObject and on
    /// CompleteMultipartUpload.
    bool if_none_match = false;
    /// When not empty: replace only the object with this ETag (If-Match on PutObject; 412
    /// when it differs, 404 when the object is gone). Single-part uploads only: upload()
    /// refuses (ConfigError) to go multipart with it.
    std::string if_match;
    /// Expected total size, when known: picks a part size that keeps under 10,000 parts
    /// (9,000 for the hinted size), kept for all the hinted data.
    std::optional<std::uint64_t> size_hint;
};

struct DOLIBAK_API GetOptions {
    std::uint64_t offset = 0;
    std::optional<std::uint64_t> length;  ///< else to the end
    std::string if_match;                 ///< an ETag the object must still have
};

struct DOLIBAK_API ListPage {
    std::vector<ObjectInfo> objects;
    std::vector<std::string> common_prefixes;
    std::string next_continuation_token;  ///< empty on the last page
};

struct DOLIBAK_API MultipartUploadInfo {
    std::string key;
    std::string upload_id;
    std::chrono::system_clock::time_point initiated{};
};

struct DOLIBAK_API DeleteFailure {
    std::string key;
    std::string code;
    std::string message;
};

struct DOLIBAK_API CompletedPart {
    int number = 0;
    std::string etag;
};

/// Counters of a client's activity (all threads).
struct DOLIBAK_API ClientStats {
    std::uint64_t requests = 0;  ///< attempts sent
    std::uint64_t retries = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
    /// The most memory that streaming uploads held at once in part buffers (all sinks).
    std::uint64_t peak_upload_buffer_bytes = 0;
    /// ContentMd5::automatic: a bucket asked for Content-MD5, which every upload now carries.
    bool content_md5_required = false;
};

namespace detail {
class UploadSink;
}

/// The sink upload() returns: after finish(), etag() is the new object's ETag.
class DOLIBAK_API ObjectUpload : public io::Sink {
public:
    virtual std::string etag() const = 0;
};

/// Thread-safe: one client may serve many threads. The sinks and sources it returns refer
/// to it and must not outlive it.
class DOLIBAK_API Client {
public:
    Client(ClientOptions options, Credentials credentials);
    /// Signs with what `credentials` serves at each request: temporary credentials are
    /// renewed before they expire, however long an upload lasts.
    Client(ClientOptions options, std::shared_ptr<CredentialProvider> credentials);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    const ClientOptions& options() const noexcept;
    /// "s3://bucket/key" for messages.
    static std::string describe(const std::string& bucket, const std::string& key);

    // -- objects -----------------------------------------------------------------------
    /// One PutObject of bytes held in memory. Returns the ETag.
    /// Lost answers: when a conditional PutObject (if_none_match / if_match) was retried and
    /// the retry meets 412 (or 409 ConditionalRequestConflict), the object is HEADed: if
    /// its ETag is the MD5 of `data`, an earlier attempt published it and this is a success.
    std::string put_object(const std::string& bucket, const std::string& key, io::Bytes data,
                           const PutOptions& options = {});
    /// A streaming upload: write() the data, then finish() (the object appears, whole) or
    /// abort() (nothing appears; a multipart upload is aborted). Destroying the sink
    /// without finish() aborts. Part sizes: options().part_size, or larger to fit
    /// size_hint in 9,000 parts, one size for as much data as the hint says; for unknown
    /// sizes (and past the hint) they double every 1,000 parts.
    std::unique_ptr<ObjectUpload> upload(const std::string& bucket, const std::string& key,
                                         const PutOptions& options = {});
    /// Streams the object (or a range of it) into `out` (not finished by this call), resuming
    /// after cut connections. Returns the bytes written. NoSuchKey -> RemoteError (404).
    std::uint64_t get_object(const std::string& bucket, const std::string& key, io::Sink& out,
                             const GetOptions& options = {});
    /// The object as a Source read by the caller (a background transfer feeds it; memory
    /// bounded). Errors surface from read(); destroying the source early cancels.
    std::unique_ptr<io::Source> open_object(const std::string& bucket, const std::string& key,
                                            const GetOptions& options = {});
    /// nullopt when the object does not exist.
    std::optional<ObjectInfo> head_object(const std::string& bucket, const std::string& key);
    /// Deleting a missing key is not an error (S3 answers 204 either way). With `if_match`,
    /// the object must still have that ETag: RemoteError 412 when it differs, 404 when it
    /// is missing (but a retried request meeting 404 is a success: the object is gone,
    /// most likely by the attempt whose answer was lost).
    void delete_object(const std::string& bucket, const std::string& key,
                       const std::string& if_match = {});
    /// DeleteObjects in batches of 1,000 (Quiet, with Content-MD5). Returns the keys S3
    /// could not delete.
    std::vector<DeleteFailure> delete_objects(const std::string& bucket,
                                              const std::vector<std::string>& keys);

    // -- listing -------------------------------------------------------------------------
    ListPage list_objects_page(const std::string& bucket, const std::string& prefix,
                               const std::string& delimiter = {},
                               const std::string& continuation_token = {}, int max_keys = 1000);
    /// Every object under prefix (all pages), in S3's order (UTF-8 binary order of keys).
    std::vector<ObjectInfo> list_objects(const std::string& bucket, const std::string& prefix);

    // -- multipart -----------------------------------------------------------------------
    std::string create_multipart_upload(const std::string& bucket, const std::string& key,
                                        const PutOptions& options = {});
    /// Returns the part's ETag.
    std::string upload_part(const std::string& bucket, const std::string& key,
                            const std::string& upload_id, int part_number, io::Bytes data);
    /// Returns the object's ETag. `if_none_match` sends If-None-Match: * (write-once). A
    /// retried request meeting 412 / 409 ConditionalRequestConflict / 404 NoSuchUpload
    /// HEADs the object: when its ETag is the one these parts make (MD5 of the parts'
    /// binary MD5s, "-N"), an earlier attempt completed it and this is a success.
    std::string complete_multipart_upload(const std::string& bucket, const std::string& key,
                                          const std::string& upload_id,
                                          const std::vector<CompletedPart>& parts,
                                          bool if_none_match = false);
    void abort_multipart_upload(const std::string& bucket, const std::string& key,
                                const std::string& upload_id);
    std::vector<MultipartUploadInfo> list_multipart_uploads(const std::string& bucket,
                                                            const std::string& prefix);
    /// Aborts the uploads under prefix initiated more than `older_than` ago. Returns how many.
    std::size_t abort_stale_uploads(const std::string& bucket, const std::string& prefix,
                                    std::chrono::seconds older_than);

    // -- bucket ----------------------------------------------------------------------------
    void create_bucket(const std::string& bucket);
    /// HEAD bucket: true when it exists and the credentials reach it.
    bool bucket_exists(const std::string& bucket);

    ClientStats stats() const;
    /// The clock correction in use (server time - local time), zero until a skew answer.
    std::chrono::seconds clock_offset() const;

    struct Impl;

private:
    friend class detail::UploadSink;
    std::unique_ptr<Impl> impl_;
};

/// Options and credentials from the environment and ~/.aws (see credentials.hpp), with
/// `base` supplying what they don't set.
struct DOLIBAK_API ClientConfig {
    ClientOptions options;
    Credentials credentials;  ///< the first ones; empty without require_credentials
    /// Serves `credentials`, renewing them when temporary; null without require_credentials.
    std::shared_ptr<CredentialProvider> provider;
};
/// Throws ConfigError when no credentials are found, unless `require_credentials` is false:
/// the caller supplies them, and then neither AWS_PROFILE nor the shared files are read
/// (region, endpoint and CA bundle come from the AWS_* variables alone).
DOLIBAK_API ClientConfig client_config_from_environment(const CredentialOptions& where = {},
                                                        ClientOptions base = {},
                                                        bool require_credentials = true);

}  // namespace dolibak::s3
