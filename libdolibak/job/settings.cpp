// Settings of a backup job: the vocabulary, its sources (file, environment, overrides) and
// the strict translation into a job::Config. See include/dolibak/job/settings.hpp.
#include <dolibak/core/error.hpp>
#include <dolibak/core/text.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/job/settings.hpp>
#include <dolibak/retention/policy_spec.hpp>
#include <dolibak/retention/timezone.hpp>

#include <nlohmann/json.hpp>

#include <pg_config_manual.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

extern char** environ;

namespace dolibak::job {

using nlohmann::json;

namespace {

using K = SettingKind;

std::vector<SettingInfo> make_keys() {
    auto choice = [](std::string key, std::vector<std::string> choices, std::string help) {
        return SettingInfo{std::move(key),     K::choice,       false,
                           std::move(choices), std::move(help), {}};
    };
    auto item = [](std::string key, SettingKind kind, std::string help) {
        return SettingInfo{std::move(key), kind, false, {}, std::move(help), {}};
    };
    auto secret = [](std::string key, std::string help) {
        return SettingInfo{std::move(key), K::text, true, {}, std::move(help), {}};
    };
    return {
        item("store", K::text, "store URL: s3://bucket/prefix or file:///dir"),
        item("s3_endpoint", K::text, "S3 endpoint URL (default: AWS for the region)"),
        item("s3_region", K::text, "S3 signing region ('auto' for R2)"),
        choice("s3_addressing", {"auto", "path", "virtual"}, "S3 addressing style"),
        item("s3_ca_bundle", K::path,
             "PEM file of CAs to trust for S3 (default: AWS_CA_BUNDLE, the profile's ca_bundle)"),
        choice("s3_content_md5", {"auto", "always", "never"},
               "Content-MD5 on uploads: auto sends it once a bucket asks (Object Lock)"),
        item("s3_part_size", K::size, "multipart part size (e.g. 16M)"),
        item("s3_parallel_parts", K::integer, "parts uploaded in parallel"),
        item("s3_retries", K::integer, "attempts per S3 request"),
        secret("s3_access_key_id", "S3 access key id (file/environment only)"),
        secret("s3_secret_access_key", "S3 secret key (file/environment only)"),
        secret("s3_session_token", "S3 session token (file/environment only)"),
        item("create_store_dir", K::boolean, "create a missing file:// store directory"),
        choice("profile", builtin_profile_names(), "application profile"),
        item("profile_file", K::path, "JSON file extending the profile"),
        item("db", K::boolean, "back up the database half"),
        item("db_host", K::text, "database host or socket directory (PGHOST)"),
        item("db_port", K::integer, "database port (PGPORT)"),
        item("db_user", K::text, "database user (PGUSER)"),
        item("db_name", K::text, "database name (PGDATABASE)"),
        secret("db_password", "database password (PGPASSWORD; file/environment only)"),
        choice("db_sslmode", {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"},
               "libpq sslmode (PGSSLMODE)"),
        item("pg_tools_dir", K::path, "directory of pg_dump/pg_restore"),
        choice("dump_mode", {"pg_dump", "zstd"}, "database dump compression"),
        item("dump_level", K::integer, "pg_dump -Z level (0-9)"),
        item("zstd_level", K::integer, "zstd level of the dump (1-19)"),
        item("zstd_threads", K::integer, "zstd worker threads of the dump"),
        choice("db_fingerprint", {"xmin", "content", "count-tms"}, "database fingerprint mode"),
        item("volatile_tables", K::list, "more tables left out of the fingerprint (globs)"),
        item("globals", K::boolean, "also store roles and other globals"),
        item("globals_passwords", K::boolean, "include role passwords in the globals"),
        item("docs_dir", K::path, "documents directory (the documents half runs when set)"),
        choice("docs_mode", {"auto", "tar", "packs"},
               "documents storage: one archive per run (tar), content stored once (packs), or "
               "auto (default: packs for a new store, the store's own mode otherwise)"),
        choice("docs_compression", {"gzip", "zstd"}, "documents archive compression"),
        item("docs_level", K::integer, "documents compression level"),
        item("docs_threads", K::integer, "documents zstd worker threads"),
        item("docs_exclude", K::list, "more document excludes (globs)"),
        choice("docs_fingerprint", {"metadata", "content"}, "documents fingerprint mode"),
        item("skip_unreadable", K::boolean, "skip unreadable documents with a warning"),
        item("docs_allow_missing_required", K::boolean,
             "back up an empty documents directory or one lacking the profile's required files"),
        choice("retention", {"tiered", "count"}, "retention mode"),
        item("keep_daily_days", K::integer,
             "tiered: the newest backup of each day, this many days"),
        item("keep_monthly_months", K::integer, "tiered: newest per month, this many months"),
        item("keep_yearly_years", K::integer, "tiered: newest per year, this many years"),
        item("keep_last", K::count, "count: the N newest"),
        item("keep_hourly", K::count, "count: newest of the N most recent hours"),
        item("keep_daily", K::count, "count: newest of the N most recent days"),
        item("keep_weekly", K::count, "count: newest of the N most recent ISO weeks"),
        item("keep_monthly", K::count, "count: newest of the N most recent months"),
        item("keep_yearly", K::count, "count: newest of the N most recent years"),
        item("time_zone", K::text, "time zone of the retention buckets"),
        // -- scheduled retention (issue 11)
        item("prune_after_backup", K::boolean,
             "backup prunes after a successful run (default false; --prune/--no-prune)"),
        // --
        // -- notifications (issue 11)
        item("on_success", K::list,
             "command run after a successful backup/prune/verify (JSON on stdin; a JSON array "
             "in the file, else split at whitespace; no shell)"),
        item("on_failure", K::list,
             "command run after a failed backup/prune/verify (as on_success)"),
        secret("webhook_url",
               "http(s) URL the outcome is POSTed to as JSON (Slack-compatible; "
               "file/environment only)"),
        item("notify_timeout", K::duration,
             "bound of each hook and of the webhook's attempts (default 10s)"),
        // --
        // -- encryption (issue 14)
        item("age_recipients", K::list,
             "age1... public keys every new object is encrypted to (comma-separated or a JSON "
             "array)"),
        item("age_recipients_file", K::path,
             "file of age1... recipients, one a line ('#' comments), added to age_recipients"),
        item("age_identity_file", K::list,
             "age identity file(s) (age-keygen's format) for restore and verify of encrypted "
             "runs, and for backup and prune in docs_mode packs; read only when needed"),
        // --
        item("lock_ttl", K::duration, "how long a run may hold the store's lock"),
        item("temp_dir", K::path, "directory for temporary files"),
        choice("log_format", {"text", "json"}, "CLI log format"),
        item("cancel_grace", K::duration,
             "CLI: after SIGINT/SIGTERM, exit anyway after this long (default 20s)"),
        item("progress_interval", K::duration,
             "CLI: when stderr is not a terminal, log a progress line this often (default 30s; "
             "0 never)"),
    };
}

/// The topic a key is listed under in the CLI's `help settings` and the man page.
std::string topic_of(std::string_view key) {
    auto any = [key](std::initializer_list<std::string_view> names) {
        return std::find(names.begin(), names.end(), key) != names.end();
    };
    if (key == "store" || key == "create_store_dir") return "store";
    if (key.starts_with("s3_")) return "S3";
    if (key.starts_with("profile")) return "application profile";
    if (key == "db" || key.starts_with("db_") || key.starts_with("dump_") ||
        key.starts_with("zstd_") || key.starts_with("globals") ||
        any({"pg_tools_dir", "volatile_tables"}))
        return "database";
    if (key.starts_with("docs_") || key == "skip_unreadable") return "documents";
    if (key == "retention" || key.starts_with("keep_") || any({"time_zone", "prune_after_backup"}))
        return "retention";
    if (any({"on_success", "on_failure", "webhook_url", "notify_timeout"})) return "notifications";
    if (key.starts_with("age_")) return "encryption";
    return "run";
}

/// The known keys, for did-you-mean.
const std::vector<std::string>& key_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> r;
        for (const auto& k : setting_keys()) r.push_back(k.key);
        return r;
    }();
    return names;
}

std::string lower(std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

std::string trim(std::string_view s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    const auto e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
    std::string r;
    for (const auto& s : v) {
        if (!r.empty()) r += sep;
        r += s;
    }
    return r;
}

Environment process_environment() {
    Environment env;
    for (char** e = environ; e && *e; ++e) {
        const std::string_view entry(*e);
        const auto eq = entry.find('=');
        if (eq == std::string_view::npos) continue;
        env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
    return env;
}

std::optional<std::string> env_get(const Environment* env, const std::string& name) {
    if (env) {
        auto it = env->find(name);
        if (it == env->end()) return std::nullopt;
        return it->second;
    }
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
}

/// "db_port (from DOLIBAK_DB_PORT)".
std::string describe(const std::string& key, const Setting& s) {
    return s.source.empty() ? key : key + " (from " + s.source + ")";
}

[[noreturn]] void bad_value(const std::string& key, const Setting& s, const std::string& allowed) {
    const SettingInfo* info = find_setting(key);
    if (info && info->secret)
        throw ConfigError("invalid value for " + describe(key, s) + ": expected " + allowed);
    throw ConfigError("invalid value '" + s.value + "' for " + describe(key, s) + ": expected " +
                      allowed);
}

std::optional<long long> parse_integer(std::string_view text) {
    const std::string t = trim(text);
    if (t.empty()) return std::nullopt;
    long long v = 0;
    const char* b = t.data();
    const char* e = t.data() + t.size();
    if (*b == '+') ++b;
    auto [p, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || p != e) return std::nullopt;
    return v;
}

/// Reads the settings of one source, typed on demand.
class Reader {
public:
    Reader(const Settings& s, const Environment* env) : s_(s), env_(env) {}

    const Setting* get(const std::string& key) const {
        auto it = s_.find(key);
        return it == s_.end() ? nullptr : &it->second;
    }
    bool has(const std::string& key) const { return get(key) != nullptr; }

    std::optional<std::string> text(const std::string& key) const {
        const Setting* s = get(key);
        if (!s) return std::nullopt;
        return s->value;
    }
    std::optional<std::string> choice(const std::string& key) const {
        const Setting* s = get(key);
        if (!s) return std::nullopt;
        const auto& allowed = find_setting(key)->choices;
        const std::string v = lower(trim(s->value));
        if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
            bad_value(key, *s, "one of " + join(allowed, ", "));
        return v;
    }
    std::optional<bool> boolean(const std::string& key) const {
        const Setting* s = get(key);
        if (!s) return std::nullopt;
        const std::string v = lower(trim(s->value));
        if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
        if (v == "false" || v == "no" || v == "off" || v == "0") return false;
        bad_value(key, *s, "true or false (also yes/no, on/off, 1/0)");
    }
    std::optional<long long> integer(const std::string& key, long long min, long long max) const {
        const Setting* s = get(key);
        if (!s) return std::nullopt;
        const auto v = parse_integer(s->value);
        if (!v || *v < min || *v > max)
            bad_value(key, *s,
                      "an integer from " + std::to_string(min) + " to " + std::to_string(max));
        return v;
    }
    std::optional<int> count(const std::string& key) const {
        const Setting* s = get(key);
        if (!s) return std::nullopt;
        const auto n = retention::parse_count(lower(trim(s->value)));
        if (!n) bad_value(key, *s, "a count from 0 to 1000000, or 'unlimited'");
        return *n;
    }
    std::optional<std::uint64_t> size(const std::string& key) const {
        const Setting* s = get(key);
        if (!s) return std::nullopt;
        try {
            return parse_size(s->value, describe(key, *s));
        } catch (const ConfigError&) {
            bad_value(key, *s, "a size in bytes, optionally with K, M, G or T (e.g. 16M)");
        }
    }
    std::optional<std::chrono::seconds> duration(const std::string& key) const {
        const Setting* s = get(key);
        if (!s) return std::nullopt;
        try {
            return parse_duration(s->value, describe(key, *s));
        } catch (const ConfigError&) {
            bad_value(key, *s, "a duration such as 3600, 3600s, 90m, 12h, 2d or 1h30m");
        }
    }
    std::optional<std::vector<std::string>> list(const std::string& key) const {
        const Setting* s = get(key);
        if (!s) return std::nullopt;
        if (s->items) {
            std::vector<std::string> r;
            for (const auto& i : *s->items)
                if (!trim(i).empty()) r.push_back(trim(i));
            return r;
        }
        return split_list(s->value);
    }
    std::optional<std::filesystem::path> path(const std::string& key) const {
        const Setting* s = get(key);
        if (!s) return std::nullopt;
        if (trim(s->value).empty()) bad_value(key, *s, "a path");
        return std::filesystem::path(s->value);
    }
    std::string describe_key(const std::string& key) const {
        const Setting* s = get(key);
        return s ? describe(key, *s) : key;
    }
    std::optional<std::string> env(const std::string& name) const { return env_get(env_, name); }

private:
    const Settings& s_;
    const Environment* env_;
};

}  // namespace

const std::vector<SettingInfo>& setting_keys() {
    static const std::vector<SettingInfo> keys = [] {
        auto k = make_keys();
        for (auto& i : k) i.topic = topic_of(i.key);
        return k;
    }();
    return keys;
}

const SettingInfo* find_setting(std::string_view key) {
    for (const auto& k : setting_keys())
        if (k.key == key) return &k;
    return nullptr;
}

std::string flag_name(std::string_view key) {
    std::string r = "--";
    for (char c : key) r += c == '_' ? '-' : c;
    return r;
}

std::string negated_flag_name(std::string_view key) {
    return "--no-" + flag_name(key).substr(2);
}

std::vector<std::string> setting_topics() {
    std::vector<std::string> topics;
    for (const auto& info : setting_keys())
        if (std::find(topics.begin(), topics.end(), info.topic) == topics.end())
            topics.push_back(info.topic);
    return topics;
}

std::string env_name(std::string_view key) {
    std::string r = "DOLIBAK_";
    for (char c : key) r += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return r;
}

bool parse_bool(std::string_view text, const std::string& what) {
    const std::string v = lower(trim(text));
    if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
    if (v == "false" || v == "no" || v == "off" || v == "0") return false;
    throw ConfigError("invalid value '" + std::string(text) + "' for " + what +
                      ": expected true or false");
}

std::uint64_t parse_size(std::string_view text, const std::string& what) {
    const std::string t = lower(trim(text));
    std::size_t digits = 0;
    while (digits < t.size() && std::isdigit(static_cast<unsigned char>(t[digits]))) ++digits;
    auto fail = [&]() -> std::uint64_t {
        throw ConfigError("invalid size '" + std::string(text) + "' for " + what +
                          ": expected bytes, optionally with K, M, G or T (e.g. 16M)");
    };
    if (digits == 0) return fail();
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(t.data(), t.data() + digits, n);
    if (ec != std::errc()) return fail();
    const std::string unit = trim(std::string_view(t).substr(digits));
    int shift = 0;
    if (unit.empty() || unit == "b")
        shift = 0;
    else if (unit == "k" || unit == "kb" || unit == "kib")
        shift = 10;
    else if (unit == "m" || unit == "mb" || unit == "mib")
        shift = 20;
    else if (unit == "g" || unit == "gb" || unit == "gib")
        shift = 30;
    else if (unit == "t" || unit == "tb" || unit == "tib")
        shift = 40;
    else
        return fail();
    if (shift && n > (std::numeric_limits<std::uint64_t>::max() >> shift)) return fail();
    return n << shift;
}

std::chrono::seconds parse_duration(std::string_view text, const std::string& what) {
    const std::string t = lower(trim(text));
    auto fail = [&]() -> std::chrono::seconds {
        throw ConfigError("invalid duration '" + std::string(text) + "' for " + what +
                          ": expected e.g. 3600, 3600s, 90m, 12h, 2d or 1h30m");
    };
    if (t.empty()) return fail();
    long long total = 0;
    std::size_t i = 0;
    bool any = false;
    while (i < t.size()) {
        std::size_t j = i;
        while (j < t.size() && std::isdigit(static_cast<unsigned char>(t[j]))) ++j;
        if (j == i) return fail();
        long long n = 0;
        auto [p, ec] = std::from_chars(t.data() + i, t.data() + j, n);
        if (ec != std::errc() || n > 1'000'000'000) return fail();
        long long unit = 1;
        if (j < t.size()) {
            switch (t[j]) {
                case 's':
                    unit = 1;
                    break;
                case 'm':
                    unit = 60;
                    break;
                case 'h':
                    unit = 3600;
                    break;
                case 'd':
                    unit = 86400;
                    break;
                default:
                    return fail();
            }
            ++j;
        } else if (any) {
            return fail();  // "1h30": a bare number only alone
        }
        total += n * unit;
        if (total > 100LL * 365 * 86400) return fail();
        any = true;
        i = j;
    }
    return std::chrono::seconds(total);
}

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> r;
    std::size_t start = 0;
    while (start <= text.size()) {
        auto comma = text.find(',', start);
        if (comma == std::string_view::npos) comma = text.size();
        auto item = trim(text.substr(start, comma - start));
        if (!item.empty()) r.push_back(std::move(item));
        start = comma + 1;
    }
    return r;
}

Settings settings_from_json(std::string_view text, const std::string& source) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        // The parser's message may quote a token, which could be a secret: position only.
        throw ConfigError(source + ": not valid JSON (syntax error at byte " +
                          std::to_string(e.byte) + ")");
    } catch (const json::exception&) {
        throw ConfigError(source + ": not valid JSON");
    }
    if (!j.is_object()) throw ConfigError(source + ": expected a JSON object of settings");
    Settings out;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& key = it.key();
        const SettingInfo* info = find_setting(key);
        if (!info)
            throw ConfigError("unknown setting '" + key + "' in " + source +
                              did_you_mean(key, key_names()) +
                              " (docs/configuration.md lists the keys)");
        const auto& v = it.value();
        Setting s;
        s.source = source;
        if (v.is_string()) {
            s.value = v.get<std::string>();
        } else if (v.is_boolean()) {
            s.value = v.get<bool>() ? "true" : "false";
        } else if (v.is_number_integer()) {
            s.value = v.dump();
        } else if (v.is_number_float() && info->kind != SettingKind::integer &&
                   info->kind != SettingKind::count) {
            s.value = v.dump();
        } else if (v.is_array() && info->kind == SettingKind::list) {
            std::vector<std::string> items;
            for (const auto& e : v) {
                if (!e.is_string())
                    throw ConfigError("setting '" + key + "' in " + source +
                                      ": expected an array of strings");
                items.push_back(e.get<std::string>());
            }
            s.value = join(items, ",");
            s.items = std::move(items);
        } else if (v.is_null()) {
            continue;  // null: not set
        } else {
            throw ConfigError("setting '" + key + "' in " + source + ": expected " +
                              (info->kind == SettingKind::list
                                   ? "an array of strings or a comma-separated string"
                                   : "a string, a number or a boolean") +
                              ", not a JSON " + v.type_name());
        }
        out[key] = std::move(s);
    }
    return out;
}

Settings settings_from_file(const std::filesystem::path& path,
                            const std::function<void(const std::string&)>& warn) {
    std::ifstream in(path, std::ios::binary);
    // A config file that is not there is a mistake in the configuration (exit 2), not a
    // failed operation.
    if (!in)
        throw ConfigError("cannot open the config file " + path.string() + ": " +
                          errno_text(errno));
    std::ostringstream buf;
    buf << in.rdbuf();
    if (in.bad()) throw IoError("cannot read the config file", path.string(), errno);
    Settings s = settings_from_json(buf.str(), path.string());
    const bool has_secret = std::any_of(s.begin(), s.end(), [](const auto& kv) {
        const SettingInfo* i = find_setting(kv.first);
        return i && i->secret;
    });
    struct stat st {};
    if (has_secret && warn && ::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 0777);
        warn("the config file " + path.string() + " holds a secret but is readable by its " +
             ((st.st_mode & 007) ? "group and others" : "group") + " (mode " + mode +
             "): chmod 600 it");
    }
    return s;
}

Settings settings_from_environment(const Environment* env, std::vector<std::string>* unknown) {
    const Environment real = env ? Environment{} : process_environment();
    const Environment& e = env ? *env : real;
    Settings out;
    for (const auto& [name, value] : e) {
        if (!name.starts_with("DOLIBAK_")) continue;
        std::string key = lower(std::string_view(name).substr(8));
        if (find_setting(key)) {
            out[key] = Setting{value, std::nullopt, name};
        } else if (unknown && name != "DOLIBAK_CONFIG" && name != "DOLIBAK_PYTHONPATH" &&
                   name != "DOLIBAK_TARGET_PASSWORD" && name != "DOLIBAK_MOTO_PYTHON" &&
                   name != "DOLIBAK_PG_BIN" && name != "DOLIBAK_DEMO_DIR" &&
                   !name.starts_with("DOLIBAK_TEST")) {
            // (the others are read elsewhere: restore/refresh targets, test fixtures, demo)
            unknown->push_back(name);
        }
    }
    return out;
}

Settings merge_settings(Settings lower_settings, const Settings& higher) {
    for (const auto& [k, v] : higher) lower_settings[k] = v;
    return lower_settings;
}

Settings load_settings(const SettingsSources& sources) {
    for (const auto& [key, setting] : sources.overrides)
        if (!find_setting(key))
            throw ConfigError("unknown setting '" + key + "'" +
                              (setting.source.empty() ? "" : " in " + setting.source) +
                              did_you_mean(key, key_names()) +
                              " (docs/configuration.md lists the keys)");
    std::optional<std::filesystem::path> file = sources.config_file;
    if (!file && sources.use_environment) {
        if (auto c = env_get(sources.env, "DOLIBAK_CONFIG"); c && !c->empty()) file = *c;
    }
    Settings merged;
    if (file) merged = settings_from_file(*file, sources.warn);
    if (sources.use_environment) {
        std::vector<std::string> unknown;
        merged =
            merge_settings(std::move(merged), settings_from_environment(sources.env, &unknown));
        if (sources.warn)
            for (const auto& u : unknown) {
                // DOLIBAK_SOTRE: the suggestion is the variable of the nearest key.
                const auto near = closest_match(lower(std::string_view(u).substr(8)), key_names());
                sources.warn("ignoring " + u + ": not a dolibak setting" +
                             (near ? "; did you mean " + env_name(*near) + "?" : ""));
            }
    }
    return merge_settings(std::move(merged), sources.overrides);
}

// ---- targets -------------------------------------------------------------------------------

namespace {

// What libpq itself would use for what a target leaves unset: the user PGUSER, else the
// operating system's user name; the host PGHOST, else the default socket directory.
pgdump::ConnectionParams with_libpq_defaults(pgdump::ConnectionParams c,
                                             const Environment* environment) {
    if (c.user.empty()) {
        c.user = env_get(environment, "PGUSER").value_or("");
        if (c.user.empty()) {
            std::vector<char> buf(16384);
            struct passwd pw {};
            struct passwd* found = nullptr;
            if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) == 0 && found)
                c.user = found->pw_name;
        }
    }
    if (c.host.empty()) {
        c.host = env_get(environment, "PGHOST").value_or("");
        if (c.host.empty()) c.host = DEFAULT_PGSOCKET_DIR;
    }
    return c;
}

pgdump::ConnectionParams parse_target(const std::string& to, const std::string& flag,
                                      const Environment* environment,
                                      const pgdump::ConnectionParams* configured) {
    if (to.empty())
        throw ConfigError(flag + " is empty: give a conninfo, a database name or a settings file");
    pgdump::ConnectionParams c;
    auto env = [environment](const char* name) -> std::string {
        return env_get(environment, name).value_or("");
    };
    if (configured) {
        c = *configured;
        c.dbname.clear();
    } else {
        c.host = env("PGHOST");
        c.user = env("PGUSER");
        if (const auto p = env("PGPORT"); !p.empty()) c.port = std::atoi(p.c_str());
    }
    // The password, once the user is known: the target's own, else the configured one for
    // the configured user, else PGPASSWORD.
    auto password_for = [&](pgdump::ConnectionParams& t) {
        if (!env("DOLIBAK_TARGET_PASSWORD").empty())
            t.password = Secret(env("DOLIBAK_TARGET_PASSWORD"));
        else if (configured && t.user == configured->user && !configured->password.empty())
            t.password = configured->password;
        else if (!env("PGPASSWORD").empty())
            t.password = Secret(env("PGPASSWORD"));
        else
            t.password = Secret();
    };
    std::error_code ec;
    if (to.ends_with(".json") ||
        (to.find('=') == std::string::npos && std::filesystem::is_regular_file(to, ec))) {
        const Settings s = settings_from_file(to);
        Settings only_db;
        for (const auto& [k, v] : s)
            if (k.starts_with("db_")) only_db[k] = v;
        only_db["db"] = Setting{"true", std::nullopt, to};
        const Environment none;
        Config cfg = config_from_settings(only_db, &none);
        pgdump::ConnectionParams f = cfg.db->conn;
        if (f.host.empty()) f.host = env("PGHOST");
        if (f.user.empty()) f.user = env("PGUSER");
        if (f.password.empty()) {
            if (!env("DOLIBAK_TARGET_PASSWORD").empty())
                f.password = Secret(env("DOLIBAK_TARGET_PASSWORD"));
            else if (!env("PGPASSWORD").empty())
                f.password = Secret(env("PGPASSWORD"));
        }
        if (!s.contains("db_port"))
            if (const auto p = env("PGPORT"); !p.empty()) f.port = std::atoi(p.c_str());
        return f;
    }
    if (to.find('=') == std::string::npos) {
        c.dbname = to;
        password_for(c);
        return c;
    }
    // key=value pairs separated by spaces; values may be single-quoted with \' and \\.
    std::size_t i = 0;
    bool named_db = false;
    while (i < to.size()) {
        while (i < to.size() && std::isspace(static_cast<unsigned char>(to[i]))) ++i;
        if (i >= to.size()) break;
        const auto eq = to.find('=', i);
        if (eq == std::string::npos)
            throw ConfigError(flag + ": expected key=value pairs (host=... dbname=...)");
        std::string key = to.substr(i, eq - i);
        while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
        i = eq + 1;
        while (i < to.size() && to[i] == ' ') ++i;
        std::string value;
        if (i < to.size() && to[i] == '\'') {
            ++i;
            while (i < to.size() && to[i] != '\'') {
                if (to[i] == '\\' && i + 1 < to.size()) ++i;
                value += to[i++];
            }
            if (i >= to.size()) throw ConfigError(flag + ": unterminated quote");
            ++i;
        } else {
            while (i < to.size() && !std::isspace(static_cast<unsigned char>(to[i])))
                value += to[i++];
        }
        if (key == "host" || key == "hostaddr") {
            c.host = value;
        } else if (key == "port") {
            c.port = std::atoi(value.c_str());
            if (c.port < 1 || c.port > 65535)
                throw ConfigError(flag + ": invalid port '" + value + "'");
        } else if (key == "user") {
            c.user = value;
        } else if (key == "dbname") {
            c.dbname = value;
            named_db = true;
        } else if (key == "sslmode") {
            c.sslmode = value;
        } else if (key == "password") {
            throw ConfigError(flag +
                              " must not contain a password (it would be visible in the "
                              "process list): put it in DOLIBAK_TARGET_PASSWORD");
        } else {
            throw ConfigError(flag + ": unsupported conninfo key '" + key +
                              "' (host, port, user, dbname, sslmode)");
        }
    }
    if (!named_db) throw ConfigError(flag + " must name the database (dbname=...)");
    password_for(c);
    return c;
}

}  // namespace

pgdump::ConnectionParams target_connection(const std::string& to, const std::string& flag,
                                           const Environment* environment,
                                           const pgdump::ConnectionParams* configured) {
    return with_libpq_defaults(parse_target(to, flag, environment, configured), environment);
}

std::vector<std::string> secret_values(const Settings& settings) {
    std::vector<std::string> r;
    for (const auto& [k, v] : settings) {
        const SettingInfo* i = find_setting(k);
        if (i && i->secret && !v.value.empty()) r.push_back(v.value);
    }
    return r;
}

Config config_from_settings(const Settings& settings, const Environment* env) {
    for (const auto& [key, s] : settings)
        if (!find_setting(key))
            throw ConfigError("unknown setting '" + key + "'" +
                              (s.source.empty() ? "" : " in " + s.source) +
                              did_you_mean(key, key_names()));
    const Reader r(settings, env);
    Config c;

    // ---- store
    if (auto v = r.text("store")) {
        c.store_url = trim(*v);
        if (c.store_url.empty())
            bad_value("store", *r.get("store"), "s3://bucket/prefix or file:///dir");
        if (!c.store_url.starts_with("s3://") && !c.store_url.starts_with("file://") &&
            !c.store_url.starts_with("/"))
            bad_value("store", *r.get("store"), "s3://bucket/prefix or file:///dir");
    }
    auto& s3o = c.store.s3;
    if (auto v = r.text("s3_endpoint")) {
        const std::string e = trim(*v);
        if (!e.starts_with("http://") && !e.starts_with("https://"))
            bad_value("s3_endpoint", *r.get("s3_endpoint"), "an http:// or https:// URL");
        s3o.endpoint = e;
    }
    if (auto v = r.text("s3_region")) {
        if (trim(*v).empty())
            bad_value("s3_region", *r.get("s3_region"), "a region name or 'auto'");
        s3o.region = trim(*v);
    }
    if (auto v = r.choice("s3_addressing")) s3o.addressing = s3::parse_addressing_style(*v);
    if (auto v = r.path("s3_ca_bundle")) s3o.ca_bundle = v->string();
    if (auto v = r.choice("s3_content_md5")) s3o.content_md5 = s3::parse_content_md5(*v);
    if (auto v = r.size("s3_part_size")) {
        if (*v < (5ULL << 20) || *v > (5ULL << 30))
            bad_value("s3_part_size", *r.get("s3_part_size"), "a size from 5M to 5G");
        s3o.part_size = static_cast<std::size_t>(*v);
    }
    if (auto v = r.integer("s3_parallel_parts", 1, 64))
        s3o.parallel_parts = static_cast<unsigned>(*v);
    if (auto v = r.integer("s3_retries", 1, 100)) s3o.retry.max_attempts = static_cast<int>(*v);
    {
        const auto id = r.text("s3_access_key_id");
        const bool has_secret = r.has("s3_secret_access_key");
        if (id.has_value() != has_secret)
            throw ConfigError(
                "s3_access_key_id and s3_secret_access_key go together: set both or neither "
                "(the AWS_* variables and ~/.aws are used when neither is set)");
        if (id) {
            s3::Credentials cr;
            cr.access_key_id = trim(*id);
            cr.secret_access_key = Secret(r.get("s3_secret_access_key")->value);
            if (auto t = r.text("s3_session_token")) cr.session_token = Secret(*t);
            cr.source = r.get("s3_secret_access_key")->source;
            if (cr.empty())
                throw ConfigError("s3_access_key_id and s3_secret_access_key must not be empty");
            c.store.credentials = std::move(cr);
        } else if (r.has("s3_session_token")) {
            throw ConfigError("s3_session_token needs s3_access_key_id and s3_secret_access_key");
        }
    }
    if (auto v = r.boolean("create_store_dir")) c.store.create_directory = *v;

    // ---- profile
    if (auto v = r.choice("profile")) c.profile = builtin_profile(*v);
    if (auto v = r.path("profile_file")) {
        std::ifstream in(*v, std::ios::binary);
        if (!in)
            throw ConfigError("cannot open the profile file " + v->string() + " (" +
                              r.describe_key("profile_file") + "): " + errno_text(errno));
        std::ostringstream buf;
        buf << in.rdbuf();
        try {
            c.profile = profile_from_json(buf.str(), &c.profile);
        } catch (Error& e) {
            e.with_context("reading the profile file " + v->string());
            throw;
        }
    }

    // ---- database half
    DatabaseSettings db;
    auto text_or_env = [&](const char* key, const char* var) -> std::optional<std::string> {
        if (auto v = r.text(key)) return trim(*v);
        if (auto e = r.env(var); e && !e->empty()) return *e;
        return std::nullopt;
    };
    if (auto v = text_or_env("db_host", "PGHOST")) db.conn.host = *v;
    if (auto v = r.integer("db_port", 1, 65535)) {
        db.conn.port = static_cast<int>(*v);
    } else if (auto e = r.env("PGPORT"); e && !e->empty()) {
        const auto p = parse_integer(*e);
        if (!p || *p < 1 || *p > 65535)
            throw ConfigError("invalid PGPORT '" + *e + "': expected a port from 1 to 65535");
        db.conn.port = static_cast<int>(*p);
    }
    if (auto v = text_or_env("db_user", "PGUSER")) db.conn.user = *v;
    if (auto v = text_or_env("db_name", "PGDATABASE")) db.conn.dbname = *v;
    if (auto s = r.get("db_password")) {
        db.conn.password = Secret(s->value);
    } else if (auto e = r.env("PGPASSWORD"); e && !e->empty()) {
        db.conn.password = Secret(*e);
    }
    if (auto v = r.choice("db_sslmode")) {
        db.conn.sslmode = *v;
    } else if (auto e = r.env("PGSSLMODE"); e && !e->empty()) {
        db.conn.sslmode = *e;
    }
    if (auto v = r.path("pg_tools_dir")) db.tools_dir = *v;
    if (auto v = r.choice("dump_mode"))
        db.dump_mode = *v == "zstd" ? pgdump::DumpMode::zstd : pgdump::DumpMode::pg_dump_compressed;
    if (auto v = r.integer("dump_level", 0, 9)) {
        if (db.dump_mode != pgdump::DumpMode::pg_dump_compressed)
            throw ConfigError(r.describe_key("dump_level") +
                              " applies to dump_mode pg_dump only; use zstd_level with zstd");
        db.pg_dump_level = static_cast<int>(*v);
    }
    if (auto v = r.integer("zstd_level", 1, 19)) db.zstd.level = static_cast<int>(*v);
    if (auto v = r.integer("zstd_threads", 0, 64)) db.zstd.threads = static_cast<int>(*v);
    if (auto v = r.choice("db_fingerprint"))
        db.fingerprint_mode = *v == "content"     ? fingerprint::DbMode::content
                              : *v == "count-tms" ? fingerprint::DbMode::count_tms
                                                  : fingerprint::DbMode::xmin;
    if (auto v = r.list("volatile_tables")) db.extra_volatile_tables = *v;
    if (auto v = r.boolean("globals")) db.globals = *v;
    if (auto v = r.boolean("globals_passwords")) db.globals_with_passwords = *v;
    if (db.globals_with_passwords && !db.globals)
        throw ConfigError(r.describe_key("globals_passwords") + " needs globals = true");
    const auto db_on = r.boolean("db");
    const bool want_db = db_on ? *db_on : !db.conn.dbname.empty();
    if (want_db) {
        if (db.conn.dbname.empty())
            throw ConfigError(
                "db is true but no database is named: set db_name (--db-name, DOLIBAK_DB_NAME) "
                "or PGDATABASE");
        c.db = std::move(db);
    }

    // ---- documents half
    if (auto v = r.path("docs_dir")) {
        DocumentsSettings d;
        d.root = *v;
        if (auto m = r.choice("docs_mode"))
            d.mode = *m == "packs" ? DocsMode::packs
                     : *m == "tar" ? DocsMode::tar
                                   : DocsMode::automatic;
        if (auto cmp = r.choice("docs_compression"))
            d.compression = tarball::parse_compression(*cmp);
        const bool zstd = d.compression == tarball::Compression::zstd;
        if (auto lvl = r.integer("docs_level", zstd ? 1 : 0, zstd ? 19 : 9))
            d.level = static_cast<int>(*lvl);
        if (auto t = r.integer("docs_threads", 0, 64)) {
            if (!zstd && *t != 0)
                throw ConfigError(r.describe_key("docs_threads") +
                                  " applies to docs_compression zstd only");
            d.threads = static_cast<int>(*t);
        }
        if (auto l = r.list("docs_exclude")) d.extra_excludes = *l;
        if (auto f = r.choice("docs_fingerprint")) d.content_fingerprint = *f == "content";
        if (auto b = r.boolean("skip_unreadable")) d.skip_unreadable = *b;
        if (auto b = r.boolean("docs_allow_missing_required")) d.allow_missing_required = *b;
        c.docs = std::move(d);
    } else {
        for (const char* k :
             {"docs_mode", "docs_compression", "docs_level", "docs_threads", "docs_exclude",
              "docs_fingerprint", "skip_unreadable", "docs_allow_missing_required"}) {
            // Validate them anyway so that a typo is caught before docs_dir is added.
            if (!r.has(k)) continue;
            if (std::string(k) == "docs_compression" || std::string(k) == "docs_fingerprint" ||
                std::string(k) == "docs_mode")
                (void)r.choice(k);
            else if (std::string(k) == "skip_unreadable" ||
                     std::string(k) == "docs_allow_missing_required")
                (void)r.boolean(k);
            else if (std::string(k) == "docs_exclude")
                (void)r.list(k);
            else
                (void)r.integer(k, 0, 64);
        }
    }

    // ---- retention
    retention::PolicySpec spec;
    spec.mode = r.choice("retention");
    auto window = [&](const char* key, int max) -> std::optional<int> {
        if (auto v = r.integer(key, 0, max)) return static_cast<int>(*v);
        return std::nullopt;
    };
    spec.daily_days = window("keep_daily_days", retention::max_daily_days);
    spec.monthly_months = window("keep_monthly_months", retention::max_monthly_months);
    spec.yearly_years = window("keep_yearly_years", retention::max_yearly_years);
    spec.last = r.count("keep_last");
    spec.hourly = r.count("keep_hourly");
    spec.daily = r.count("keep_daily");
    spec.weekly = r.count("keep_weekly");
    spec.monthly = r.count("keep_monthly");
    spec.yearly = r.count("keep_yearly");
    if (auto v = r.text("time_zone")) spec.time_zone = trim(*v);
    c.retention = retention::build_policy(spec, retention::Spelling::config);
    if (c.retention.mode == retention::Policy::Mode::count && c.retention.count.empty())
        throw ConfigError(
            "retention is count but no keep_* count is set: that would keep everything; set "
            "at least one of keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, "
            "keep_yearly");

    // ---- scheduled retention
    if (auto v = r.boolean("prune_after_backup")) c.prune_after_backup = *v;

    // ---- notifications
    // A command: a JSON array's items as they are, else the text split at whitespace.
    auto command = [&](const char* key) -> std::vector<std::string> {
        const Setting* s = r.get(key);
        if (!s) return {};
        std::vector<std::string> argv;
        if (s->items) {
            argv = *s->items;
        } else {
            std::istringstream words(s->value);
            for (std::string w; words >> w;) argv.push_back(w);
        }
        if (!argv.empty() && argv.front().empty())
            bad_value(key, *s, "a command: a program and its arguments");
        return argv;
    };
    c.notify.on_success = command("on_success");
    c.notify.on_failure = command("on_failure");
    if (auto s = r.get("webhook_url"); s && !trim(s->value).empty()) {
        const std::string url = trim(s->value);
        if (!url.starts_with("http://") && !url.starts_with("https://"))
            throw ConfigError(r.describe_key("webhook_url") +
                              " must be an http:// or https:// URL (value not shown: a secret)");
        c.notify.webhook_url = Secret(url);
    }
    if (auto v = r.duration("notify_timeout")) {
        if (v->count() < 1 || v->count() > 600)
            bad_value("notify_timeout", *r.get("notify_timeout"), "from 1s to 10m");
        c.notify.timeout = *v;
    }

    // ---- encryption
    auto recipient = [&](const std::string& text, const std::string& where) {
        try {
            c.encryption.recipients.push_back(io::age_parse_recipient(trim(text)));
        } catch (const ConfigError& e) {
            throw ConfigError(where + ": " + e.what());
        }
    };
    if (auto l = r.list("age_recipients"))
        for (const auto& x : *l) recipient(x, r.describe_key("age_recipients"));
    if (auto v = r.path("age_recipients_file")) {
        std::ifstream in(*v, std::ios::binary);
        if (!in)
            throw ConfigError("cannot open the recipients file " + v->string() + " (" +
                              r.describe_key("age_recipients_file") + "): " + errno_text(errno));
        int n = 0, found = 0;
        for (std::string line; std::getline(in, line);) {
            ++n;
            const std::string t = trim(line);
            if (t.empty() || t.front() == '#') continue;
            recipient(t, "line " + std::to_string(n) + " of " + v->string());
            ++found;
        }
        if (found == 0)
            throw ConfigError("the recipients file " + v->string() + " (" +
                              r.describe_key("age_recipients_file") + ") holds no recipient");
    }
    {
        auto& rs = c.encryption.recipients;
        std::sort(rs.begin(), rs.end());
        rs.erase(std::unique(rs.begin(), rs.end()), rs.end());
    }
    if (auto l = r.list("age_identity_file")) {
        for (const auto& x : *l) c.encryption.identity_files.emplace_back(x);
        c.encryption.identity_source = r.describe_key("age_identity_file");
    }

    // ---- run
    if (auto v = r.duration("lock_ttl")) {
        if (v->count() < 60) bad_value("lock_ttl", *r.get("lock_ttl"), "at least 60s");
        c.lock_ttl = *v;
    }
    if (auto v = r.path("temp_dir")) c.temp_dir = *v;
    (void)r.choice("log_format");
    (void)r.duration("cancel_grace");
    (void)r.duration("progress_interval");
    return c;
}

}  // namespace dolibak::job
