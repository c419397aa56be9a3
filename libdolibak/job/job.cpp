#include "job/job_impl.hpp"
#include "job/real_drivers.hpp"

#include <dolibak/catalog/prune_plan.hpp>
#include <dolibak/core/error.hpp>

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

std::vector<tarball::Exclusion> recorded_exclusions(std::string_view archive_summary_json) {
    std::vector<tarball::Exclusion> out;
    if (archive_summary_json.empty()) return out;
    const auto j = nlohmann::json::parse(archive_summary_json, nullptr, false);
    if (!j.is_object() || !j.contains("exclusions") || !j.at("exclusions").is_array()) return out;
    for (const auto& x : j.at("exclusions")) {
        if (!x.is_object() || !x.contains("pattern") || !x.at("pattern").is_string()) continue;
        tarball::Exclusion e;
        e.pattern = x.at("pattern").get<std::string>();
        if (x.contains("files") && x.at("files").is_number_unsigned())
            e.files = x.at("files").get<std::uint64_t>();
        if (x.contains("bytes") && x.at("bytes").is_number_unsigned())
            e.bytes = x.at("bytes").get<std::uint64_t>();
        out.push_back(std::move(e));
    }
    return out;
}

namespace detail {

std::vector<std::string> volatile_tables(const Config& config) {
    auto v = config.profile.volatile_tables;
    if (config.db)
        v.insert(v.end(), config.db->extra_volatile_tables.begin(),
                 config.db->extra_volatile_tables.end());
    return v;
}

std::vector<std::string> document_excludes(const Config& config) {
    auto v = config.profile.document_excludes;
    if (config.docs)
        v.insert(v.end(), config.docs->extra_excludes.begin(), config.docs->extra_excludes.end());
    return v;
}

}  // namespace detail

std::unique_ptr<catalog::Lease> Job::Impl::lock() {
    catalog::LeaseOptions o;
    o.ttl = config.lock_ttl;
    o.warn = [this](const std::string& m) { warn("", m); };
    return std::make_unique<catalog::Lease>(store(), now(), std::move(o));
}

DriverContext Job::Impl::context(const std::string& half) {
    DriverContext c;
    c.info = [this, half](const std::string& m) { info(half, m); };
    c.warn = [this, half](const std::string& m) { warn(half, m); };
    c.cancel = config.cancel;
    if (config.encryption.enabled()) c.encrypt_to = recipients();
    c.identities = [this](const std::string& what) -> const io::AgeIdentities& {
        return identities(what);
    };
    return c;
}

namespace detail {

bool same_database(const pgdump::ConnectionParams& a, const pgdump::ConnectionParams& b) {
    auto local = [](const std::string& h) {
        return h.empty() || h.front() == '/' || h == "localhost" || h == "127.0.0.1" || h == "::1";
    };
    const bool same_host = a.host == b.host || (local(a.host) && local(b.host));
    return same_host && a.port == b.port && a.dbname == b.dbname;
}

}  // namespace detail

pgdump::ProofOptions Job::Impl::proof(const pgdump::ProofOptions& given) const {
    pgdump::ProofOptions p = given;
    if (!p.table_pattern) p.table_pattern = config.profile.table_like_pattern();
    if (!p.min_tables) p.min_tables = config.profile.min_restored_tables;
    return p;
}

namespace {

void validate(const Config& config) {
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
}

}  // namespace

Job::Job(Config config) : impl_(std::make_unique<Impl>()) {
    validate(config);
    impl_->config = std::move(config);
    impl_->owned_env = Env::real(impl_->config);
    impl_->env = impl_->owned_env.get();
    auto* im = impl_.get();
    impl_->catalog = std::make_unique<catalog::Catalog>(
        impl_->env->store(), [im](const std::string& m) { im->warn("", m); });
}

Job::Job(Config config, Env& env) : impl_(std::make_unique<Impl>()) {
    validate(config);
    impl_->config = std::move(config);
    impl_->env = &env;
    auto* im = impl_.get();
    impl_->catalog = std::make_unique<catalog::Catalog>(
        env.store(), [im](const std::string& m) { im->warn("", m); });
}

Job::~Job() = default;
Job::Job(Job&&) noexcept = default;
Job& Job::operator=(Job&&) noexcept = default;

const Config& Job::config() const noexcept {
    return impl_->config;
}
store::Store& Job::store() {
    return impl_->store();
}
Env& Job::env() {
    return *impl_->env;
}

ListReport Job::list() {
    auto listing = impl_->catalog->scan(catalog::Catalog::Load::all, true);
    // Why each run is kept: the plan a prune would make now (forced, so that an unreadable
    // manifest is kept rather than refused; it only reads what the listing holds).
    try {
        const auto pp = catalog::plan_prune(listing, impl_->now(), impl_->config.retention, true);
        std::map<std::string, catalog::RunEntry*> by_manifest;
        for (auto& run : listing.runs) by_manifest[run.manifest_key] = &run;
        for (const auto& d : pp.plan.decisions) {
            const std::string key(pp.plan.backup(d).key);
            const auto hash = key.rfind('#');
            if (hash == std::string::npos) continue;  // an old script's object
            const auto run = by_manifest.find(key.substr(0, hash));
            if (run == by_manifest.end()) continue;
            auto& r = run->second->retention[key.substr(hash + 1)];
            r.keep = d.keep;
            for (const auto reason : d.reasons)
                r.reasons.emplace_back(retention::to_string(reason));
            r.detail = pp.plan.detail(d);
        }
    } catch (const Cancelled&) {
        throw;
    } catch (const Error& e) {
        impl_->warn("", std::string("retention not planned for the listing: ") + e.what());
    }
    return listing;
}

}  // namespace dolibak::job
