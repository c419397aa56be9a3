#pragma once
// The settings of a backup job: one flat vocabulary of keys ("store", "db_name", "keep_daily_days",
// ...) shared by the config file (a JSON object), the environment (DOLIBAK_<KEY>) and the CLI
// flags (--<key-with-dashes>), merged in that precedence (flag > environment > file >
// default), then turned into a job::Config with strict validation. The CLI and the Python
// module both go through here, so a key means the same everywhere. docs/configuration.md
// lists every key.
#include <dolibak/core/export.hpp>
#include <dolibak/job/job.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::job {

/// One setting's value and where it came from ("--db-host", "DOLIBAK_DB_HOST",
/// "/etc/dolibak.json"), for error messages.
struct DOLIBAK_API Setting {
    std::string value;
    /// Set when the value was given as a list (a JSON array in the file, a Python list);
    /// otherwise a list setting splits `value` at commas.
    std::optional<std::vector<std::string>> items;
    std::string source;
};

/// key → setting.
using Settings = std::map<std::string, Setting>;

/// An environment to read instead of the process's (tests); nullptr everywhere means the real
/// one.
using Environment = std::map<std::string, std::string>;

enum class SettingKind { text, path, boolean, integer, size, duration, list, choice, count };

struct DOLIBAK_API SettingInfo {
    std::string key;
    SettingKind kind = SettingKind::text;
    /// Never echoed in messages; accepted from the file and the environment only (no flag).
    bool secret = false;
    /// Allowed values of a `choice`.
    std::vector<std::string> choices;
    std::string help;
    /// What it is about ("store", "S3", "database", "documents", "retention", ...): how the
    /// CLI's `help settings` and man page group the flags.
    std::string topic;
};

/// Every known key, in documentation order.
DOLIBAK_API const std::vector<SettingInfo>& setting_keys();
/// nullptr when `key` is not a setting.
DOLIBAK_API const SettingInfo* find_setting(std::string_view key);
/// The topics of setting_keys(), each once, in documentation order.
DOLIBAK_API std::vector<std::string> setting_topics();
/// "db_host" → "--db-host"; "DOLIBAK_DB_HOST".
DOLIBAK_API std::string flag_name(std::string_view key);
/// A boolean's other flag: "compress_docs" → "--no-compress-docs".
DOLIBAK_API std::string negated_flag_name(std::string_view key);
DOLIBAK_API std::string env_name(std::string_view key);

/// Parses a JSON object of settings. Values: strings, numbers, booleans, or arrays of
/// strings for lists. Throws ConfigError naming the key and `source` for an unknown key or a
/// value of the wrong JSON type (never echoing a secret's value).
DOLIBAK_API Settings settings_from_json(std::string_view text, const std::string& source);

/// Reads a config file (settings_from_json). When the file holds a secret (db_password, S3
/// keys) and is readable by its group or others, `warn` is called with a message saying so.
DOLIBAK_API Settings settings_from_file(const std::filesystem::path& path,
                                        const std::function<void(const std::string&)>& warn = {});

/// The DOLIBAK_<KEY> variables of the environment. DOLIBAK_CONFIG and variables that are
/// not settings (e.g. DOLIBAK_PYTHONPATH) are not included; the names of unknown
/// DOLIBAK_* variables are appended to `unknown` when given.
DOLIBAK_API Settings settings_from_environment(const Environment* env = nullptr,
                                               std::vector<std::string>* unknown = nullptr);

/// `higher` wins key by key.
DOLIBAK_API Settings merge_settings(Settings lower, const Settings& higher);

/// Where settings come from, in precedence order.
struct DOLIBAK_API SettingsSources {
    Settings overrides;  ///< flags / the Python dict: highest
    bool use_environment = true;
    /// The config file; when absent, DOLIBAK_CONFIG (with use_environment).
    std::optional<std::filesystem::path> config_file;
    const Environment* env = nullptr;  ///< tests
    /// Warnings (group-readable file with secrets, unknown DOLIBAK_* variables).
    std::function<void(const std::string&)> warn;
};

/// overrides > environment > config file. Throws ConfigError.
DOLIBAK_API Settings load_settings(const SettingsSources& sources);

/// Builds the job configuration. Every key is checked: a bad value raises ConfigError naming
/// the key, where it came from, the value (never for a secret) and what is allowed. libpq's
/// PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD and PGSSLMODE fill the db_* settings that
/// are not set (from `env` when given). on_event, cancel and now are left unset.
DOLIBAK_API Config config_from_settings(const Settings& settings, const Environment* env = nullptr);

/// A database target given as text (restore --to, refresh --to-db): a libpq conninfo
/// ("host=/run/pg port=5432 user=dolibarr dbname=restored"; keys host, hostaddr, port, user,
/// dbname, sslmode), a bare database name, or a settings file (JSON, *.json or an existing
/// file) whose db_* keys name it. A password inside the text is refused (it would be visible
/// in argv). `what` names the flag.
///
/// With `configured` (the configured database, Config::db->conn, as restore db passes it), a
/// name or a conninfo changes only what it names: the rest (host, port, user, sslmode) is the
/// configured connection's, and the password is DOLIBAK_TARGET_PASSWORD, else the configured
/// one when the user is the configured user, else PGPASSWORD. Without it, and for a settings
/// file, what is not named comes from PGHOST/PGPORT/PGUSER, the password from
/// DOLIBAK_TARGET_PASSWORD, else PGPASSWORD (or the file's db_password). Last, what is still
/// unset takes libpq's defaults, as every libpq client would: the user PGUSER else the
/// operating system's user name, the host PGHOST else the default socket directory; so the
/// result names the database that will really be reached.
DOLIBAK_API pgdump::ConnectionParams target_connection(
    const std::string& to, const std::string& what, const Environment* env = nullptr,
    const pgdump::ConnectionParams* configured = nullptr);

/// The values of the secret settings present (to redact them from any output).
DOLIBAK_API std::vector<std::string> secret_values(const Settings& settings);

// Value parsers (exposed for the CLI's own flags and for tests). `what` names the setting in
// errors.

/// "true"/"false", "yes"/"no", "on"/"off", "1"/"0" (any case).
DOLIBAK_API bool parse_bool(std::string_view text, const std::string& what);
/// Bytes: "1048576", "16M", "16MiB", "1G", "512k" (binary multiples: K = 1024).
DOLIBAK_API std::uint64_t parse_size(std::string_view text, const std::string& what);
/// "3600", "3600s", "90m", "12h", "2d", "1h30m".
DOLIBAK_API std::chrono::seconds parse_duration(std::string_view text, const std::string& what);
/// Comma-separated, items trimmed, empty items dropped.
DOLIBAK_API std::vector<std::string> split_list(std::string_view text);

}  // namespace dolibak::job
