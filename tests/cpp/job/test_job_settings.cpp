// Job settings: the config file, the environment, overrides, their precedence, the libpq
// fallbacks, every value check, and secrets never echoed.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/job/settings.hpp>

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <set>
#include <string>

using namespace dolibak;
using namespace dolibak::job;
using dolibak::test::TempDir;
using dolibak::test::write_file;

namespace {

Settings S(std::initializer_list<std::pair<const char*, const char*>> kv) {
    Settings s;
    for (const auto& [k, v] : kv) s[k] = Setting{v, std::nullopt, "--test"};
    return s;
}

const Environment no_env{};

Config cfg(std::initializer_list<std::pair<const char*, const char*>> kv,
           const Environment& env = no_env) {
    return config_from_settings(S(kv), &env);
}

/// The message of the ConfigError that building a config from `kv` raises.
std::string error_of(std::initializer_list<std::pair<const char*, const char*>> kv,
                     const Environment& env = no_env) {
    try {
        (void)config_from_settings(S(kv), &env);
    } catch (const ConfigError& e) {
        return e.what();
    }
    FAIL("no ConfigError");
    return {};
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("value parsers") {
    CHECK(parse_size("16M", "x") == 16u << 20);
    CHECK(parse_size("16MiB", "x") == 16u << 20);
    CHECK(parse_size("1g", "x") == 1ull << 30);
    CHECK(parse_size("512k", "x") == 512u << 10);
    CHECK(parse_size("1048576", "x") == 1048576u);
    CHECK(parse_size(" 2 T ", "x") == 2ull << 40);
    for (const char* bad : {"", "M", "16X", "-1", "1.5G", "99999999999999999999", "16 M B"})
        CHECK_THROWS_AS(parse_size(bad, "x"), ConfigError);

    CHECK(parse_duration("3600", "x").count() == 3600);
    CHECK(parse_duration("3600s", "x").count() == 3600);
    CHECK(parse_duration("90m", "x").count() == 5400);
    CHECK(parse_duration("12h", "x").count() == 43200);
    CHECK(parse_duration("2d", "x").count() == 172800);
    CHECK(parse_duration("1h30m", "x").count() == 5400);
    for (const char* bad : {"", "h", "12x", "1h30", "-5m", "1.5h", "99999999999d"})
        CHECK_THROWS_AS(parse_duration(bad, "x"), ConfigError);

    CHECK(parse_bool("YES", "x"));
    CHECK_FALSE(parse_bool("off", "x"));
    CHECK_THROWS_AS(parse_bool("maybe", "x"), ConfigError);

    CHECK(split_list(" a, b ,,c ") == std::vector<std::string>{"a", "b", "c"});
    CHECK(split_list("").empty());

    CHECK(flag_name("db_host") == "--db-host");
    CHECK(env_name("db_host") == "DOLIBAK_DB_HOST");
}

TEST_CASE("every key maps to the config") {
    TempDir t;
    write_file(t / "ca.pem", "x");
    const Config c = cfg({{"store", "s3://bucket/prefix"},
                          {"s3_endpoint", "http://127.0.0.1:9000"},
                          {"s3_region", "auto"},
                          {"s3_addressing", "path"},
                          {"s3_ca_bundle", "/etc/ca.pem"},
                          {"s3_content_md5", "never"},
                          {"s3_part_size", "32M"},
                          {"s3_parallel_parts", "8"},
                          {"s3_retries", "3"},
                          {"s3_access_key_id", "AKIDEXAMPLE"},
                          {"s3_secret_access_key", "sekrit"},
                          {"s3_session_token", "tok"},
                          {"create_store_dir", "yes"},
                          {"profile", "odoo"},
                          {"db_host", "db.example"},
                          {"db_port", "6543"},
                          {"db_user", "backup"},
                          {"db_name", "erp"},
                          {"db_password", "pw"},
                          {"db_sslmode", "verify-full"},
                          {"pg_tools_dir", "/usr/lib/postgresql/15/bin"},
                          {"dump_mode", "zstd"},
                          {"zstd_level", "7"},
                          {"zstd_threads", "4"},
                          {"db_fingerprint", "count-tms"},
                          {"volatile_tables", "x_log, x_cache*"},
                          {"globals", "true"},
                          {"globals_passwords", "true"},
                          {"docs_dir", "/srv/documents"},
                          {"docs_mode", "packs"},
                          {"docs_compression", "zstd"},
                          {"docs_level", "9"},
                          {"docs_threads", "2"},
                          {"docs_exclude", "*.tmp,cache/"},
                          {"docs_fingerprint", "content"},
                          {"skip_unreadable", "on"},
                          {"retention", "tiered"},
                          {"keep_daily_days", "14"},
                          {"keep_monthly_months", "6"},
                          {"keep_yearly_years", "3"},
                          {"time_zone", "+02:00"},
                          {"lock_ttl", "90m"},
                          {"temp_dir", "/var/tmp"},
                          {"log_format", "json"}});
    CHECK(c.store_url == "s3://bucket/prefix");
    CHECK(c.store.s3.endpoint == "http://127.0.0.1:9000");
    CHECK(c.store.s3.region == "auto");
    CHECK(c.store.s3.addressing == s3::AddressingStyle::path);
    CHECK(c.store.s3.ca_bundle == "/etc/ca.pem");
    CHECK(c.store.s3.content_md5 == s3::ContentMd5::never);
    CHECK(c.store.s3.part_size == 32u << 20);
    CHECK(c.store.s3.parallel_parts == 8);
    CHECK(c.store.s3.retry.max_attempts == 3);
    REQUIRE(c.store.credentials);
    CHECK(c.store.credentials->access_key_id == "AKIDEXAMPLE");
    CHECK(c.store.credentials->secret_access_key.reveal() == "sekrit");
    CHECK(c.store.credentials->session_token.reveal() == "tok");
    CHECK(c.store.create_directory);
    CHECK(c.profile.name == "odoo");
    REQUIRE(c.db);
    CHECK(c.db->conn.host == "db.example");
    CHECK(c.db->conn.port == 6543);
    CHECK(c.db->conn.user == "backup");
    CHECK(c.db->conn.dbname == "erp");
    CHECK(c.db->conn.password.reveal() == "pw");
    CHECK(c.db->conn.sslmode == "verify-full");
    CHECK(c.db->tools_dir == std::filesystem::path("/usr/lib/postgresql/15/bin"));
    CHECK(c.db->dump_mode == pgdump::DumpMode::zstd);
    CHECK(c.db->zstd.level == 7);
    CHECK(c.db->zstd.threads == 4);
    CHECK(c.db->fingerprint_mode == fingerprint::DbMode::count_tms);
    CHECK(c.db->extra_volatile_tables == std::vector<std::string>{"x_log", "x_cache*"});
    CHECK(c.db->globals);
    CHECK(c.db->globals_with_passwords);
    REQUIRE(c.docs);
    CHECK(c.docs->root == std::filesystem::path("/srv/documents"));
    CHECK(c.docs->compression == tarball::Compression::zstd);
    CHECK(c.docs->mode == job::DocsMode::packs);
    CHECK(c.docs->level == 9);
    CHECK(c.docs->threads == 2);
    CHECK(c.docs->extra_excludes == std::vector<std::string>{"*.tmp", "cache/"});
    CHECK(c.docs->content_fingerprint);
    CHECK(c.docs->skip_unreadable);
    CHECK(c.retention.mode == retention::Policy::Mode::tiered);
    CHECK(c.retention.tiered.daily_days == 14);
    CHECK(c.retention.tiered.monthly_months == 6);
    CHECK(c.retention.tiered.yearly_years == 3);
    CHECK(c.retention.zone.name() == "+02:00");
    CHECK(c.lock_ttl == std::chrono::minutes(90));
    CHECK(c.temp_dir == std::filesystem::path("/var/tmp"));
}

TEST_CASE("defaults") {
    const Config c = cfg({{"store", "file:///b"}});
    CHECK_FALSE(c.db);  // no db_name, no PGDATABASE
    CHECK_FALSE(c.docs);
    CHECK_FALSE(c.store.credentials);
    CHECK(c.profile.name == "dolibarr");
    CHECK(c.retention.mode == retention::Policy::Mode::tiered);
    CHECK(c.retention.tiered.daily_days == 30);
    CHECK(c.lock_ttl == std::chrono::hours(12));
    const Config d = cfg({{"store", "file:///b"}, {"db_name", "erp"}, {"docs_dir", "/d"}});
    REQUIRE(d.db);
    CHECK(d.db->conn.port == 5432);
    CHECK(d.db->dump_mode == pgdump::DumpMode::pg_dump_compressed);
    CHECK(d.db->fingerprint_mode == fingerprint::DbMode::xmin);
    REQUIRE(d.docs);
    // zstd for every new run (docs/store-layout.md), 2 workers, zstd's default level.
    CHECK(d.docs->compression == tarball::Compression::zstd);
    CHECK(d.docs->threads == 2);
    CHECK(d.docs->level == -1);
    CHECK_FALSE(d.docs->content_fingerprint);
    // gzip stays selectable; threads then may only be 0, levels are gzip's.
    const Config g = cfg({{"docs_dir", "/d"}, {"docs_compression", "gzip"}, {"docs_level", "9"}});
    REQUIRE(g.docs);
    CHECK(g.docs->compression == tarball::Compression::gzip);
    CHECK(g.docs->level == 9);
    // db = false turns the half off even with a name.
    CHECK_FALSE(cfg({{"db_name", "erp"}, {"db", "false"}}).db);
}

TEST_CASE("count retention") {
    const Config c = cfg({{"keep_last", "3"}, {"keep_daily", "7"}, {"keep_yearly", "unlimited"}});
    CHECK(c.retention.mode == retention::Policy::Mode::count);
    CHECK(c.retention.count.last == 3);
    CHECK(c.retention.count.daily == 7);
    CHECK(c.retention.count.yearly == retention::CountPolicy::unlimited);
    CHECK(
        contains(error_of({{"retention", "count"}, {"keep_daily_days", "3"}}), "keep_daily_days"));
    CHECK(contains(error_of({{"retention", "tiered"}, {"keep_last", "3"}}), "keep_last"));
    CHECK(contains(error_of({{"retention", "count"}}), "no keep_* count"));
}

TEST_CASE("libpq variables fill the db settings that are not set") {
    const Environment env{{"PGHOST", "/run/pg"},     {"PGPORT", "5433"},
                          {"PGUSER", "alice"},       {"PGDATABASE", "dolibarr"},
                          {"PGPASSWORD", "libpqpw"}, {"PGSSLMODE", "require"}};
    const Config c = cfg({}, env);
    REQUIRE(c.db);  // PGDATABASE turns the half on
    CHECK(c.db->conn.host == "/run/pg");
    CHECK(c.db->conn.port == 5433);
    CHECK(c.db->conn.user == "alice");
    CHECK(c.db->conn.dbname == "dolibarr");
    CHECK(c.db->conn.password.reveal() == "libpqpw");
    CHECK(c.db->conn.sslmode == "require");
    const Config d = cfg({{"db_host", "h"},
                          {"db_port", "1"},
                          {"db_user", "u"},
                          {"db_name", "n"},
                          {"db_password", "p"},
                          {"db_sslmode", "disable"}},
                         env);
    CHECK(d.db->conn.host == "h");
    CHECK(d.db->conn.port == 1);
    CHECK(d.db->conn.user == "u");
    CHECK(d.db->conn.dbname == "n");
    CHECK(d.db->conn.password.reveal() == "p");
    CHECK(d.db->conn.sslmode == "disable");
    CHECK(contains(error_of({}, Environment{{"PGPORT", "x"}, {"PGDATABASE", "d"}}), "PGPORT"));
}

TEST_CASE("every bad value names the key, its source, the value and what is allowed") {
    struct Case {
        const char* key;
        const char* value;
        const char* allowed;
    };
    const Case cases[] = {
        {"store", "ftp://x", "s3://bucket/prefix or file:///dir"},
        {"s3_endpoint", "minio:9000", "http:// or https://"},
        {"s3_addressing", "sideways", "auto, path, virtual"},
        {"s3_part_size", "1M", "from 5M to 5G"},
        {"s3_part_size", "lots", "a size in bytes"},
        {"s3_parallel_parts", "0", "from 1 to 64"},
        {"s3_retries", "many", "from 1 to 100"},
        {"create_store_dir", "perhaps", "true or false"},
        {"profile", "sap", "dolibarr, odoo"},
        {"db_port", "70000", "from 1 to 65535"},
        {"db_sslmode", "always", "verify-full"},
        {"dump_mode", "gzip", "pg_dump, zstd"},
        {"dump_level", "10", "from 0 to 9"},
        {"zstd_level", "0", "from 1 to 19"},
        {"zstd_threads", "-1", "from 0 to 64"},
        {"db_fingerprint", "md5", "xmin, content, count-tms"},
        {"globals", "2", "true or false"},
        {"docs_compression", "bzip2", "gzip, zstd"},
        {"docs_mode", "zip", "auto, tar, packs"},
        {"docs_fingerprint", "mtime", "metadata, content"},
        {"skip_unreadable", "sometimes", "true or false"},
        {"retention", "forever", "tiered, count"},
        {"keep_daily_days", "-3", "from 0 to 36500"},
        {"keep_last", "lots", "'unlimited'"},
        {"lock_ttl", "soon", "a duration"},
        {"lock_ttl", "10s", "at least 60s"},
        {"log_format", "xml", "text, json"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.key);
        const std::string e = error_of({{c.key, c.value}, {"db_name", "x"}, {"docs_dir", "/d"}});
        CHECK(contains(e, c.key));
        CHECK(contains(e, "--test"));
        CHECK(contains(e, std::string("'") + c.value + "'"));
        CHECK(contains(e, c.allowed));
    }
    CHECK(contains(error_of({{"time_zone", "Mars/Olympus"}}), "time_zone"));
    CHECK(contains(error_of({{"db", "true"}}), "db_name"));
    CHECK(contains(
        error_of({{"docs_dir", "/d"}, {"docs_compression", "gzip"}, {"docs_threads", "2"}}),
        "zstd only"));
    // The default compression is zstd: its levels start at 1 (0 was gzip's "store").
    CHECK(contains(error_of({{"docs_dir", "/d"}, {"docs_level", "0"}}), "docs_level"));
    CHECK(contains(error_of({{"db_name", "x"}, {"dump_mode", "zstd"}, {"dump_level", "3"}}),
                   "zstd_level"));
    CHECK(contains(error_of({{"db_name", "x"}, {"globals_passwords", "true"}}), "globals"));
    CHECK(contains(error_of({{"s3_access_key_id", "AKID"}}), "go together"));
    CHECK(contains(error_of({{"nonsense", "1"}}), "nonsense"));
}

TEST_CASE("secret values are never echoed") {
    const std::string secret = "Hunter2-SECRET-VALUE";
    Settings s;
    s["db_name"] = Setting{"x", std::nullopt, "t"};
    for (const char* key : {"db_password", "s3_secret_access_key", "s3_session_token"}) {
        // A file holding a secret in the wrong JSON type.
        try {
            (void)settings_from_json(std::string("{\"") + key + "\": [\"" + secret + "\"]}", "f");
            FAIL("accepted");
        } catch (const ConfigError& e) {
            CHECK_FALSE(contains(e.what(), secret));
            CHECK(contains(e.what(), key));
        }
    }
    // Malformed JSON right at the secret.
    try {
        (void)settings_from_json("{\"db_password\": " + secret + "}", "conf.json");
        FAIL("accepted");
    } catch (const ConfigError& e) {
        CHECK_FALSE(contains(e.what(), secret));
        CHECK(contains(e.what(), "conf.json"));
    }
    // A session token without keys.
    try {
        (void)cfg({{"s3_session_token", "Hunter2-SECRET-VALUE"}});
        FAIL("accepted");
    } catch (const ConfigError& e) {
        CHECK_FALSE(contains(e.what(), secret));
    }
    Settings with_secret = S({{"db_password", "Hunter2-SECRET-VALUE"}, {"db_name", "n"}});
    CHECK(secret_values(with_secret) == std::vector<std::string>{secret});
    // No flag exists for a secret: the settings table marks them.
    for (const auto& k : setting_keys())
        if (k.key == "db_password" || k.key.starts_with("s3_secret") ||
            k.key == "s3_session_token" || k.key == "s3_access_key_id")
            CHECK(k.secret);
}

TEST_CASE("config file: types, lists, unknown keys, mode warning") {
    TempDir t;
    const auto f = t / "dolibak.json";
    write_file(f, R"({"store": "file:///b", "db_port": 5433, "globals": true,
                     "docs_dir": "/d", "docs_exclude": ["a,b", "c"], "lock_ttl": "2h",
                     "db_name": null})");
    ::chmod(f.c_str(), 0644);
    std::vector<std::string> warnings;
    const Settings s = settings_from_file(f, [&](const std::string& w) { warnings.push_back(w); });
    CHECK(warnings.empty());  // no secret inside
    CHECK(s.at("db_port").value == "5433");
    CHECK(s.at("db_port").source == f.string());
    CHECK(s.at("globals").value == "true");
    CHECK_FALSE(s.contains("db_name"));
    const Config c = config_from_settings(s, &no_env);
    // A JSON array keeps items with commas whole.
    CHECK(c.docs->extra_excludes == std::vector<std::string>{"a,b", "c"});
    CHECK(c.lock_ttl == std::chrono::hours(2));

    write_file(f, R"({"store": "file:///b", "sotre": "x"})");
    try {
        (void)settings_from_file(f);
        FAIL("accepted");
    } catch (const ConfigError& e) {
        CHECK(contains(e.what(), "sotre"));
        CHECK(contains(e.what(), f.string()));
        CHECK(contains(e.what(), "did you mean 'store'?"));
    }
    // Nothing near enough: no suggestion.
    try {
        (void)settings_from_json(R"({"frobnicate": 1})", "x");
        FAIL("accepted");
    } catch (const ConfigError& e) {
        CHECK(contains(e.what(), "frobnicate"));
        CHECK_FALSE(contains(e.what(), "did you mean"));
    }
    CHECK_THROWS_AS(settings_from_json("[1,2]", "x"), ConfigError);
    CHECK_THROWS_AS(settings_from_json(R"({"db_port": 1.5})", "x"), ConfigError);
    CHECK_THROWS_AS(settings_from_json(R"({"store": {"a": 1}})", "x"), ConfigError);
    // A config file that is not there is a configuration error (the CLI's exit 2).
    CHECK_THROWS_WITH_AS(settings_from_file(t / "missing.json"),
                         doctest::Contains((t / "missing.json").c_str()), ConfigError);

    write_file(f, R"({"db_password": "pw"})");
    ::chmod(f.c_str(), 0640);
    (void)settings_from_file(f, [&](const std::string& w) { warnings.push_back(w); });
    REQUIRE(warnings.size() == 1);
    CHECK(contains(warnings[0], "0640"));
    CHECK(contains(warnings[0], "chmod 600"));
    CHECK_FALSE(contains(warnings[0], "pw\""));
    ::chmod(f.c_str(), 0600);
    (void)settings_from_file(f, [&](const std::string& w) { warnings.push_back(w); });
    CHECK(warnings.size() == 1);
}

TEST_CASE("every key has a topic, and the topics group them") {
    const std::set<std::string> topics{"store",         "S3",         "application profile",
                                       "database",      "documents",  "retention",
                                       "notifications", "encryption", "run"};
    for (const auto& k : setting_keys()) {
        CAPTURE(k.key);
        CHECK(topics.count(k.topic) == 1);
    }
    CHECK(find_setting("store")->topic == "store");
    CHECK(find_setting("s3_part_size")->topic == "S3");
    CHECK(find_setting("pg_tools_dir")->topic == "database");
    CHECK(find_setting("skip_unreadable")->topic == "documents");
    CHECK(find_setting("keep_last")->topic == "retention");
    CHECK(find_setting("webhook_url")->topic == "notifications");
    CHECK(find_setting("age_identity_file")->topic == "encryption");
    CHECK(find_setting("progress_interval")->topic == "run");
    CHECK(find_setting("progress_interval")->kind == SettingKind::duration);
}

TEST_CASE("precedence: override > environment > config file > default") {
    TempDir t;
    const auto f = t / "c.json";
    write_file(f, R"({"store": "file:///from-file", "db_host": "file-host", "db_port": 1111,
                     "db_name": "file-db", "lock_ttl": "1h"})");
    const Environment env{{"DOLIBAK_DB_HOST", "env-host"},
                          {"DOLIBAK_DB_PORT", "2222"},
                          {"DOLIBAK_PYTHONPATH", "/x"},
                          {"DOLIBAK_STROE", "typo"},
                          {"PGHOST", "pg-host"}};
    std::vector<std::string> warnings;
    SettingsSources src;
    src.config_file = f;
    src.env = &env;
    src.overrides = S({{"db_port", "3333"}});
    src.warn = [&](const std::string& w) { warnings.push_back(w); };
    const Config c = config_from_settings(load_settings(src), &env);
    CHECK(c.store_url == "file:///from-file");  // file only
    CHECK(c.db->conn.host == "env-host");       // env beats the file (and PGHOST)
    CHECK(c.db->conn.port == 3333);             // override beats env
    CHECK(c.db->conn.dbname == "file-db");
    CHECK(c.lock_ttl == std::chrono::hours(1));
    REQUIRE(warnings.size() == 1);  // DOLIBAK_STROE; DOLIBAK_PYTHONPATH is not a setting
    CHECK(contains(warnings[0], "DOLIBAK_STROE"));
    CHECK(contains(warnings[0], "did you mean DOLIBAK_STORE?"));

    // DOLIBAK_CONFIG names the file when none is given; use_environment=false ignores both.
    const Environment env2{{"DOLIBAK_CONFIG", f.string()}, {"DOLIBAK_DB_HOST", "env-host"}};
    SettingsSources src2;
    src2.env = &env2;
    CHECK(load_settings(src2).at("db_host").value == "env-host");
    CHECK(load_settings(src2).at("store").value == "file:///from-file");
    src2.use_environment = false;
    CHECK(load_settings(src2).empty());

    // Unknown override keys are refused.
    SettingsSources src3;
    src3.env = &no_env;
    src3.overrides = S({{"db_pasword", "x"}});
    CHECK_THROWS_WITH_AS(load_settings(src3), doctest::Contains("db_pasword"), ConfigError);
    CHECK_THROWS_WITH_AS(load_settings(src3), doctest::Contains("did you mean 'db_password'?"),
                         ConfigError);
}

TEST_CASE("a profile file extends the chosen profile") {
    TempDir t;
    write_file(t / "p.json", R"({"volatile_tables": {"add": ["llx_mymodule_log"]}})");
    const Config c = cfg({{"profile_file", (t / "p.json").c_str()}});
    CHECK(c.profile.name == "dolibarr");
    CHECK(c.profile.is_volatile_table("llx_mymodule_log"));
    CHECK(c.profile.is_volatile_table("llx_const"));
    CHECK_THROWS_WITH_AS(cfg({{"profile_file", (t / "none.json").c_str()}}),
                         doctest::Contains("none.json"), ConfigError);
    write_file(t / "bad.json", R"({"volatile_tablez": []})");
    CHECK_THROWS_WITH_AS(cfg({{"profile_file", (t / "bad.json").c_str()}}),
                         doctest::Contains("bad.json"), ConfigError);
}

TEST_CASE("restore --to: a name or a conninfo keeps the configured connection") {
    pgdump::ConnectionParams configured;
    configured.host = "db.example";
    configured.port = 6543;
    configured.user = "dolibak_backup";
    configured.dbname = "dolibarr";
    configured.password = Secret("configured-pw");
    configured.sslmode = "require";
    const job::Environment env{{"PGHOST", "/elsewhere"}, {"PGUSER", "someone"}};

    // A bare name: only the database changes; the configured user's password goes with it.
    auto t = job::target_connection("dolibarr_drill", "--to", &env, &configured);
    CHECK(t.host == "db.example");
    CHECK(t.port == 6543);
    CHECK(t.user == "dolibak_backup");
    CHECK(t.dbname == "dolibarr_drill");
    CHECK(t.sslmode == "require");
    CHECK(t.password.reveal() == "configured-pw");
    CHECK(t.describe() == "dolibak_backup@db.example:6543/dolibarr_drill");

    // A conninfo naming another user: that user's password is the target's, never the
    // configured user's.
    t = job::target_connection("dbname=drill user=dolibarr", "--to", &env, &configured);
    CHECK(t.host == "db.example");
    CHECK(t.user == "dolibarr");
    CHECK(t.password.empty());
    const job::Environment with_target{{"DOLIBAK_TARGET_PASSWORD", "target-pw"}};
    t = job::target_connection("dbname=drill user=dolibarr", "--to", &with_target, &configured);
    CHECK(t.password.reveal() == "target-pw");
    t = job::target_connection("drill", "--to", &with_target, &configured);
    CHECK(t.password.reveal() == "target-pw");

    // Without a configured database: the libpq variables, then libpq's own defaults.
    t = job::target_connection("drill", "--to", &env);
    CHECK(t.host == "/elsewhere");
    CHECK(t.user == "someone");
    const job::Environment none;
    t = job::target_connection("drill", "--to", &none);
    CHECK(t.host == "/var/run/postgresql");
    CHECK_FALSE(t.user.empty());
    CHECK(t.port == 5432);
    // A configured database left to libpq's defaults gets them too.
    pgdump::ConnectionParams bare;
    bare.dbname = "dolibarr";
    t = job::target_connection("drill", "--to", &none, &bare);
    CHECK(t.host == "/var/run/postgresql");
    CHECK_FALSE(t.user.empty());
    CHECK(t.dbname == "drill");
}
