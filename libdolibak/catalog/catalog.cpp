// The catalog: the store's history read and written (see catalog.hpp).
#include <dolibak/catalog/catalog.hpp>

#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/version.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

namespace dolibak::catalog {

using nlohmann::json;

namespace {
constexpr std::size_t max_small_object = 16 * 1024 * 1024;
}

std::string fingerprint_key(const std::string& half) {
    return ".fp-" + half;
}

std::string StoredFingerprint::to_json() const {
    json j = {{"version", 1},     {"half", half},     {"fingerprint", value},
              {"mode", mode},     {"object", object}, {"time", format_timestamp(time)},
              {"sha256", sha256}, {"bytes", bytes}};
    if (tables) {
        j["tables"] = *tables;
        j["schema_digest"] = schema_digest;
    }
    if (!state.empty()) j["precheck"] = json::parse(state);
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
    // Per-table digests: optional (older fingerprints have none); when present, every value
    // must be a string, else the whole fingerprint is refused rather than half-trusted.
    if (j.contains("tables")) {
        const auto& t = j["tables"];
        if (!t.is_object()) throw FormatError("stored fingerprint: \"tables\" must be an object");
        std::map<std::string, std::string> tables;
        for (const auto& [name, digest] : t.items()) {
            if (!digest.is_string())
                throw FormatError("stored fingerprint: tables." + name + " must be a string");
            tables.emplace(name, digest.get<std::string>());
        }
        f.tables = std::move(tables);
        if (j.contains("schema_digest") && j["schema_digest"].is_string())
            f.schema_digest = j["schema_digest"].get<std::string>();
    }
    // The pre-check state is read by its user (fingerprint/db), which ignores one it cannot
    // read: only an object is kept.
    if (j.contains("precheck") && j["precheck"].is_object()) f.state = j["precheck"].dump();
    return f;
}

std::optional<Verification> parse_verification(std::string_view text) {
    try {
        const auto j = json::parse(text);
        if (j.value("format", 0) != 1) return std::nullopt;
        Verification v;
        v.run = parse_timestamp(j.at("run").get<std::string>());
        v.at = parse_rfc3339(j.at("verified_at").get<std::string>());
        for (const auto& o : j.at("report").at("objects"))
            v.objects.emplace_back(o.at("key").get<std::string>(), o.at("ok").get<bool>());
        return v;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

Catalog::Catalog(store::Store& store, Warn warn) : store_(store), warn_(std::move(warn)) {}

Manifest Catalog::load_manifest(const std::string& key) {
    try {
        return Manifest::from_json(store_.get_bytes(key, max_small_object));
    } catch (Error& e) {
        e.with_context("reading manifest " + key);
        throw;
    }
}

std::string Catalog::publish_manifest(const Manifest& manifest) {
    const std::string key = make_store_key("", ObjectKind::manifest, manifest.time);
    store::PutOptions po;
    po.no_overwrite = true;
    po.content_type = "application/json";
    const std::string text = manifest.to_json();
    try {
        store_.put_bytes(key, text, po);
    } catch (const store::AlreadyExists&) {
        throw;
    } catch (const Error&) {
        // The answer may have been lost after the store applied the put: then the run is
        // published, and says so.
        std::string back;
        try {
            back = store_.get_bytes(key, max_small_object);
        } catch (const Error&) {
        }
        if (back != text) throw;
        if (warn_) warn_("the store's answer to " + key + " was lost; the manifest is there");
    }
    return key;
}

void Catalog::mark(TimePoint now) {
    if (store_.head(marker_key)) return;
    store::PutOptions po;
    po.no_overwrite = true;
    po.content_type = "application/json";
    const json j = {{"format", 1}, {"since", format_timestamp(now)}, {"tool", "dolibak"}};
    try {
        store_.put_bytes(marker_key, j.dump() + "\n", po);
    } catch (const store::AlreadyExists&) {
    }
}

std::optional<TimePoint> Catalog::marked_since() {
    try {
        const auto j = json::parse(store_.get_bytes(marker_key, 64 * 1024));
        return parse_timestamp(j.at("since").get<std::string>());
    } catch (const store::ObjectNotFound&) {
        return std::nullopt;
    } catch (const std::exception& e) {
        if (warn_) warn_(std::string("the store's marker cannot be read: ") + e.what());
        return std::nullopt;
    }
}

std::optional<StoredFingerprint> Catalog::fingerprint(const std::string& half) {
    const std::string key = fingerprint_key(half);
    std::string text;
    try {
        // The database's carries its pre-check state: ~200 bytes a table.
        text = store_.get_bytes(key, max_small_object);
    } catch (const store::ObjectNotFound&) {
        return std::nullopt;
    }
    try {
        return StoredFingerprint::from_json(text);
    } catch (const Error& e) {
        if (warn_) warn_(std::string("stored fingerprint ignored: ") + e.what());
        return std::nullopt;
    }
}

void Catalog::store_fingerprint(const StoredFingerprint& fp) {
    store::PutOptions po;
    po.content_type = "application/json";
    store_.put_bytes(fingerprint_key(fp.half), fp.to_json(), po);
}

std::string Catalog::record_verification(TimePoint run, TimePoint at, bool ok,
                                         const std::string& report_json) {
    const json j = {{"format", 1},
                    {"run", format_timestamp(run)},
                    {"verified_at", format_rfc3339(at)},
                    {"tool_version", std::string(dolibak::version())},
                    {"report", json::parse(report_json)}};
    // The outcome is in the name, so that `list` knows it without reading the record.
    const std::string key =
        make_store_key("", ok ? ObjectKind::verified_ok : ObjectKind::verified_failed, run);
    store::PutOptions po;
    po.content_type = "application/json";
    store_.put_bytes(key, j.dump() + "\n", po);
    // Only the newest record of a run stays.
    for (const auto kind :
         {ObjectKind::verified_failed, ObjectKind::verified_ok, ObjectKind::verification}) {
        const auto other = make_store_key("", kind, run);
        if (other == key) continue;
        try {
            store_.remove(other);
        } catch (const Error& e) {
            if (warn_) warn_("an older verification record stays: " + std::string(e.what()));
        }
    }
    return key;
}

Listing Catalog::scan(Load load, bool verifications) {
    Listing r;
    std::vector<store::ObjectInfo> manifests;
    for (auto& o : store_.list("")) {
        const auto k = parse_store_key(o.key);
        if (!k || !k->prefix.empty()) {
            r.other.push_back(std::move(o));
            continue;
        }
        if (k->kind == ObjectKind::manifest) {
            manifests.push_back(o);
            continue;
        }
        if (is_verification_record(k->kind)) {
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
    const std::size_t wanted = load == Load::all      ? manifests.size()
                               : load == Load::newest ? std::min<std::size_t>(1, manifests.size())
                                                      : 0;
    for (std::size_t i = 0; i < manifests.size(); ++i) {
        RunEntry run;
        run.manifest_key = manifests[i].key;
        run.time = parse_store_key(run.manifest_key)->time;
        if (i + wanted >= manifests.size()) {  // the newest `wanted` ones
            try {
                run.manifest = load_manifest(run.manifest_key);
                run.loaded = true;
            } catch (const Error& e) {
                run.error = e.what();
                if (warn_) warn_(std::string("unreadable manifest: ") + e.what());
            }
        }
        r.runs.push_back(std::move(run));
    }
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
    if (verifications) {
        // The newest verification of each object wins.
        std::map<std::string, BackupEntry::Verified> verified;
        std::map<TimePoint, const RunEntry*> runs_by_time;
        for (const auto& run : r.runs)
            if (run.loaded) runs_by_time[run.time] = &run;
        for (const auto& o : r.verifications) {
            const auto k = parse_store_key(o.key);
            // An all-ok record of a run whose manifest is loaded says enough by its name: every
            // object the manifest names was verified, when the record was written.
            if (k && k->kind == ObjectKind::verified_ok && runs_by_time.count(k->time)) {
                const TimePoint at = std::chrono::floor<std::chrono::seconds>(o.modified);
                for (const auto& key : runs_by_time[k->time]->manifest.keys()) {
                    auto& slot = verified[key];
                    if (slot.at <= at) slot = {at, true, k->time};
                }
                continue;
            }
            std::optional<Verification> v;
            try {
                v = parse_verification(store_.get_bytes(o.key, max_small_object));
            } catch (const Error& e) {
                if (warn_)
                    warn_("unreadable verification record " + o.key + " ignored: " + e.what());
                continue;
            }
            if (!v) {
                if (warn_) warn_("verification record " + o.key + " not understood: ignored");
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

BackupEntry Catalog::find_backup(const Listing& listing, const std::string& half,
                                 const std::string& which, TimePoint now) {
    const std::optional<TimePoint> named = parse_run_name(which);
    if (!named) {
        for (auto it = listing.backups.rbegin(); it != listing.backups.rend(); ++it) {
            if (it->half != half) continue;
            if (is_future(it->time, now)) {
                if (warn_)
                    warn_(it->key + " is stamped in the future (" + format_timestamp(it->time) +
                          ", now " + format_timestamp(now) +
                          "): a wrong clock? not taken as the latest");
                continue;
            }
            return *it;
        }
        throw ConfigError("no " + half + " backup in " + store_.url());
    }
    const TimePoint t = *named;
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
    throw ConfigError("no " + half + " backup at " + which + " in " + store_.url() +
                      " (dolibak list shows what there is)");
}

std::optional<ManifestHalf> Catalog::recorded_half(const Listing& listing,
                                                   const BackupEntry& entry) {
    // The run that uploads an object has the object's time stamp.
    for (const auto& run : listing.runs) {
        if (run.time != entry.time) continue;
        try {
            const Manifest m = run.loaded ? run.manifest : load_manifest(run.manifest_key);
            auto it = m.halves.find(entry.half);
            if (it != m.halves.end() && it->second.key == entry.key) return it->second;
        } catch (const Error& e) {
            if (warn_)
                warn_(std::string("manifest unreadable, using the object without its digest: ") +
                      e.what());
        }
    }
    return std::nullopt;
}

}  // namespace dolibak::catalog
