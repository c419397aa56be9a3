// The job's reports as JSON (see include/dolibak/job/report.hpp).
#include <dolibak/job/report.hpp>
#include <dolibak/pgdump/archive.hpp>

#include <nlohmann/json.hpp>

namespace dolibak::job {

using nlohmann::json;

namespace {

std::string dump(const json& j) {
    return j.dump(2);
}

json time_json(TimePoint t) {
    if (t == TimePoint{}) return nullptr;
    return format_rfc3339(t);
}

json parsed_or_null(const std::string& text) {
    if (text.empty()) return nullptr;
    try {
        return json::parse(text);
    } catch (const json::exception&) {
        return text;
    }
}

json exclusions_json(const std::vector<tarball::Exclusion>& xs) {
    json out = json::array();
    for (const auto& x : xs)
        out.push_back({{"pattern", x.pattern}, {"files", x.files}, {"bytes", x.bytes}});
    return out;
}

json half_json(const HalfReport& h) {
    return {{"half", h.half},
            {"exclusions", exclusions_json(h.exclusions)},
            {"outcome", std::string(to_string(h.outcome))},
            {"key", h.key},
            {"bytes", h.bytes},
            {"sha256", h.sha256},
            {"seconds", h.seconds},
            {"fingerprint", h.fingerprint},
            {"reason", h.reason},
            {"error", h.error}};
}

json prune_json(const PruneReport& r) {
    json decisions = json::array();
    for (const auto& d : r.plan.decisions) {
        json reasons = json::array();
        for (const auto reason : d.reasons)
            reasons.push_back(std::string(retention::to_string(reason)));
        const auto object = r.objects.find(d.backup.key);
        decisions.push_back({{"key", d.backup.key},
                             {"object", object != r.objects.end() ? object->second : ""},
                             {"half", d.backup.half},
                             {"time", time_json(d.backup.time)},
                             {"ok", d.backup.ok},
                             {"keep", d.keep},
                             {"reasons", reasons},
                             {"detail", d.detail}});
    }
    json failures = json::array();
    for (const auto& f : r.failures) failures.push_back({{"key", f.key}, {"message", f.message}});
    return {{"dry_run", r.dry_run},   {"kept", r.plan.kept()}, {"dropped", r.plan.dropped()},
            {"decisions", decisions}, {"deleted", r.deleted},  {"failures", failures}};
}

json run_json(const RunEntry& run) {
    json j = {
        {"time", time_json(run.time)}, {"manifest_key", run.manifest_key}, {"loaded", run.loaded}};
    if (run.loaded) {
        j["succeeded"] = run.manifest.succeeded();
        j["manifest"] = json::parse(run.manifest.to_json());
    }
    return j;
}

json restore_json(const pgdump::RestoreReport& r) {
    json tables = json::array();
    for (const auto& t : r.tables)
        tables.push_back(
            {{"schema", t.schema},
             {"name", t.name},
             {"expected_rows", t.expected_rows ? json(*t.expected_rows) : json(nullptr)},
             {"actual_rows", t.actual_rows ? json(*t.actual_rows) : json(nullptr)}});
    return {{"pg_restore_exit", r.pg_restore_exit},
            {"pg_restore_stderr", r.pg_restore_stderr},
            {"pattern_tables", r.pattern_tables},
            {"rows_matched", r.rows_matched()},
            {"present_only", r.present_only()},
            {"safety_dump", r.safety_dump ? json(r.safety_dump->string()) : json(nullptr)},
            {"tables", tables},
            {"archive", parsed_or_null(pgdump::summary_json(r.archive, false))}};
}

json extract_json(const tarball::ExtractSummary& s) {
    return {{"entries", s.entries},
            {"files", s.files},
            {"directories", s.directories},
            {"symlinks", s.symlinks},
            {"hardlinks", s.hardlinks},
            {"skipped", s.skipped},
            {"modes_normalised", s.modes_normalised},
            {"content_bytes", s.content_bytes}};
}

}  // namespace

std::string to_json(const BackupReport& r) {
    json halves = json::array();
    for (const auto& h : r.halves) halves.push_back(half_json(h));
    json j = {{"time", time_json(r.time)},
              {"ok", r.ok()},
              {"halves", halves},
              {"manifest_key", r.manifest_key},
              {"seconds", r.seconds},
              {"prune_requested", r.prune_requested},
              {"prune", r.prune ? prune_json(*r.prune) : json(nullptr)}};
    if (!r.prune_error.empty()) j["prune_error"] = r.prune_error;
    return dump(j);
}

std::string to_json(const PruneReport& r) {
    return dump(prune_json(r));
}

std::string to_json(const ListReport& r) {
    json backups = json::array();
    for (const auto& b : r.backups)
        backups.push_back({{"half", b.half},
                           {"time", time_json(b.time)},
                           {"key", b.key},
                           {"size", b.size},
                           {"has_manifest", b.has_manifest},
                           {"sha256", b.sha256},
                           {"verified", b.verified ? json{{"at", time_json(b.verified->at)},
                                                          {"ok", b.verified->ok},
                                                          {"run", time_json(b.verified->run)}}
                                                   : json(nullptr)}});
    json runs = json::array();
    for (const auto& run : r.runs) runs.push_back(run_json(run));
    json other = json::array();
    for (const auto& o : r.other) other.push_back({{"key", o.key}, {"size", o.size}});
    return dump({{"backups", backups}, {"runs", runs}, {"other", other}});
}

std::string to_json(const VerifyReport& r) {
    json objects = json::array();
    for (const auto& o : r.objects)
        objects.push_back({{"key", o.key},
                           {"half", o.half},
                           {"ok", o.ok},
                           {"bytes", o.bytes},
                           {"sha256", o.sha256},
                           {"problem", o.problem},
                           {"exclusions", exclusions_json(o.exclusions)}});
    return dump({{"time", time_json(r.time)},
                 {"ok", r.ok()},
                 {"objects", objects},
                 {"record_key", r.record_key}});
}

std::string to_json(const pgdump::RestoreReport& r) {
    return dump(restore_json(r));
}

std::string to_json(const DocsRestoreReport& r) {
    return dump({{"key", r.key},
                 {"summary", extract_json(r.summary)},
                 {"missing_required", r.missing_required}});
}

std::string to_json(const StatusReport& r) {
    json future = json::array();
    for (const auto t : r.future_runs) future.push_back(time_json(t));
    json halves = json::array();
    for (const auto& h : r.halves)
        halves.push_back({{"half", h.half},
                          {"last_success", h.last_success ? time_json(*h.last_success) : json()},
                          {"age_seconds", h.age_seconds ? json(*h.age_seconds) : json()},
                          {"stale", h.stale},
                          {"reason", h.reason}});
    json verification = nullptr;
    if (r.last_verification)
        verification = {{"run", time_json(r.last_verification->run)},
                        {"at", time_json(r.last_verification->at)},
                        {"ok", r.last_verification->ok},
                        {"age_seconds", r.last_verification->age_seconds}};
    return dump({{"stale", r.stale},
                 {"reason", r.reason},
                 {"future_runs", future},
                 {"halves", halves},
                 {"last_verification", verification},
                 {"age_seconds", r.age_seconds ? json(*r.age_seconds) : json(nullptr)},
                 {"last_run", r.last_run ? run_json(*r.last_run) : json(nullptr)},
                 {"last_success", r.last_success ? run_json(*r.last_success) : json(nullptr)}});
}

std::string to_json(const CheckReport& r) {
    json items = json::array();
    for (const auto& i : r.items)
        items.push_back({{"name", i.name}, {"ok", i.ok}, {"detail", i.detail}});
    return dump({{"ok", r.ok()}, {"items", items}});
}

std::string to_json(const RefreshReport& r) {
    return dump({{"restore", restore_json(r.restore)},
                 {"docs", r.docs ? extract_json(*r.docs) : json(nullptr)},
                 {"post_hook_exit", r.post_hook_exit}});
}

}  // namespace dolibak::job
