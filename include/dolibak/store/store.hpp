#pragma once
// One interface over the places backups are kept: an S3 bucket (`s3://bucket/prefix`) or a
// local directory (`file:///dir`). See docs/store.md.
//
// Keys are relative, '/'-separated paths ("db/20261123T010000Z.dump", ".fp-db"). Under every
// backend, an object appears under its key only complete: put() returns a Sink whose
// finish() publishes atomically (S3: PutObject / CompleteMultipartUpload; directory: a
// temporary file fsynced and renamed into place); abort(), an exception or destroying the
// sink unfinished publishes nothing and cleans up.
//
// Conditional writes (see docs/store.md, "Conditional operations"): `no_overwrite` publishes
// only when the key is free (else AlreadyExists), `if_match` only when the current object
// still has the given etag (else PreconditionFailed), and remove_if() removes only such an
// object. They are the building blocks of the store's lock.
#include <dolibak/core/error.hpp>
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/s3/client.hpp>
#include <dolibak/s3/credentials.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::store {

/// get() of a key that does not exist.
class DOLIBAK_API ObjectNotFound : public Error {
public:
    ObjectNotFound(const std::string& store_url, std::string key);
    const std::string& key() const noexcept { return key_; }

private:
    std::string key_;
};

/// A put with `no_overwrite` found its key taken (S3: 412 or 409 to If-None-Match: *;
/// directory: the name exists). Nothing was published.
class DOLIBAK_API AlreadyExists : public Error {
public:
    AlreadyExists(const std::string& store_url, std::string key, const std::string& detail = {});
    const std::string& key() const noexcept { return key_; }

private:
    std::string key_;
};

/// A put with `if_match`, or a remove_if(), found that the object under its key no longer
/// has the expected etag, or is gone (S3: 412, 409, or 404 to If-Match). Nothing changed.
class DOLIBAK_API PreconditionFailed : public Error {
public:
    PreconditionFailed(const std::string& store_url, std::string key,
                       const std::string& detail = {});
    const std::string& key() const noexcept { return key_; }

private:
    std::string key_;
};

struct DOLIBAK_API ObjectInfo {
    std::string key;  ///< relative to the store
    std::uint64_t size = 0;
    std::chrono::system_clock::time_point modified{};
    /// Opaque; changes whenever the object under the key is replaced. S3: its ETag (with
    /// quotes); directory: inode, size and modification time in ns; memory: a counter.
    std::string etag;
};

struct DOLIBAK_API PutOptions {
    /// Total size when known (S3: picks the part size). Not enforced.
    std::optional<std::uint64_t> size_hint;
    /// Publish only if the key is free, else throw AlreadyExists. Directory: link() (atomic);
    /// S3: If-None-Match: * on PutObject and CompleteMultipartUpload (honoured by AWS, MinIO,
    /// moto; other services may ignore it).
    bool no_overwrite = false;
    /// When not empty: publish only if the current object's etag equals this one, else throw
    /// PreconditionFailed (also when the object is gone). S3: If-Match, for objects of one
    /// part only (a larger stream is refused with ConfigError when it outgrows the part).
    /// Exclusive with no_overwrite.
    std::string if_match;
    std::string content_type = "application/octet-stream";
};

struct DOLIBAK_API GetOptions {
    std::uint64_t offset = 0;
    std::optional<std::uint64_t> length;  ///< else to the end
};

struct DOLIBAK_API RemoveFailure {
    std::string key;
    std::string message;
};

/// The sink put() returns: a Sink that knows the etag of what it published.
class DOLIBAK_API ObjectSink : public io::Sink {
public:
    /// The etag of the object finish() published; empty before (and after abort()).
    virtual std::string etag() const = 0;
};

class DOLIBAK_API Store {
public:
    virtual ~Store() = default;

    /// The store's URL, normalised ("s3://bucket/prefix/", "file:///srv/backups/"); no secrets.
    virtual std::string url() const = 0;

    /// A streaming upload to `key`; see the header comment for the publish rule. finish()
    /// throws AlreadyExists / PreconditionFailed when a condition of `options` fails.
    virtual std::unique_ptr<ObjectSink> put(const std::string& key,
                                            const PutOptions& options = {}) = 0;
    /// A streaming download. Throws ObjectNotFound at once when the key does not exist. An
    /// S3 download is pinned to the version seen when it was opened (If-Match) and resumes
    /// across cut connections.
    virtual std::unique_ptr<io::Source> get(const std::string& key,
                                            const GetOptions& options = {}) = 0;
    /// Downloads into a sink (not finished here); returns the bytes written.
    virtual std::uint64_t get_to(const std::string& key, io::Sink& out,
                                 const GetOptions& options = {});
    /// nullopt when the key does not exist.
    virtual std::optional<ObjectInfo> head(const std::string& key) = 0;
    /// Every object whose key starts with `prefix` (a plain string prefix, "db/" for a
    /// folder), recursively, sorted by key (byte order).
    virtual std::vector<ObjectInfo> list(const std::string& prefix = {}) = 0;
    /// Removes an object; removing a missing key is not an error.
    virtual void remove(const std::string& key) = 0;
    /// Removes the object only if its etag is still `etag`; throws PreconditionFailed when
    /// it is not (or the object is gone). S3: DELETE with If-Match.
    virtual void remove_if(const std::string& key, const std::string& etag) = 0;
    /// Removes many (S3: DeleteObjects, 1,000 per request). Returns what could not be removed.
    /// The default removes the keys one by one (directory and memory stores).
    virtual std::vector<RemoveFailure> remove_many(const std::vector<std::string>& keys);
    /// Cleans up what interrupted uploads left (S3: open multipart uploads under the prefix;
    /// directory: temporary files) older than `older_than`. Returns how many.
    virtual std::size_t cleanup(std::chrono::seconds older_than) = 0;

    // Conveniences for small objects (manifests, fingerprints).
    /// Returns the etag of the object it published.
    std::string put_bytes(const std::string& key, std::string_view data,
                          const PutOptions& options = {});
    std::string get_bytes(const std::string& key, std::size_t max_bytes = 64 * 1024 * 1024);
    /// Uploads a local file / downloads to a local file (published atomically).
    void put_file(const std::string& key, const std::filesystem::path& path,
                  const PutOptions& options = {});
    std::uint64_t get_file(const std::string& key, const std::filesystem::path& path);
};

/// Where an S3 store gets its settings. By default from the environment and ~/.aws (see
/// s3/credentials.hpp); fields set here win.
struct DOLIBAK_API StoreOptions {
    s3::ClientOptions s3;                        ///< endpoint, region, part size, retries...
    std::optional<s3::Credentials> credentials;  ///< else resolved from the environment
    s3::CredentialOptions credential_sources;
    bool use_environment = true;  ///< read AWS_* / ~/.aws for what is not set
    /// Directory stores: create the directory when missing (off: a missing directory is an
    /// error, which catches an unmounted backup disk).
    bool create_directory = false;
};

/// Opens a store: "s3://bucket[/prefix]", "file:///abs/dir" (or an absolute path).
/// Throws ConfigError for a malformed URL or missing settings.
DOLIBAK_API std::unique_ptr<Store> open(const std::string& url, const StoreOptions& options = {});

/// Throws ConfigError unless `key` is a valid store key: non-empty, at most 1024 bytes,
/// relative, no empty, "." or ".." segment, no NUL or other control character, not under
/// the reserved ".dolibak-tmp/".
DOLIBAK_API void validate_key(std::string_view key);

}  // namespace dolibak::store
