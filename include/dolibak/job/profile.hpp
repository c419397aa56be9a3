#pragma once
// Application profiles: what dolibak needs to know about the application whose database and
// documents it backs up, as plain data. Built in: "dolibarr" (the default) and "odoo"; a user
// extends or overrides one from the config file (JSON, see profile_from_json and
// docs/manifest.md, "Application profiles").
#include <dolibak/core/export.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::job {

struct DOLIBAK_API Profile {
    std::string name;
    /// Tables of the application start with this prefix ("llx_"); empty: every table.
    std::string table_prefix;
    /// The column an application sets on change ("tms", "write_date"); used by the fast
    /// count+max fingerprint mode only.
    std::string change_column;
    /// Tables written without a business change, left out of the DB fingerprint (still
    /// dumped). Exact names or globs (fnmatch: `*`, `?`, `[...]`).
    std::vector<std::string> volatile_tables;
    /// Documents left out of the backup, as globs matched (fnmatch without FNM_PATHNAME: `*`
    /// also matches '/') against the path relative to the documents root.
    std::vector<std::string> document_excludes;
    /// Documents kept in the backup but left out of the documents fingerprint (same syntax).
    std::vector<std::string> fingerprint_excludes;
    /// Documents that a restore must bring back (e.g. "install.lock").
    std::vector<std::string> required_documents;
    /// Restore check: at least this many tables matching `table_prefix` (0: no check).
    int min_restored_tables = 0;

    bool operator==(const Profile&) const = default;

    /// True when `table` matches one of volatile_tables.
    bool is_volatile_table(std::string_view table) const;
    /// True when `relative_path` (a file) is left out by document_excludes, matched as the tar
    /// writer matches them (tarball::ExcludeMatcher).
    bool excludes_document(std::string_view relative_path) const;
    /// True when `relative_path` is excluded from the backup or from the fingerprint.
    bool excludes_from_fingerprint(std::string_view relative_path) const;
    /// The SQL LIKE pattern of the application's tables ("llx\_%"; "%" without prefix).
    std::string table_like_pattern() const;
};

/// "dolibarr", "odoo".
DOLIBAK_API std::vector<std::string> builtin_profile_names();
/// A built-in profile; throws ConfigError naming the known ones for any other name.
DOLIBAK_API Profile builtin_profile(std::string_view name);

/// A profile from JSON: `{"extends": "dolibarr", ...}` starts from a built-in profile (or
/// from `base` when given and "extends" is absent), then each field present replaces the
/// base's; a list field may instead be `{"add": [...], "remove": [...]}` to edit the base's
/// list. Without "extends" nor `base`, every field must be given. Throws ConfigError naming
/// the field on bad input.
DOLIBAK_API Profile profile_from_json(std::string_view json, const Profile* base = nullptr);
/// The JSON form (every field; accepted by profile_from_json).
DOLIBAK_API std::string to_json(const Profile& p);

}  // namespace dolibak::job
