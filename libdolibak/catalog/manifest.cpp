// Manifests: JSON form and strict parsing.
#include <dolibak/catalog/manifest.hpp>
#include <dolibak/core/error.hpp>

#include <nlohmann/json.hpp>

#include <cmath>

namespace dolibak::catalog {
namespace {

using nlohmann::json;

constexpr const char* schema_name = "dolibak-manifest";

[[noreturn]] void bad(const std::string& field, const std::string& why) {
    throw FormatError("manifest: " + field + ": " + why);
}

const json& field(const json& obj, const std::string& path, const char* name) {
    const auto it = obj.find(name);
    if (it == obj.end()) bad(path + name, "missing");
    return *it;
}

std::string get_string(const json& obj, const std::string& path, const char* name,
                       bool required = true) {
    if (!required && !obj.contains(name)) return {};
    const json& v = field(obj, path, name);
    if (!v.is_string()) bad(path + name, "must be a string");
    return v.get<std::string>();
}

TimePoint get_time(const json& obj, const std::string& path, const char* name, bool compact) {
    const auto s = get_string(obj, path, name);
    try {
        return compact ? parse_timestamp(s) : parse_rfc3339(s);
    } catch (const ConfigError& e) {
        bad(path + name, e.what());
    }
}

std::string get_object_text(const json& obj, const std::string& path, const char* name) {
    if (!obj.contains(name) || obj.at(name).is_null()) return {};
    const json& v = obj.at(name);
    if (!v.is_object()) bad(path + name, "must be a JSON object or null");
    return v.dump();
}

json object_or_null(const std::string& text, const char* what) {
    if (text.empty()) return nullptr;
    json v;
    try {
        v = json::parse(text);
    } catch (const json::parse_error& e) {
        throw FormatError(std::string("manifest: ") + what + " is not valid JSON: " + e.what());
    }
    if (!v.is_object()) throw FormatError(std::string("manifest: ") + what + " must be an object");
    return v;
}

bool is_hex64(const std::string& s) {
    if (s.size() != 64) return false;
    for (const char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

ManifestHalf::Status status_from(const std::string& s, const std::string& path) {
    if (s == "uploaded") return ManifestHalf::Status::uploaded;
    if (s == "unchanged") return ManifestHalf::Status::unchanged;
    if (s == "failed") return ManifestHalf::Status::failed;
    if (s == "skipped") return ManifestHalf::Status::skipped;
    bad(path + "status", "'" + s + "' is not one of uploaded, unchanged, failed, skipped");
}

bool names_object(ManifestHalf::Status s) {
    return s == ManifestHalf::Status::uploaded || s == ManifestHalf::Status::unchanged;
}

void check_half(const ManifestHalf& h, const std::string& path) {
    if (names_object(h.status)) {
        if (h.key.empty())
            bad(path + "key", "required when the half is " + std::string(to_string(h.status)));
        if (!is_hex64(h.sha256)) bad(path + "sha256", "must be 64 lower-case hex digits");
    } else if (!h.sha256.empty() && !is_hex64(h.sha256)) {
        bad(path + "sha256", "must be 64 lower-case hex digits or empty");
    }
    if (h.status == ManifestHalf::Status::failed && h.error.empty())
        bad(path + "error", "required when the half failed");
    if (!(h.duration_seconds >= 0) || !std::isfinite(h.duration_seconds))
        bad(path + "duration_seconds", "must be a finite number >= 0");
}

}  // namespace

std::string_view to_string(ManifestHalf::Status s) noexcept {
    switch (s) {
        case ManifestHalf::Status::uploaded:
            return "uploaded";
        case ManifestHalf::Status::unchanged:
            return "unchanged";
        case ManifestHalf::Status::failed:
            return "failed";
        case ManifestHalf::Status::skipped:
            return "skipped";
    }
    return "?";
}

bool Manifest::succeeded() const noexcept {
    for (const auto& [name, h] : halves)
        if (h.status == ManifestHalf::Status::failed) return false;
    return true;
}

std::vector<std::string> Manifest::keys() const {
    std::vector<std::string> out;
    for (const auto& [name, h] : halves)
        if (names_object(h.status) && !h.key.empty()) out.push_back(h.key);
    return out;
}

std::string Manifest::to_json() const {
    if (halves.empty()) throw FormatError("manifest: halves: at least one half is required");
    json halves_json = json::object();
    for (const auto& [name, h] : halves) {
        check_half(h, "halves." + name + ".");
        halves_json[name] = {
            {"status", std::string(to_string(h.status))},
            {"key", h.key},
            {"bytes", h.bytes},
            {"sha256", h.sha256},
            {"format", h.format},
            {"archive_summary", object_or_null(h.archive_summary_json, "archive_summary")},
            {"fingerprint", object_or_null(h.fingerprint_json, "fingerprint")},
            {"tool_version", h.tool_version},
            {"server_version", h.server_version},
            {"duration_seconds", h.duration_seconds},
            {"error", h.error},
        };
        // Only an encrypted half has them: a plain manifest stays as it was.
        if (!h.encryption.empty()) halves_json[name]["encryption"] = h.encryption;
        if (!h.archive_summary_sealed.empty())
            halves_json[name]["archive_summary_sealed"] = h.archive_summary_sealed;
    }
    const json j = {
        {"schema", schema_name},
        {"version", version},
        {"ts", format_timestamp(time)},
        {"started_at", format_rfc3339(started_at)},
        {"finished_at", format_rfc3339(finished_at)},
        {"duration_seconds", (finished_at - started_at).count()},
        {"tool", {{"name", "dolibak"}, {"version", tool_version}}},
        {"profile", profile},
        {"result", succeeded() ? "success" : "failed"},
        {"halves", halves_json},
    };
    return j.dump() + "\n";
}

Manifest Manifest::from_json(std::string_view text) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        throw FormatError(std::string("manifest: not valid JSON: ") + e.what(), e.byte);
    }
    if (!j.is_object()) bad("(top level)", "must be a JSON object");
    if (get_string(j, "", "schema") != schema_name)
        bad("schema", "expected '" + std::string(schema_name) + "'");
    const json& v = field(j, "", "version");
    if (!v.is_number_integer()) bad("version", "must be an integer");
    Manifest m;
    m.version = v.get<int>();
    if (m.version < 1) bad("version", "must be >= 1");
    if (m.version > current_version)
        bad("version", std::to_string(m.version) + " is newer than this dolibak understands (" +
                           std::to_string(current_version) + "); upgrade dolibak");
    m.time = get_time(j, "", "ts", true);
    m.started_at = get_time(j, "", "started_at", false);
    m.finished_at = get_time(j, "", "finished_at", false);
    if (m.finished_at < m.started_at) bad("finished_at", "is before started_at");
    const json& tool = field(j, "", "tool");
    if (!tool.is_object()) bad("tool", "must be an object");
    m.tool_version = get_string(tool, "tool.", "version");
    m.profile = get_string(j, "", "profile", false);
    const json& halves = field(j, "", "halves");
    if (!halves.is_object() || halves.empty()) bad("halves", "must be a non-empty object");
    for (const auto& [name, hj] : halves.items()) {
        const std::string path = "halves." + name + ".";
        if (!hj.is_object()) bad("halves." + name, "must be an object");
        ManifestHalf h;
        h.status = status_from(get_string(hj, path, "status"), path);
        h.key = get_string(hj, path, "key", false);
        if (hj.contains("bytes")) {
            const json& b = hj.at("bytes");
            if (!b.is_number_unsigned() && !(b.is_number_integer() && b.get<std::int64_t>() >= 0))
                bad(path + "bytes", "must be a non-negative integer");
            h.bytes = b.get<std::uint64_t>();
        } else if (names_object(h.status)) {
            bad(path + "bytes", "missing");
        }
        h.sha256 = get_string(hj, path, "sha256", names_object(h.status));
        h.format = get_string(hj, path, "format", false);
        h.archive_summary_json = get_object_text(hj, path, "archive_summary");
        h.fingerprint_json = get_object_text(hj, path, "fingerprint");
        h.tool_version = get_string(hj, path, "tool_version", false);
        h.server_version = get_string(hj, path, "server_version", false);
        if (hj.contains("duration_seconds")) {
            const json& d = hj.at("duration_seconds");
            if (!d.is_number()) bad(path + "duration_seconds", "must be a number");
            h.duration_seconds = d.get<double>();
        }
        h.error = get_string(hj, path, "error", false);
        h.encryption = get_string(hj, path, "encryption", false);
        if (!h.encryption.empty() && h.encryption != "age")
            bad(path + "encryption", "'" + h.encryption + "' is not known (only 'age')");
        h.archive_summary_sealed = get_string(hj, path, "archive_summary_sealed", false);
        check_half(h, path);
        m.halves.emplace(name, std::move(h));
    }
    return m;
}

}  // namespace dolibak::catalog
