// FaultStore: every operation goes through run(), which counts the call, runs the hooks that
// apply, then performs the call on the inner store with the fault that applies around it.
#include <dolibak/store/fault_store.hpp>

#include <cerrno>
#include <optional>

namespace dolibak::store {

const char* to_string(FaultStore::Op op) noexcept {
    switch (op) {
        case FaultStore::Op::put:
            return "put";
        case FaultStore::Op::get:
            return "get";
        case FaultStore::Op::head:
            return "head";
        case FaultStore::Op::list:
            return "list";
        case FaultStore::Op::remove:
            return "remove";
        case FaultStore::Op::remove_if:
            return "remove_if";
        case FaultStore::Op::remove_many:
            return "remove_many";
        case FaultStore::Op::cleanup:
            return "cleanup";
    }
    return "?";
}

class FaultStore::Sink final : public ObjectSink {
public:
    Sink(FaultStore& store, std::string key, std::unique_ptr<ObjectSink> inner)
        : store_(store), key_(std::move(key)), inner_(std::move(inner)) {}
    void write(io::Bytes data) override { inner_->write(data); }
    void finish() override {
        try {
            store_.run(Op::put, key_, [&] { inner_->finish(); });
        } catch (...) {
            inner_->abort();  // nothing to do when the inner sink did publish
            throw;
        }
    }
    void abort() noexcept override { inner_->abort(); }
    std::string etag() const override { return inner_->etag(); }

private:
    FaultStore& store_;
    std::string key_;
    std::unique_ptr<ObjectSink> inner_;
};

FaultStore::FaultStore(Store& inner) : inner_(inner) {}

FaultStore::FaultStore(std::shared_ptr<Store> inner) : owned_(std::move(inner)), inner_(*owned_) {}

FaultStore::~FaultStore() = default;

void FaultStore::fail(Op op, std::uint64_t nth, Fault fault, bool and_after) {
    if (nth == 0) throw ConfigError("FaultStore: calls are counted from 1");
    std::lock_guard lock(mutex_);
    rules_.push_back({op, nth, and_after, fault, {}});
}

void FaultStore::hook(Op op, std::uint64_t nth, std::function<void()> fn, bool and_after) {
    if (nth == 0) throw ConfigError("FaultStore: calls are counted from 1");
    if (!fn) throw ConfigError("FaultStore: empty hook");
    std::lock_guard lock(mutex_);
    rules_.push_back({op, nth, and_after, Fault::transient, std::move(fn)});
}

std::uint64_t FaultStore::calls(Op op) const {
    std::lock_guard lock(mutex_);
    return calls_[static_cast<std::size_t>(op)];
}

void FaultStore::reset() {
    std::lock_guard lock(mutex_);
    rules_.clear();
    calls_.fill(0);
}

template <typename F>
auto FaultStore::run(Op op, const std::string& key, F&& call) -> decltype(call()) {
    std::vector<std::function<void()>> hooks;
    std::optional<Fault> fault;
    {
        std::lock_guard lock(mutex_);
        const auto n = ++calls_[static_cast<std::size_t>(op)];
        for (const auto& r : rules_) {
            if (r.op != op || !(n == r.nth || (r.and_after && n > r.nth))) continue;
            if (r.hook)
                hooks.push_back(r.hook);
            else if (!fault)
                fault = r.fault;
        }
    }
    for (const auto& h : hooks) h();
    if (!fault) return call();
    if (*fault == Fault::lose_response) {
        call();
        throw_fault(Fault::transient, op, key);
    }
    throw_fault(*fault, op, key);
}

namespace {

// What a store gives up with after its retries, as the S3 client reports it.
[[noreturn]] void throw_remote(const std::string& what, const std::string& key, int status,
                               const char* code) {
    RemoteError::Details d;
    d.http_status = status;
    d.code = code;
    d.message = "injected fault";
    d.key = key;
    d.retryable = true;
    throw RemoteError(
        what + ": HTTP " + std::to_string(status) + " " + code + " (giving up after retries)", d);
}

}  // namespace

void FaultStore::throw_fault(Fault fault, Op op, const std::string& key) const {
    const std::string what = std::string("injected fault: ") + to_string(op) +
                             (key.empty() ? "" : " of '" + key + "'") + " in " + url();
    switch (fault) {
        case Fault::already_exists:
            throw AlreadyExists(url(), key, "injected fault");
        case Fault::precondition_failed:
            throw PreconditionFailed(url(), key, "injected fault");
        case Fault::io_error:
            throw IoError(what, key, EIO);
        case Fault::server_error:
            throw_remote(what, key, 500, "InternalError");
        case Fault::transient:
        case Fault::lose_response:
            break;
    }
    throw_remote(what, key, 503, "SlowDown");
}

std::string FaultStore::url() const {
    return inner_.url();
}

std::unique_ptr<ObjectSink> FaultStore::put(const std::string& key, const PutOptions& options) {
    return std::make_unique<Sink>(*this, key, inner_.put(key, options));
}

std::unique_ptr<io::Source> FaultStore::get(const std::string& key, const GetOptions& options) {
    return run(Op::get, key, [&] { return inner_.get(key, options); });
}

std::uint64_t FaultStore::get_to(const std::string& key, io::Sink& out, const GetOptions& options) {
    return run(Op::get, key, [&] { return inner_.get_to(key, out, options); });
}

std::optional<ObjectInfo> FaultStore::head(const std::string& key) {
    return run(Op::head, key, [&] { return inner_.head(key); });
}

std::vector<ObjectInfo> FaultStore::list(const std::string& prefix) {
    return run(Op::list, prefix, [&] { return inner_.list(prefix); });
}

void FaultStore::remove(const std::string& key) {
    run(Op::remove, key, [&] { inner_.remove(key); });
}

void FaultStore::remove_if(const std::string& key, const std::string& etag) {
    run(Op::remove_if, key, [&] { inner_.remove_if(key, etag); });
}

std::vector<RemoveFailure> FaultStore::remove_many(const std::vector<std::string>& keys) {
    return run(Op::remove_many, keys.empty() ? std::string() : keys.front(),
               [&] { return inner_.remove_many(keys); });
}

std::size_t FaultStore::cleanup(std::chrono::seconds older_than) {
    return run(Op::cleanup, {}, [&] { return inner_.cleanup(older_than); });
}

}  // namespace dolibak::store
