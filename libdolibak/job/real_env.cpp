// Env::real: the configured store (opened at its first use), the system clock (or the
// configuration's injected now) and the real half drivers.
#include "job/real_drivers.hpp"

#include <dolibak/core/error.hpp>

#include <mutex>
#include <thread>

namespace dolibak::job {

namespace {

class SystemClock final : public Clock {
public:
    TimePoint now() override {
        return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    }
    void sleep_for(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }
};

/// The system clock for waits, `now` from the configuration (tests of the real halves).
class ConfiguredClock final : public Clock {
public:
    explicit ConfiguredClock(std::function<TimePoint()> now) : now_(std::move(now)) {}
    TimePoint now() override { return now_(); }
    void sleep_for(std::chrono::milliseconds d) override { std::this_thread::sleep_for(d); }

private:
    std::function<TimePoint()> now_;
};

/// The configured store, opened on first use: an operation that never touches it (a sandbox
/// refresh) needs neither a store nor its credentials.
class LazyStore final : public store::Store {
public:
    LazyStore(std::string url, store::StoreOptions options)
        : url_(std::move(url)), options_(std::move(options)) {}

    std::string url() const override {
        // The opened store's (normalised) URL; the configured one when it cannot be opened,
        // so that a report about a store that cannot be opened still names it.
        try {
            return real().url();
        } catch (const Error&) {
            return url_;
        }
    }
    std::unique_ptr<store::ObjectSink> put(const std::string& key,
                                           const store::PutOptions& o) override {
        return real().put(key, o);
    }
    std::unique_ptr<io::Source> get(const std::string& key, const store::GetOptions& o) override {
        return real().get(key, o);
    }
    std::uint64_t get_to(const std::string& key, io::Sink& out,
                         const store::GetOptions& o) override {
        return real().get_to(key, out, o);
    }
    std::optional<store::ObjectInfo> head(const std::string& key) override {
        return real().head(key);
    }
    std::vector<store::ObjectInfo> list(const std::string& prefix) override {
        return real().list(prefix);
    }
    void remove(const std::string& key) override { real().remove(key); }
    void remove_if(const std::string& key, const std::string& etag) override {
        real().remove_if(key, etag);
    }
    std::vector<store::RemoveFailure> remove_many(const std::vector<std::string>& keys) override {
        return real().remove_many(keys);
    }
    std::size_t cleanup(std::chrono::seconds older_than) override {
        return real().cleanup(older_than);
    }

private:
    store::Store& real() const {
        std::lock_guard lock(mutex_);
        if (!store_) {
            if (url_.empty())
                throw ConfigError(
                    "no store given: set a store URL (s3://bucket/prefix or file:///dir)");
            store_ = store::open(url_, options_);
        }
        return *store_;
    }

    std::string url_;
    store::StoreOptions options_;
    mutable std::mutex mutex_;
    mutable std::unique_ptr<store::Store> store_;
};

class RealEnv final : public Env {
public:
    explicit RealEnv(const Config& c)
        : store_(std::make_unique<LazyStore>(c.store_url, c.store)),
          database_(detail::make_real_database(c)),
          documents_(detail::make_real_documents(c, *store_)),
          globals_(detail::make_real_globals(c)) {
        if (c.now) configured_clock_ = std::make_unique<ConfiguredClock>(c.now);
    }
    store::Store& store() override { return *store_; }
    Clock& clock() override { return configured_clock_ ? *configured_clock_ : Clock::system(); }
    DatabaseDriver* database() override { return database_.get(); }
    DocumentsDriver* documents() override { return documents_.get(); }
    HalfDriver* globals() override { return globals_.get(); }

private:
    std::unique_ptr<store::Store> store_;
    std::unique_ptr<Clock> configured_clock_;
    std::unique_ptr<DatabaseDriver> database_;
    std::unique_ptr<DocumentsDriver> documents_;
    std::unique_ptr<HalfDriver> globals_;
};

}  // namespace

Clock& Clock::system() {
    static SystemClock clock;
    return clock;
}

std::unique_ptr<Env> Env::real(const Config& config) {
    return std::make_unique<RealEnv>(config);
}

}  // namespace dolibak::job
