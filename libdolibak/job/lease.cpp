// The store lock: a lease object created with no-overwrite semantics, so two runs on the same
// prefix never interleave. A lease older than its TTL (a run that crashed) is taken over.
#include "job/job_impl.hpp"

#include <dolibak/error.hpp>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <csignal>

namespace dolibak::job::detail {

namespace {
std::string host_name() {
    char buf[HOST_NAME_MAX + 1] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
    return buf;
}
}  // namespace

Lease::Lease(store::Store& store, std::chrono::seconds ttl, TimePoint now,
             const std::function<void(const Event&)>& emit)
    : store_(store) {
    const nlohmann::json body = {{"host", host_name()},
                                 {"pid", static_cast<long>(::getpid())},
                                 {"since", format_rfc3339(now)},
                                 {"expires", format_rfc3339(now + ttl)}};
    store::PutOptions o;
    o.no_overwrite = true;
    o.content_type = "application/json";
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            store_.put_bytes(catalog::lock_key, body.dump() + "\n", o);
            held_ = true;
            return;
        } catch (const Error&) {
            // Either the lock exists (another run, or a crashed one) or the store failed.
            if (!store_.head(catalog::lock_key)) throw;
        }
        std::string holder = "another run";
        std::optional<TimePoint> expires;
        bool holder_dead = false;
        try {
            const auto j = nlohmann::json::parse(store_.get_bytes(catalog::lock_key, 64 * 1024));
            const long pid = j.at("pid").get<long>();
            const auto host = j.at("host").get<std::string>();
            holder = "the run of pid " + std::to_string(pid) + " on " + host + " since " +
                     j.at("since").get<std::string>();
            expires = parse_rfc3339(j.at("expires").get<std::string>());
            // A run of this machine whose process is gone (killed, crashed) holds nothing.
            holder_dead = host == host_name() && pid > 0 &&
                          ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
        } catch (const std::exception&) {
            holder = "an unreadable lock object";
        }
        if (expires && *expires > now && !holder_dead)
            throw Error("the store is locked by " + holder + " (until " + format_rfc3339(*expires) +
                        "); if that run is dead, delete '" + catalog::lock_key +
                        "' from the store or wait for the lock to expire");
        if (emit)
            emit({Event::Kind::warning, "",
                  std::string("taking over the lock held by ") + holder +
                      (holder_dead ? " (that process is gone)" : " (expired)"),
                  0, std::nullopt});
        store_.remove(catalog::lock_key);
    }
    throw Error("cannot take the store's lock: it was taken again meanwhile");
}

Lease::~Lease() {
    release();
}

void Lease::release() noexcept {
    if (!held_) return;
    held_ = false;
    try {
        store_.remove(catalog::lock_key);
    } catch (...) {
        // The lease expires by itself.
    }
}

}  // namespace dolibak::job::detail
