// A store under s3://bucket/prefix/. S3 publishes atomically by itself: an object appears
// only when PutObject or CompleteMultipartUpload succeeds.
#include "store/backends.hpp"

#include <dolibak/core/error.hpp>

namespace dolibak::store {

namespace {

// S3's answer to a failed condition, as the store's typed conflict. 412 is the documented
// answer; AWS may also answer 409 ConditionalRequestConflict when another conditional write
// to the key is in progress: the key is being taken by someone else, so it is the same
// conflict (the caller decides whether to try again). A 404 to If-Match: the object is gone.
[[noreturn]] void throw_conflict(const RemoteError& e, const std::string& url,
                                 const std::string& key, bool no_overwrite, bool if_match) {
    const auto& d = e.details();
    const bool conflict =
        d.http_status == 412 || (d.http_status == 409 && d.code == "ConditionalRequestConflict");
    const bool gone = d.http_status == 404 && d.code == "NoSuchKey";
    if (no_overwrite && conflict) throw AlreadyExists(url, key, e.what());
    if (if_match && (conflict || gone)) throw PreconditionFailed(url, key, e.what());
    throw;  // called from the handler that caught `e`
}

// The client's sinks and sources refer to it: these wrappers keep it alive as long as they
// live, even when the store that made them is gone.
class S3Sink final : public ObjectSink {
public:
    S3Sink(std::shared_ptr<s3::Client> c, std::unique_ptr<s3::ObjectUpload> s, std::string url,
           std::string key, const PutOptions& options)
        : client_(std::move(c)),
          sink_(std::move(s)),
          url_(std::move(url)),
          key_(std::move(key)),
          no_overwrite_(options.no_overwrite),
          if_match_(!options.if_match.empty()) {}
    ~S3Sink() override { sink_.reset(); }
    void write(io::Bytes data) override { sink_->write(data); }
    void finish() override {
        try {
            sink_->finish();
        } catch (const RemoteError& e) {
            throw_conflict(e, url_, key_, no_overwrite_, if_match_);
        }
    }
    void abort() noexcept override { sink_->abort(); }
    std::string etag() const override { return sink_->etag(); }

private:
    std::shared_ptr<s3::Client> client_;
    std::unique_ptr<s3::ObjectUpload> sink_;
    std::string url_, key_;
    bool no_overwrite_, if_match_;
};

class KeepAliveSource final : public io::Source {
public:
    KeepAliveSource(std::shared_ptr<s3::Client> c, std::unique_ptr<io::Source> s)
        : client_(std::move(c)), source_(std::move(s)) {}
    ~KeepAliveSource() override { source_.reset(); }
    std::size_t read(io::MutableBytes buf) override { return source_->read(buf); }

private:
    std::shared_ptr<s3::Client> client_;
    std::unique_ptr<io::Source> source_;
};

class S3Store final : public Store {
public:
    S3Store(std::shared_ptr<s3::Client> client, std::string bucket, std::string prefix)
        : client_(std::move(client)), bucket_(std::move(bucket)), prefix_(std::move(prefix)) {}

    std::string url() const override { return "s3://" + bucket_ + "/" + prefix_; }

    std::unique_ptr<ObjectSink> put(const std::string& key, const PutOptions& options) override {
        validate_key(key);
        check_put_options(key, options);
        s3::PutOptions o;
        o.content_type = options.content_type;
        o.size_hint = options.size_hint;
        o.if_none_match = options.no_overwrite;
        o.if_match = options.if_match;
        return std::make_unique<S3Sink>(client_, client_->upload(bucket_, prefix_ + key, o), url(),
                                        key, options);
    }

    std::unique_ptr<io::Source> get(const std::string& key, const GetOptions& options) override {
        // HEAD first: a missing key fails here, and the download is pinned to this version.
        const auto info = head(key);
        if (!info) throw ObjectNotFound(url(), key);
        s3::GetOptions o;
        o.offset = options.offset;
        o.length = options.length;
        o.if_match = info->etag;
        if (o.offset >= info->size && info->size > 0 && !o.length)
            return std::make_unique<io::MemorySource>(std::string_view());
        if (info->size == 0) return std::make_unique<io::MemorySource>(std::string_view());
        return std::make_unique<KeepAliveSource>(client_,
                                                 client_->open_object(bucket_, prefix_ + key, o));
    }

    std::uint64_t get_to(const std::string& key, io::Sink& out,
                         const GetOptions& options) override {
        validate_key(key);
        s3::GetOptions o;
        o.offset = options.offset;
        o.length = options.length;
        try {
            return client_->get_object(bucket_, prefix_ + key, out, o);
        } catch (const RemoteError& e) {
            if (e.details().http_status == 404 && e.details().code == "NoSuchKey")
                throw ObjectNotFound(url(), key);
            if (e.details().http_status == 416 && options.offset == 0) return 0;  // empty object
            throw;
        }
    }

    std::optional<ObjectInfo> head(const std::string& key) override {
        validate_key(key);
        const auto info = client_->head_object(bucket_, prefix_ + key);
        if (!info) return std::nullopt;
        return ObjectInfo{key, info->size, info->last_modified, info->etag};
    }

    std::vector<ObjectInfo> list(const std::string& prefix) override {
        std::vector<ObjectInfo> out;
        for (auto& o : client_->list_objects(bucket_, prefix_ + prefix)) {
            if (!o.key.starts_with(prefix_)) continue;
            out.push_back({o.key.substr(prefix_.size()), o.size, o.last_modified, o.etag});
        }
        // S3 lists in UTF-8 binary order already; sort anyway for other services.
        std::sort(out.begin(), out.end(),
                  [](const auto& a, const auto& b) { return a.key < b.key; });
        return out;
    }

    void remove(const std::string& key) override {
        validate_key(key);
        client_->delete_object(bucket_, prefix_ + key);
    }

    void remove_if(const std::string& key, const std::string& etag) override {
        validate_key(key);
        if (etag.empty()) throw ConfigError("remove_if of '" + key + "' without an etag");
        try {
            client_->delete_object(bucket_, prefix_ + key, etag);
        } catch (const RemoteError& e) {
            throw_conflict(e, url(), key, false, true);
        }
    }

    std::vector<RemoveFailure> remove_many(const std::vector<std::string>& keys) override {
        std::vector<std::string> full;
        full.reserve(keys.size());
        for (const auto& k : keys) {
            validate_key(k);
            full.push_back(prefix_ + k);
        }
        // One DeleteObjects per 1,000 keys, sent here so that a batch that fails as a whole
        // (its retries spent) is reported key by key like the server's own per-key errors,
        // and the other batches still go.
        constexpr std::size_t batch = 1000;
        std::vector<RemoveFailure> out;
        auto relative = [this](const std::string& k) {
            return k.substr(std::min(prefix_.size(), k.size()));
        };
        for (std::size_t from = 0; from < full.size(); from += batch) {
            const std::vector<std::string> part(
                full.begin() + static_cast<std::ptrdiff_t>(from),
                full.begin() + static_cast<std::ptrdiff_t>(std::min(full.size(), from + batch)));
            try {
                for (auto& f : client_->delete_objects(bucket_, part))
                    out.push_back(
                        {relative(f.key), f.code + (f.message.empty() ? "" : ": " + f.message)});
            } catch (const Cancelled&) {
                throw;
            } catch (const Error& e) {
                for (const auto& k : part) out.push_back({relative(k), e.what()});
            }
        }
        return out;
    }

    std::size_t cleanup(std::chrono::seconds older_than) override {
        return client_->abort_stale_uploads(bucket_, prefix_, older_than);
    }

private:
    std::shared_ptr<s3::Client> client_;
    std::string bucket_;
    std::string prefix_;
};

}  // namespace

std::unique_ptr<Store> make_s3_store(std::shared_ptr<s3::Client> client, std::string bucket,
                                     std::string prefix) {
    return std::make_unique<S3Store>(std::move(client), std::move(bucket), std::move(prefix));
}

}  // namespace dolibak::store
