#pragma once
// Private: the state a Job shares between its operations (one .cpp file per operation).
#include <dolibak/catalog/catalog.hpp>
#include <dolibak/job.hpp>

#include <map>
#include <mutex>

namespace dolibak::job::detail {

/// A lease on the store: created with no-overwrite, removed on release. A lease older than
/// the TTL (a crashed run) is taken over, with a warning.
class Lease {
public:
    Lease(store::Store& store, std::chrono::seconds ttl, TimePoint now,
          const std::function<void(const Event&)>& emit);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    void release() noexcept;

private:
    store::Store& store_;
    bool held_ = false;
};

}  // namespace dolibak::job::detail

namespace dolibak::job {

struct Job::Impl {
    Config config;
    std::unique_ptr<Env> owned_env;  ///< Env::real, when the Job built its own
    Env* env = nullptr;
    std::unique_ptr<catalog::Catalog> catalog;
    std::mutex event_mutex;

    store::Store& store() { return env->store(); }
    TimePoint now() { return env->clock().now(); }
    void emit(Event e);
    void info(const std::string& half, const std::string& message);
    void warn(const std::string& half, const std::string& message);
    /// Throws Cancelled when the job was cancelled.
    void check_cancel(const std::string& what) const;
    /// What a driver working on `half` is given.
    DriverContext context(const std::string& half);

    /// Stores the verification record of `report` (a warning when the store refuses).
    void record(VerifyReport& report);
};

}  // namespace dolibak::job
