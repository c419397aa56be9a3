// Application profiles: the built-in data and JSON loading.
#include <dolibak/core/error.hpp>
#include <dolibak/job/profile.hpp>
#include <dolibak/tarball/excludes.hpp>

#include <nlohmann/json.hpp>

#include <fnmatch.h>

#include <algorithm>
#include <set>

namespace dolibak::job {
namespace {

using nlohmann::json;

bool any_match(const std::vector<std::string>& globs, std::string_view text, int flags) {
    const std::string s(text);
    return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) {
        return fnmatch(g.c_str(), s.c_str(), flags) == 0;
    });
}

Profile dolibarr() {
    Profile p;
    p.name = "dolibarr";
    p.table_prefix = "llx_";
    p.change_column = "tms";
    // Written by logins, cron runs, counters, preferences, tracking (docs: dolibarr-model).
    p.volatile_tables = {"llx_user",
                         "llx_cronjob",
                         "llx_const",
                         "llx_events",
                         "llx_user_param",
                         "llx_oauth_token",
                         "llx_societe_account",
                         "llx_mailing_cibles",
                         "llx_emailcollector_emailcollector"};
    // Only what Dolibarr regenerates: its temp/ caches (graphs, mass-generation PDFs, widget
    // caches), the PNG previews it writes beside PDFs, and its own logs where it writes them
    // (the documents root). Attachments named *.log, *.old, *.back are kept; so are
    // admin/backup (Dolibarr's own database dumps) and admin/documents: add them to
    // docs_exclude to leave them out (docs/manifest.md).
    p.document_excludes = {"*/temp/*", "*.pdf_preview*.png", "/dolibarr.log", "/dolibarr_*.log"};
    p.fingerprint_excludes = {};
    p.required_documents = {"install.lock"};
    p.min_restored_tables = 250;
    return p;
}

Profile odoo() {
    Profile p;
    p.name = "odoo";
    p.table_prefix = "";
    p.change_column = "write_date";
    // Presence, bus, logs, cron state, outgoing mail queue; transient (wizard) models by name.
    p.volatile_tables = {"bus_bus",       "bus_presence",   "mail_presence",
                         "res_users_log", "res_device_log", "ir_cron",
                         "mail_mail",     "*_wizard",       "*_wizard_*"};
    p.document_excludes = {};
    // Garbage-collection markers of the filestore: churn, kept in the backup.
    p.fingerprint_excludes = {"checklist/*", "*/checklist/*"};
    p.required_documents = {};
    p.min_restored_tables = 0;
    return p;
}

[[noreturn]] void bad(const std::string& field, const std::string& why) {
    throw ConfigError("profile: " + field + ": " + why);
}

std::vector<std::string> string_list(const json& v, const std::string& name) {
    if (!v.is_array()) bad(name, "must be a list of strings");
    std::vector<std::string> out;
    for (const auto& e : v) {
        if (!e.is_string() || e.get<std::string>().empty())
            bad(name, "must be a list of non-empty strings");
        out.push_back(e.get<std::string>());
    }
    return out;
}

void apply_list(const json& j, const char* name, std::vector<std::string>& list, bool have_base) {
    if (!j.contains(name)) {
        if (!have_base) bad(name, "missing (give it, or \"extends\" a built-in profile)");
        return;
    }
    const json& v = j.at(name);
    if (v.is_array()) {
        list = string_list(v, name);
        return;
    }
    if (!v.is_object()) bad(name, "must be a list, or {\"add\": [...], \"remove\": [...]}");
    if (!have_base) bad(name, "add/remove needs a base profile (\"extends\")");
    for (const auto& [k, val] : v.items())
        if (k != "add" && k != "remove") bad(name, "unknown key '" + k + "' (add, remove)");
    if (v.contains("remove")) {
        const auto remove = string_list(v.at("remove"), std::string(name) + ".remove");
        for (const auto& r : remove) {
            const auto it = std::find(list.begin(), list.end(), r);
            if (it == list.end())
                bad(std::string(name) + ".remove", "'" + r + "' is not in the list");
            list.erase(it);
        }
    }
    if (v.contains("add"))
        for (auto& a : string_list(v.at("add"), std::string(name) + ".add"))
            if (std::find(list.begin(), list.end(), a) == list.end()) list.push_back(std::move(a));
}

void apply_string(const json& j, const char* name, std::string& out, bool have_base) {
    if (!j.contains(name)) {
        if (!have_base) bad(name, "missing");
        return;
    }
    if (!j.at(name).is_string()) bad(name, "must be a string");
    out = j.at(name).get<std::string>();
}

}  // namespace

bool Profile::is_volatile_table(std::string_view table) const {
    return any_match(volatile_tables, table, 0);
}

bool Profile::excludes_document(std::string_view relative_path) const {
    return tarball::ExcludeMatcher(document_excludes).excluded(relative_path, false);
}

bool Profile::excludes_from_fingerprint(std::string_view relative_path) const {
    return excludes_document(relative_path) ||
           tarball::ExcludeMatcher(fingerprint_excludes).excluded(relative_path, false);
}

std::string Profile::table_like_pattern() const {
    std::string out;
    for (const char c : table_prefix) {
        if (c == '_' || c == '%' || c == '\\') out += '\\';
        out += c;
    }
    return out + "%";
}

std::vector<std::string> builtin_profile_names() {
    return {"dolibarr", "odoo"};
}

Profile builtin_profile(std::string_view name) {
    if (name == "dolibarr") return dolibarr();
    if (name == "odoo") return odoo();
    throw ConfigError("unknown application profile '" + std::string(name) +
                      "' (built in: dolibarr, odoo)");
}

Profile profile_from_json(std::string_view text, const Profile* base) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        throw ConfigError(std::string("profile: not valid JSON: ") + e.what());
    }
    if (!j.is_object()) throw ConfigError("profile: must be a JSON object");
    static const std::set<std::string> known{"extends",
                                             "name",
                                             "table_prefix",
                                             "change_column",
                                             "volatile_tables",
                                             "document_excludes",
                                             "fingerprint_excludes",
                                             "required_documents",
                                             "min_restored_tables"};
    for (const auto& [k, v] : j.items())
        if (!known.count(k)) bad(k, "unknown field");
    Profile p;
    bool have_base = false;
    if (j.contains("extends")) {
        if (!j.at("extends").is_string()) bad("extends", "must be a string");
        p = builtin_profile(j.at("extends").get<std::string>());
        have_base = true;
    } else if (base) {
        p = *base;
        have_base = true;
    }
    apply_string(j, "name", p.name, have_base);
    if (p.name.empty()) bad("name", "must not be empty");
    apply_string(j, "table_prefix", p.table_prefix, have_base);
    apply_string(j, "change_column", p.change_column, have_base);
    apply_list(j, "volatile_tables", p.volatile_tables, have_base);
    apply_list(j, "document_excludes", p.document_excludes, have_base);
    apply_list(j, "fingerprint_excludes", p.fingerprint_excludes, have_base);
    apply_list(j, "required_documents", p.required_documents, have_base);
    if (j.contains("min_restored_tables")) {
        const json& v = j.at("min_restored_tables");
        if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > 100000)
            bad("min_restored_tables", "must be an integer >= 0");
        p.min_restored_tables = v.get<int>();
    } else if (!have_base) {
        bad("min_restored_tables", "missing");
    }
    return p;
}

std::string to_json(const Profile& p) {
    const json j = {{"name", p.name},
                    {"table_prefix", p.table_prefix},
                    {"change_column", p.change_column},
                    {"volatile_tables", p.volatile_tables},
                    {"document_excludes", p.document_excludes},
                    {"fingerprint_excludes", p.fingerprint_excludes},
                    {"required_documents", p.required_documents},
                    {"min_restored_tables", p.min_restored_tables}};
    return j.dump(2) + "\n";
}

}  // namespace dolibak::job
