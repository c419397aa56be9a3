// MemoryStore: objects are immutable strings shared with their readers, so a get() keeps
// reading the version it opened even when the key is replaced (as an S3 download is pinned).
#include <dolibak/store/memory_store.hpp>

#include "store/backends.hpp"

#include <algorithm>

namespace dolibak::store {

namespace {

class SharedSource final : public io::Source {
public:
    SharedSource(std::shared_ptr<const std::string> data, std::size_t offset, std::size_t length)
        : data_(std::move(data)), source_(std::string_view(*data_).substr(offset, length)) {}
    std::size_t read(io::MutableBytes buf) override { return source_.read(buf); }

private:
    std::shared_ptr<const std::string> data_;
    io::MemorySource source_;
};

}  // namespace

class MemoryStore::Sink final : public ObjectSink {
public:
    Sink(MemoryStore& store, std::string key, PutOptions options)
        : store_(store), key_(std::move(key)), options_(std::move(options)) {}
    ~Sink() override { abort(); }

    void write(io::Bytes data) override {
        if (state_ != State::open) throw Error("write to " + key_ + " after it was completed");
        buffer_.append(io::as_chars(data));
    }
    void finish() override {
        if (state_ != State::open) throw Error("completing " + key_ + " twice");
        state_ = State::aborted;  // unless published below
        etag_ = store_.publish(key_, std::move(buffer_), options_);
        state_ = State::done;
    }
    void abort() noexcept override {
        if (state_ != State::open) return;
        state_ = State::aborted;
        buffer_.clear();
    }
    std::string etag() const override { return state_ == State::done ? etag_ : std::string(); }

private:
    enum class State { open, done, aborted };
    MemoryStore& store_;
    std::string key_;
    PutOptions options_;
    std::string buffer_;
    std::string etag_;
    State state_ = State::open;
};

MemoryStore::MemoryStore(std::string name) : name_(std::move(name)) {}

MemoryStore::~MemoryStore() = default;

std::string MemoryStore::url() const {
    return "mem://" + name_ + "/";
}

std::unique_ptr<ObjectSink> MemoryStore::put(const std::string& key, const PutOptions& options) {
    validate_key(key);
    check_put_options(key, options);
    return std::make_unique<Sink>(*this, key, options);
}

std::string MemoryStore::publish(const std::string& key, std::string data,
                                 const PutOptions& options) {
    std::lock_guard lock(mutex_);
    const auto it = objects_.find(key);
    if (options.no_overwrite && it != objects_.end()) throw AlreadyExists(url(), key);
    if (!options.if_match.empty()) {
        if (it == objects_.end()) throw PreconditionFailed(url(), key, "it is gone");
        if (it->second.etag != options.if_match)
            throw PreconditionFailed(url(), key, "its etag is now " + it->second.etag);
    }
    Object o{std::make_shared<const std::string>(std::move(data)), std::chrono::system_clock::now(),
             "mem-" + std::to_string(++generation_)};
    auto etag = o.etag;
    objects_[key] = std::move(o);
    return etag;
}

std::unique_ptr<io::Source> MemoryStore::get(const std::string& key, const GetOptions& options) {
    validate_key(key);
    std::shared_ptr<const std::string> data;
    {
        std::lock_guard lock(mutex_);
        const auto it = objects_.find(key);
        if (it == objects_.end()) throw ObjectNotFound(url(), key);
        data = it->second.data;
    }
    const std::size_t offset =
        static_cast<std::size_t>(std::min<std::uint64_t>(options.offset, data->size()));
    const std::size_t length = static_cast<std::size_t>(
        std::min<std::uint64_t>(options.length.value_or(data->size()), data->size() - offset));
    return std::make_unique<SharedSource>(std::move(data), offset, length);
}

std::optional<ObjectInfo> MemoryStore::head(const std::string& key) {
    validate_key(key);
    std::lock_guard lock(mutex_);
    const auto it = objects_.find(key);
    if (it == objects_.end()) return std::nullopt;
    return ObjectInfo{key, it->second.data->size(), it->second.modified, it->second.etag};
}

std::vector<ObjectInfo> MemoryStore::list(const std::string& prefix) {
    std::vector<ObjectInfo> out;
    std::lock_guard lock(mutex_);
    // std::map orders std::string keys by char_traits<char>::compare: unsigned bytes.
    for (auto it = objects_.lower_bound(prefix); it != objects_.end(); ++it) {
        if (!it->first.starts_with(prefix)) break;
        out.push_back({it->first, it->second.data->size(), it->second.modified, it->second.etag});
    }
    return out;
}

void MemoryStore::remove(const std::string& key) {
    validate_key(key);
    std::lock_guard lock(mutex_);
    objects_.erase(key);
}

void MemoryStore::remove_if(const std::string& key, const std::string& etag) {
    validate_key(key);
    if (etag.empty()) throw ConfigError("remove_if of '" + key + "' without an etag");
    std::lock_guard lock(mutex_);
    const auto it = objects_.find(key);
    if (it == objects_.end()) throw PreconditionFailed(url(), key, "it is gone");
    if (it->second.etag != etag)
        throw PreconditionFailed(url(), key, "its etag is now " + it->second.etag);
    objects_.erase(it);
}

std::size_t MemoryStore::cleanup(std::chrono::seconds) {
    return 0;
}

}  // namespace dolibak::store
