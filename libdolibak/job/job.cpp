#include "job/job_impl.hpp"

#include <dolibak/error.hpp>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <map>

namespace dolibak {

void CancelToken::check(const std::string& what) const {
    if (!cancelled()) return;
    const int sig = signal();
    std::string by = "cancelled";
    if (sig != 0) {
        const char* abbrev = ::sigabbrev_np(sig);
        by = std::string("interrupted by ") +
             (abbrev ? "SIG" + std::string(abbrev) : "signal " + std::to_string(sig));
    }
    throw Cancelled(by + " while " + what);
}

}  // namespace dolibak

namespace dolibak::job {

using nlohmann::json;

std::string_view to_string(HalfReport::Outcome o) noexcept {
    switch (o) {
        case HalfReport::Outcome::uploaded:
            return "uploaded";
        case HalfReport::Outcome::unchanged:
            return "unchanged";
        case HalfReport::Outcome::would_upload:
            return "would-upload";
        case HalfReport::Outcome::skipped:
            return "skipped";
        case HalfReport::Outcome::failed:
            return "failed";
    }
    return "?";
}

bool BackupReport::ok() const noexcept {
    return std::none_of(halves.begin(), halves.end(), [](const HalfReport& h) {
        return h.outcome == HalfReport::Outcome::failed;
    });
}

bool VerifyReport::ok() const noexcept {
    return !objects.empty() &&
           std::all_of(objects.begin(), objects.end(), [](const auto& o) { return o.ok; });
}

bool CheckReport::ok() const noexcept {
    return std::all_of(items.begin(), items.end(), [](const auto& i) { return i.ok; });
}

namespace detail {

std::string StoredFingerprint::to_json() const {
    json j = {{"version", 1},     {"half", half},     {"fingerprint", value},
              {"mode", mode},     {"object", object}, {"time", format_timestamp(time)},
              {"sha256", sha256}, {"bytes", bytes}};
    return j.dump(2) + "\n";
}

StoredFingerprint StoredFingerprint::from_json(std::string_view text) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        throw FormatError(std::string("stored fingerprint is not JSON: ") + e.what());
    }
    auto str = [&](const char* field) -> std::string {
        if (!j.is_object() || !j.contains(field) || !j[field].is_string())
            throw FormatError(std::string("stored fingerprint: missing or invalid \"") + field +
                              "\"");
        return j[field].get<std::string>();
    };
    StoredFingerprint f;
    f.half = str("half");
    f.value = str("fingerprint");
    f.mode = str("mode");
    f.object = str("object");
    f.time = parse_timestamp(str("time"));
    if (j.contains("sha256") && j["sha256"].is_string()) f.sha256 = j["sha256"].get<std::string>();
    if (j.contains("bytes") && j["bytes"].is_number_unsigned())
        f.bytes = j["bytes"].get<std::uint64_t>();
    return f;
}

}  // namespace detail

void Job::Impl::emit(Event e) {
    if (!config.on_event) return;
    std::lock_guard lock(event_mutex);
    config.on_event(e);
}

void Job::Impl::info(const std::string& half, const std::string& message) {
    emit({Event::Kind::info, half, message, 0, std::nullopt});
}

void Job::Impl::warn(const std::string& half, const std::string& message) {
    emit({Event::Kind::warning, half, message, 0, std::nullopt});
}

void Job::Impl::check_cancel(const std::string& what) const {
    if (config.cancel) config.cancel->check(what);
}

std::vector<std::string> Job::Impl::volatile_tables() const {
    auto v = config.profile.volatile_tables;
    if (config.db)
        v.insert(v.end(), config.db->extra_volatile_tables.begin(),
                 config.db->extra_volatile_tables.end());
    return v;
}

std::vector<std::string> Job::Impl::document_excludes() const {
    auto v = config.profile.document_excludes;
    if (config.docs)
        v.insert(v.end(), config.docs->extra_excludes.begin(), config.docs->extra_excludes.end());
    return v;
}

Manifest Job::Impl::load_manifest(const std::string& key) {
    try {
        return Manifest::from_json(store->get_bytes(key, 16 * 1024 * 1024));
    } catch (Error& e) {
        e.with_context("reading manifest " + key);
        throw;
    }
}

ListReport Job::Impl::scan(ManifestLoad load) {
    ListReport r;
    std::vector<store::ObjectInfo> manifests;
    for (auto& o : store->list("")) {
        const auto k = parse_store_key(o.key);
        if (!k || !k->prefix.empty()) {
            r.other.push_back(std::move(o));
            continue;
        }
        if (k->kind == ObjectKind::manifest) {
            manifests.push_back(o);
            continue;
        }
        if (k->kind == ObjectKind::verification) {
            r.verifications.push_back(std::move(o));
            continue;
        }
        BackupEntry e;
        e.half = std::string(folder_of(k->kind));
        e.time = k->time;
        e.key = o.key;
        e.size = o.size;
        r.backups.push_back(std::move(e));
    }
    std::sort(r.backups.begin(), r.backups.end(), [](const auto& a, const auto& b) {
        return a.time != b.time ? a.time < b.time : a.key < b.key;
    });
    std::sort(manifests.begin(), manifests.end(),
              [](const auto& a, const auto& b) { return a.key < b.key; });
    // Newest first when only the newest ones are wanted.
    std::size_t wanted = load == ManifestLoad::all      ? manifests.size()
                         : load == ManifestLoad::newest ? std::min<std::size_t>(1, manifests.size())
                                                        : 0;
    for (std::size_t i = 0; i < manifests.size(); ++i) {
        const auto& m = manifests[manifests.size() - 1 - i];
        RunEntry run;
        run.manifest_key = m.key;
        run.time = parse_store_key(m.key)->time;
        if (i < wanted) {
            try {
                run.manifest = load_manifest(m.key);
                run.loaded = true;
            } catch (const Error& e) {
                warn("", std::string("unreadable manifest ignored: ") + e.what());
            }
        }
        r.runs.push_back(std::move(run));
    }
    std::reverse(r.runs.begin(), r.runs.end());
    // Which objects a loaded manifest names, with its digest.
    std::map<std::string, const ManifestHalf*> named;
    for (const auto& run : r.runs)
        if (run.loaded)
            for (const auto& [half, h] : run.manifest.halves)
                if (!h.key.empty()) named[h.key] = &h;
    for (auto& b : r.backups) {
        if (auto it = named.find(b.key); it != named.end()) {
            b.has_manifest = true;
            b.sha256 = it->second->sha256;
        }
    }
    std::sort(r.verifications.begin(), r.verifications.end(),
              [](const auto& a, const auto& b) { return a.key < b.key; });
    if (load == ManifestLoad::all) {
        // The newest verification of each object wins.
        std::map<std::string, BackupEntry::Verified> verified;
        for (const auto& o : r.verifications) {
            std::optional<Verification> v;
            try {
                v = parse_verification(store->get_bytes(o.key, 16 * 1024 * 1024));
            } catch (const Error& e) {
                warn("", "unreadable verification record " + o.key + " ignored: " + e.what());
                continue;
            }
            if (!v) {
                warn("", "verification record " + o.key + " not understood: ignored");
                continue;
            }
            for (const auto& [key, ok] : v->objects) {
                auto& slot = verified[key];
                if (slot.at <= v->at) slot = {v->at, ok, v->run};
            }
        }
        for (auto& b : r.backups)
            if (auto it = verified.find(b.key); it != verified.end()) b.verified = it->second;
    }
    return r;
}

BackupEntry Job::Impl::find_backup(const ListReport& listing, const std::string& half,
                                   const std::string& which) {
    if (which.empty() || which == "latest") {
        for (auto it = listing.backups.rbegin(); it != listing.backups.rend(); ++it)
            if (it->half == half) return *it;
        throw ConfigError("no " + half + " backup in " + store->url());
    }
    const TimePoint t = parse_timestamp(which);
    for (const auto& b : listing.backups)
        if (b.half == half && b.time == t) return b;
    // A run that found the half unchanged names the earlier object in its manifest.
    for (const auto& run : listing.runs) {
        if (run.time != t) continue;
        const Manifest m = run.loaded ? run.manifest : load_manifest(run.manifest_key);
        if (auto h = m.halves.find(half); h != m.halves.end() && !h->second.key.empty()) {
            for (const auto& b : listing.backups)
                if (b.key == h->second.key) return b;
            throw ConfigError("the run " + which + " names " + h->second.key +
                              ", which is no longer in the store");
        }
    }
    throw ConfigError("no " + half + " backup at " + which + " in " + store->url() +
                      " (dolibak list shows what there is)");
}

Job::Job(Config config) : impl_(std::make_unique<Impl>()) {
    if (config.store_url.empty())
        throw ConfigError("no store given: set a store URL (s3://bucket/prefix or file:///dir)");
    if (config.db) {
        if (config.db->conn.dbname.empty())
            throw ConfigError("no database name given for the database half (PGDATABASE)");
    }
    if (config.docs) {
        if (config.docs->root.empty())
            throw ConfigError("no documents directory given for the documents half");
        if (config.docs->compression == tarball::Compression::none)
            throw ConfigError(
                "documents compression 'none' is not a stored format: use gzip or zstd");
    }
    if (config.lock_ttl.count() <= 0) throw ConfigError("the lock TTL must be positive");
    impl_->config = std::move(config);
    impl_->store = store::open(impl_->config.store_url, impl_->config.store);
}

Job::~Job() = default;
Job::Job(Job&&) noexcept = default;
Job& Job::operator=(Job&&) noexcept = default;

const Config& Job::config() const noexcept {
    return impl_->config;
}
store::Store& Job::store() {
    return *impl_->store;
}

ListReport Job::list() {
    return impl_->scan(Impl::ManifestLoad::all);
}

}  // namespace dolibak::job
