// The job's reports as JSON (see include/dolibak/job/report.hpp).
#include <dolibak/job/report.hpp>
#include <dolibak/pgdump/archive.hpp>

#include <nlohmann/json.hpp>

#include <map>

namespace dolibak::job {

using nlohmann::json;

namespace {

std::string dump(const json& j) {
    return j.dump(2);
}

// The major version of each document's shape (docs/json.md); bumped only by a change that
// could break a reader.
const std::map<std::string, int, std::less<>>& majors() {
    static const std::map<std::string, int, std::less<>> m = {
        {"backup", 1},     {"prune", 1},        {"list", 1},        {"verify", 1},
        {"restore-db", 1}, {"restore-docs", 1}, {"status", 1},      {"check", 1},
        {"refresh", 1},    {"log", 1},          {"notification", 1}};
    return m;
}

// A document: its "schema" first, then `fields`.
json document(std::string_view kind, json fields) {
    json j = {{"schema", schema_id(kind)}};
    j.update(fields);
    return j;
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

json table_changes_json(const std::optional<TableChanges>& c) {
    if (!c) return nullptr;
    return {{"known", c->known},
            {"schema_changed", c->schema_changed},
            {"changed", c->changed},
            {"added", c->added},
            {"removed", c->removed}};
}

json half_json(const HalfReport& h) {
    return {{"half", h.half},
            {"table_changes", table_changes_json(h.table_changes)},
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

json packs_json(const std::optional<PacksCollection>& c) {
    if (!c) return nullptr;
    json deleted = json::array();
    for (const auto& p : c->deleted) deleted.push_back({{"key", p.key}, {"bytes", p.bytes}});
    json repacked = json::array();
    for (const auto& p : c->repacked)
        repacked.push_back({{"key", p.key}, {"bytes", p.bytes}, {"live", p.live}});
    return {{"indexes", c->indexes},
            {"deleted", deleted},
            {"deleted_bytes", c->deleted_bytes()},
            {"repacked", repacked},
            {"repacked_bytes", c->repacked_bytes()},
            {"repacked_live_bytes", c->repacked_live_bytes()},
            {"records_deleted", c->records_deleted},
            {"written", c->written},
            {"bytes_written", c->bytes_written},
            {"kept_bytes", c->kept_bytes},
            {"problems", c->problems}};
}

json prune_json(const PruneReport& r) {
    json decisions = json::array();
    for (const auto& d : r.plan.decisions) {
        const auto b = r.plan.backup(d).to_backup();
        json reasons = json::array();
        for (const auto reason : d.reasons)
            reasons.push_back(std::string(retention::to_string(reason)));
        const auto object = r.objects.find(b.key);
        decisions.push_back({{"key", b.key},
                             {"object", object != r.objects.end() ? object->second : ""},
                             {"half", b.half},
                             {"time", time_json(b.time)},
                             {"ok", b.ok},
                             {"keep", d.keep},
                             {"reasons", reasons},
                             {"detail", r.plan.detail(d)}});
    }
    json failures = json::array();
    for (const auto& f : r.failures) failures.push_back({{"key", f.key}, {"message", f.message}});
    return {{"dry_run", r.dry_run},         {"kept", r.plan.kept()},
            {"dropped", r.plan.dropped()},  {"decisions", decisions},
            {"deleted", r.deleted},         {"failures", failures},
            {"packs", packs_json(r.packs)}, {"packs_error", r.packs_error}};
}

// A run's summary: when, its result, and per half what it stored or found unchanged; the whole
// manifest only when asked for.
json run_json(const RunEntry& run, const JsonOptions& options) {
    json j = {{"time", time_json(run.time)},
              {"ts", run.time == TimePoint{} ? json(nullptr) : json(format_timestamp(run.time))},
              {"manifest_key", run.manifest_key},
              {"loaded", run.loaded},
              {"error", run.error}};
    if (!run.loaded) {
        for (const char* f : {"succeeded", "result", "started_at", "finished_at",
                              "duration_seconds", "tool_version", "profile"})
            j[f] = nullptr;
        j["uploaded_bytes"] = 0;
        j["halves"] = json::object();
        return j;
    }
    const auto& m = run.manifest;
    j["succeeded"] = m.succeeded();
    j["result"] = m.succeeded() ? "success" : "failed";
    j["started_at"] = time_json(m.started_at);
    j["finished_at"] = time_json(m.finished_at);
    j["duration_seconds"] =
        m.finished_at >= m.started_at && m.finished_at != TimePoint{}
            ? json(std::chrono::duration<double>(m.finished_at - m.started_at).count())
            : json(nullptr);
    j["tool_version"] = m.tool_version;
    j["profile"] = m.profile;
    std::uint64_t uploaded = 0;
    json halves = json::object();
    for (const auto& [name, h] : m.halves) {
        if (h.status == catalog::ManifestHalf::Status::uploaded) uploaded += h.bytes;
        json retention = nullptr;  // what a prune would decide now (list only)
        if (const auto r = run.retention.find(name); r != run.retention.end())
            retention = {{"keep", r->second.keep},
                         {"reasons", r->second.reasons},
                         {"detail", r->second.detail}};
        halves[name] = {
            {"status", std::string(catalog::to_string(h.status))},
            {"key", h.key},
            {"bytes", h.bytes},
            {"sha256", h.sha256},
            {"format", h.format},
            {"seconds", h.duration_seconds},
            {"error", h.error},
            {"exclusions", exclusions_json(recorded_exclusions(h.archive_summary_json))},
            {"retention", retention}};
    }
    j["uploaded_bytes"] = uploaded;
    j["halves"] = halves;
    if (options.manifests) j["manifest"] = json::parse(m.to_json());
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

std::string schema_id(std::string_view kind) {
    const auto it = majors().find(kind);
    return "dolibak." + std::string(kind) + "/" +
           std::to_string(it != majors().end() ? it->second : 1);
}

std::string to_json(const BackupReport& r) {
    json halves = json::array();
    for (const auto& h : r.halves) halves.push_back(half_json(h));
    json j = document("backup", {{"time", time_json(r.time)},
                                 {"ok", r.ok()},
                                 {"halves", halves},
                                 {"manifest_key", r.manifest_key},
                                 {"seconds", r.seconds},
                                 {"prune_requested", r.prune_requested},
                                 {"prune", r.prune ? prune_json(*r.prune) : json(nullptr)}});
    if (!r.prune_error.empty()) j["prune_error"] = r.prune_error;
    return dump(j);
}

std::string to_json(const PruneReport& r) {
    return dump(document("prune", prune_json(r)));
}

std::string to_json(const ListReport& r, const JsonOptions& options) {
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
    for (const auto& run : r.runs) runs.push_back(run_json(run, options));
    json other = json::array();
    for (const auto& o : r.other) other.push_back({{"key", o.key}, {"size", o.size}});
    return dump(document("list", {{"backups", backups}, {"runs", runs}, {"other", other}}));
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
    return dump(document("verify", {{"time", time_json(r.time)},
                                    {"ok", r.ok()},
                                    {"quick", r.quick},
                                    {"objects", objects},
                                    {"record_key", r.record_key}}));
}

std::string to_json(const pgdump::RestoreReport& r) {
    return dump(document("restore-db", restore_json(r)));
}

std::string to_json(const DocsRestoreReport& r) {
    return dump(document("restore-docs", {{"key", r.key},
                                          {"summary", extract_json(r.summary)},
                                          {"missing_required", r.missing_required}}));
}

std::string to_json(const StatusReport& r, const JsonOptions& options) {
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
    return dump(document(
        "status",
        {{"stale", r.stale},
         {"reason", r.reason},
         {"future_runs", future},
         {"halves", halves},
         {"last_verification", verification},
         {"age_seconds", r.age_seconds ? json(*r.age_seconds) : json(nullptr)},
         {"last_run", r.last_run ? run_json(*r.last_run, options) : json(nullptr)},
         {"last_success", r.last_success ? run_json(*r.last_success, options) : json(nullptr)}}));
}

std::string to_json(const CheckReport& r) {
    json items = json::array();
    for (const auto& i : r.items)
        items.push_back({{"name", i.name}, {"ok", i.ok}, {"detail", i.detail}});
    return dump(document("check", {{"ok", r.ok()}, {"items", items}}));
}

std::string to_json(const RefreshReport& r) {
    return dump(document("refresh", {{"restore", restore_json(r.restore)},
                                     {"docs", r.docs ? extract_json(*r.docs) : json(nullptr)},
                                     {"post_hook_exit", r.post_hook_exit}}));
}

std::string to_json(const TableChanges& c) {
    return table_changes_json(c).dump();
}

LogRecord log_record(const Event& e, TimePoint time) {
    LogRecord r;
    r.time = time;
    r.level = e.kind == Event::Kind::warning ? "warning" : "info";
    r.message = e.message;
    r.half = e.half;
    r.key = e.key;
    r.bytes = e.size;
    r.seconds = e.seconds;
    r.outcome = e.outcome;
    return r;
}

std::string to_json_line(const LogRecord& r) {
    json j = document(
        "log", {{"time", format_rfc3339(r.time)}, {"level", r.level}, {"message", r.message}});
    if (!r.half.empty()) j["half"] = r.half;
    if (!r.key.empty()) j["key"] = r.key;
    if (r.bytes) j["bytes"] = *r.bytes;
    if (r.seconds) j["seconds"] = *r.seconds;
    if (!r.outcome.empty()) j["outcome"] = r.outcome;
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace dolibak::job
