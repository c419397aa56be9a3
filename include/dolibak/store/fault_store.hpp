#pragma once
// A Store that wraps another one and injects faults, for tests of the code above the store
// (the lock, the backup job): fail the Nth call of an operation with a chosen error, perform
// a call and then lose its answer, or run a hook just before a call (to interleave another
// actor's action, or to advance a test clock: FaultStore itself never sleeps). Counts calls
// per operation. Thread-safe; hooks run without FaultStore's lock held, so they may use the
// FaultStore (or its inner store) themselves.
#include <dolibak/core/export.hpp>
#include <dolibak/store/store.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace dolibak::store {

class DOLIBAK_API FaultStore final : public Store {
public:
    /// The operations faults apply to. `put` is counted at the sink's finish() (the publish),
    /// `get` at get() / get_to().
    enum class Op { put, get, head, list, remove, remove_if, remove_many, cleanup };
    static constexpr std::size_t op_count = 8;

    enum class Fault {
        /// A store error as when retries ran out: RemoteError 503 SlowDown (retryable).
        transient,
        /// A server error: RemoteError 500 InternalError (retryable, as S3 documents it).
        server_error,
        /// AlreadyExists (as a 412 to no_overwrite).
        already_exists,
        /// PreconditionFailed (as a 412 to if_match / remove_if).
        precondition_failed,
        /// IoError EIO.
        io_error,
        /// Performs the call on the inner store, then throws `transient`, as if the answer
        /// was lost on the way back.
        lose_response,
    };

    /// Wraps `inner`, which must outlive the FaultStore and the sinks and sources it returns.
    explicit FaultStore(Store& inner);
    /// Wraps and keeps `inner` alive.
    explicit FaultStore(std::shared_ptr<Store> inner);
    ~FaultStore() override;
    FaultStore(const FaultStore&) = delete;
    FaultStore& operator=(const FaultStore&) = delete;

    /// Call number `nth` (1-based, counted since construction or reset()) of `op` fails with
    /// `fault`; with `and_after`, every call from `nth` on does. The first rule that applies
    /// wins.
    void fail(Op op, std::uint64_t nth, Fault fault, bool and_after = false);
    /// Runs `fn` just before call number `nth` of `op` (or every call from `nth` on) goes
    /// on (before any fault of that call).
    void hook(Op op, std::uint64_t nth, std::function<void()> fn, bool and_after = false);
    /// Calls of `op` so far (faulted ones included).
    std::uint64_t calls(Op op) const;
    /// Forgets rules, hooks and counters.
    void reset();

    Store& inner() noexcept { return inner_; }

    std::string url() const override;
    std::unique_ptr<ObjectSink> put(const std::string& key,
                                    const PutOptions& options = {}) override;
    std::unique_ptr<io::Source> get(const std::string& key,
                                    const GetOptions& options = {}) override;
    std::uint64_t get_to(const std::string& key, io::Sink& out,
                         const GetOptions& options = {}) override;
    std::optional<ObjectInfo> head(const std::string& key) override;
    std::vector<ObjectInfo> list(const std::string& prefix = {}) override;
    void remove(const std::string& key) override;
    void remove_if(const std::string& key, const std::string& etag) override;
    std::vector<RemoveFailure> remove_many(const std::vector<std::string>& keys) override;
    std::size_t cleanup(std::chrono::seconds older_than) override;

private:
    struct Rule {
        Op op;
        std::uint64_t nth;
        bool and_after;
        Fault fault;
        std::function<void()> hook;  // a hook rule when set
    };
    class Sink;

    /// Counts a call of `op`, runs its hooks, then performs `call` with the fault that
    /// applies (if any) around it.
    template <typename F>
    auto run(Op op, const std::string& key, F&& call) -> decltype(call());
    [[noreturn]] void throw_fault(Fault fault, Op op, const std::string& key) const;

    std::shared_ptr<Store> owned_;
    Store& inner_;
    mutable std::mutex mutex_;
    std::vector<Rule> rules_;
    std::array<std::uint64_t, op_count> calls_{};
};

/// "put", "get", ... (for messages).
DOLIBAK_API const char* to_string(FaultStore::Op op) noexcept;

}  // namespace dolibak::store
