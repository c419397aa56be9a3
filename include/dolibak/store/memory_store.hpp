#pragma once
// A Store in memory, for tests: the same contract as the S3 and directory backends (see
// docs/store.md) without a server or a disk. Thread-safe.
//
// - keys are validated like every store's (validate_key());
// - put() publishes on finish() only, atomically; abort() or destruction publishes nothing;
// - no_overwrite is write-once (AlreadyExists), if_match and remove_if compare-and-swap
//   (PreconditionFailed); etags are opaque and change on every replace;
// - list() is sorted by key (byte order) and filtered by a string prefix; get() honours
//   offset and length and throws ObjectNotFound for a missing key;
// - cleanup() has nothing to clean (there are no partial uploads to leave behind).
#include <dolibak/core/export.hpp>
#include <dolibak/store/store.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace dolibak::store {

class DOLIBAK_API MemoryStore final : public Store {
public:
    /// url() is "mem://<name>/".
    explicit MemoryStore(std::string name = "memory");
    ~MemoryStore() override;
    MemoryStore(const MemoryStore&) = delete;
    MemoryStore& operator=(const MemoryStore&) = delete;

    std::string url() const override;
    std::unique_ptr<ObjectSink> put(const std::string& key,
                                    const PutOptions& options = {}) override;
    std::unique_ptr<io::Source> get(const std::string& key,
                                    const GetOptions& options = {}) override;
    std::optional<ObjectInfo> head(const std::string& key) override;
    std::vector<ObjectInfo> list(const std::string& prefix = {}) override;
    void remove(const std::string& key) override;
    void remove_if(const std::string& key, const std::string& etag) override;
    std::size_t cleanup(std::chrono::seconds older_than) override;

private:
    struct Object {
        std::shared_ptr<const std::string> data;
        std::chrono::system_clock::time_point modified;
        std::string etag;
    };
    class Sink;
    /// Publishes `data` under `key` as `options` allow; returns the new etag.
    std::string publish(const std::string& key, std::string data, const PutOptions& options);

    std::string name_;
    mutable std::mutex mutex_;
    std::map<std::string, Object> objects_;
    std::uint64_t generation_ = 0;
};

}  // namespace dolibak::store
