// The store's lock (see lease.hpp).
#include <dolibak/catalog/lease.hpp>

#include <dolibak/catalog/catalog.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <random>

namespace dolibak::catalog {

namespace {

std::string host_name() {
    char buf[HOST_NAME_MAX + 1] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
    return buf;
}

std::string random_token() {
    std::random_device rd;
    std::string raw(16, '\0');
    for (auto& c : raw) c = static_cast<char>(rd() & 0xff);
    return io::to_hex(io::as_bytes(raw));
}

bool local_process_gone(const std::string& host, long pid) {
    return host == host_name() && pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 &&
           errno == ESRCH;
}

struct Holder {
    std::string host;
    long pid = 0;
    std::string token;
    std::string since;
    TimePoint since_time{};
    TimePoint expires{};
};

/// Throws when the text is not a lock body.
Holder parse(const std::string& text) {
    const auto j = nlohmann::json::parse(text);
    Holder h;
    h.host = j.at("host").get<std::string>();
    h.pid = j.at("pid").get<long>();
    h.token = j.value("token", std::string());
    h.since = j.at("since").get<std::string>();
    h.since_time = parse_rfc3339(h.since);
    h.expires = parse_rfc3339(j.at("expires").get<std::string>());
    return h;
}

}  // namespace

Lease::Lease(store::Store& store, TimePoint now, LeaseOptions options)
    : store_(store), options_(std::move(options)), token_(random_token()) {
    if (options_.host.empty()) options_.host = host_name();
    if (options_.pid == 0) options_.pid = static_cast<long>(::getpid());
    if (!options_.holder_gone) options_.holder_gone = local_process_gone;
    store::PutOptions create;
    create.no_overwrite = true;
    create.content_type = "application/json";
    for (int attempt = 0; attempt < 4; ++attempt) {
        try {
            put(now, create);
            return;
        } catch (const store::AlreadyExists&) {
            // Taken: by another run, by a dead one, or by this put whose answer was lost.
        }
        const auto current = read();
        if (!current) continue;  // released meanwhile: try again
        if (is_mine(current->text)) {
            hold(current->etag, now);
            return;
        }
        Holder h;
        try {
            h = parse(current->text);
        } catch (const std::exception& e) {
            throw LockHeld("the store's lock '" + std::string(lock_key) + "' cannot be read (" +
                           e.what() +
                           "): it is not taken over; if no run is in progress, delete it");
        }
        const std::string who =
            "the run of pid " + std::to_string(h.pid) + " on " + h.host + " since " + h.since;
        const bool gone = options_.holder_gone(h.host, h.pid);
        // A lease taken in the future was written by a machine whose clock is wrong: its
        // expiry means nothing here (a killed run of a clock a year ahead would lock the
        // store for a year). If that run is alive, its next conditional renewal fails and it
        // publishes nothing.
        const bool future = is_future(h.since_time, now);
        if (h.expires > now && !gone && !future)
            throw LockHeld("the store is locked by " + who + " (until " +
                           format_rfc3339(h.expires) + "); if that run is dead, delete '" +
                           lock_key + "' from the store or wait for the lock to expire");
        if (options_.warn)
            options_.warn("taking over the lock held by " + who +
                          (gone     ? " (that process is gone)"
                           : future ? " (taken in the future: a wrong clock)"
                                    : " (expired)"));
        store::PutOptions takeover;
        takeover.if_match = current->etag;
        takeover.content_type = "application/json";
        try {
            put(now, takeover);
            return;
        } catch (const store::PreconditionFailed&) {
            throw LockHeld("the store's lock was taken over by another run at the same time");
        }
    }
    throw LockHeld("cannot take the store's lock: it keeps changing hands");
}

void Lease::hold(std::string etag, TimePoint now) {
    etag_ = std::move(etag);
    held_ = true;
    renewed_ = now;
}

void Lease::put(TimePoint now, const store::PutOptions& options) {
    try {
        hold(store_.put_bytes(lock_key, body(now), options), now);
    } catch (const store::AlreadyExists&) {
        throw;
    } catch (const store::PreconditionFailed&) {
        throw;
    } catch (const Error&) {
        // The store failed; the put may still have been applied (a lost answer). Its error is
        // the one that explains the failure, unless the lock read back holds our token.
        std::optional<Read> r;
        try {
            r = read();
        } catch (const Error&) {
        }
        if (!r || !is_mine(r->text)) throw;
        hold(r->etag, now);
    }
}

Lease::~Lease() {
    release();
}

std::string Lease::body(TimePoint now) const {
    const nlohmann::json j = {{"host", options_.host},
                              {"pid", options_.pid},
                              {"token", token_},
                              {"since", format_rfc3339(now)},
                              {"expires", format_rfc3339(now + options_.ttl)}};
    return j.dump() + "\n";
}

std::optional<Lease::Read> Lease::read() {
    for (int attempt = 0; attempt < 3; ++attempt) {
        const auto before = store_.head(lock_key);
        if (!before) return std::nullopt;
        std::string text;
        try {
            text = store_.get_bytes(lock_key, 64 * 1024);
        } catch (const store::ObjectNotFound&) {
            return std::nullopt;
        } catch (const Error&) {
            // An S3 download is pinned to the version it opened: replaced meanwhile (another
            // run took the lock), it fails with 412. Read again; a real failure stays one.
            const auto now = store_.head(lock_key);
            if (!now) return std::nullopt;
            if (now->etag != before->etag) continue;
            throw;
        }
        const auto after = store_.head(lock_key);
        if (!after) return std::nullopt;
        if (after->etag == before->etag) return Read{after->etag, std::move(text)};
    }
    throw LockHeld("the store's lock keeps changing while it is read");
}

bool Lease::is_mine(const std::string& text) const {
    try {
        return parse(text).token == token_;
    } catch (const std::exception&) {
        return false;
    }
}

void Lease::renew(TimePoint now) {
    std::lock_guard lock(mutex_);
    if (!held_) throw LockHeld("the store's lock is not held");
    store::PutOptions o;
    o.if_match = etag_;
    o.content_type = "application/json";
    try {
        put(now, o);
    } catch (const store::PreconditionFailed&) {
        held_ = false;
        throw LockHeld("this run's lease on the store expired and another run took the lock");
    }
}

void Lease::renew_if_due(TimePoint now) {
    {
        std::lock_guard lock(mutex_);
        if (!held_ || now - renewed_ < options_.ttl / 4) return;
    }
    renew(now);
}

void Lease::release() noexcept {
    std::lock_guard lock(mutex_);
    if (!held_) return;
    held_ = false;
    try {
        store_.remove_if(lock_key, etag_);
    } catch (...) {
        // Taken by another run meanwhile, or the store failed: the lease expires by itself.
    }
}

}  // namespace dolibak::catalog
