#pragma once
// The store's lock: one run at a time under a prefix (backup, prune).
//
// A lease is the object `.lock`, a small JSON body naming its holder (host, pid, a random
// token) and when it expires. Taking it is a write-once put; a lease that expired (or whose
// holder, a process of this host, is gone) is taken over with a conditional put against the
// etag that was read, so that of two runs taking over the same stale lease exactly one wins.
// A lock that cannot be read is not an expired one: it is refused with its name. A holder
// renews its lease (conditionally) while it works, and releases it with a conditional remove,
// so it never removes a lease another run has taken since. A put whose answer was lost is
// recognised by the token when the lock is read back.
#include <dolibak/core/export.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/store/store.hpp>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

namespace dolibak::catalog {

/// The lock is held by another run (or was taken from this one).
class DOLIBAK_API LockHeld : public Error {
public:
    using Error::Error;
};

struct DOLIBAK_API LeaseOptions {
    std::chrono::seconds ttl{std::chrono::hours(12)};
    /// Who holds it (default: this host and process).
    std::string host;
    long pid = 0;
    /// Whether the process `pid` of `host` is known to be gone (default: a process of this
    /// host that kill(pid, 0) says does not exist).
    std::function<bool(const std::string& host, long pid)> holder_gone;
    std::function<void(const std::string& message)> warn;
};

class DOLIBAK_API Lease {
public:
    /// Takes the lock at `now`. Throws LockHeld when another run holds it, or the store's
    /// own error when the store fails (the one that explains the failure).
    Lease(store::Store& store, TimePoint now, LeaseOptions options = {});
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    /// Extends the lease to now + ttl (a conditional put). Throws LockHeld when another run
    /// has taken the lock since (this run's lease had expired).
    void renew(TimePoint now);
    /// Renews when a quarter of the TTL has passed since the last renewal.
    void renew_if_due(TimePoint now);
    /// Removes the lock if it is still this lease's (never another run's).
    void release() noexcept;
    bool held() const noexcept { return held_; }
    const std::string& token() const noexcept { return token_; }

private:
    std::string body(TimePoint now) const;
    void hold(std::string etag, TimePoint now);
    /// Puts this lease's body with `options`; a put whose answer was lost but that went
    /// through (the lock read back holds our token) is held; conflicts are thrown as they are.
    void put(TimePoint now, const store::PutOptions& options);
    /// The lock read back: etag and text, consistent (the etag did not change while read).
    struct Read {
        std::string etag;
        std::string text;
    };
    std::optional<Read> read();
    bool is_mine(const std::string& text) const;

    store::Store& store_;
    LeaseOptions options_;
    std::string token_;
    std::string etag_;
    TimePoint renewed_{};
    bool held_ = false;
    std::mutex mutex_;
};

}  // namespace dolibak::catalog
