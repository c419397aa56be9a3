// Time stamps and store keys.
#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/timestamp.hpp>

#include <doctest/doctest.h>

#include <cstdio>
#include <optional>

using namespace dolibak;
using namespace std::chrono;

TEST_CASE("time stamps parse strictly and round-trip") {
    const TimePoint t = parse_timestamp("20261123T020000Z");
    CHECK(t == sys_days{2026y / November / 23} + hours{2});
    CHECK(format_timestamp(t) == "20261123T020000Z");
    CHECK(format_timestamp(sys_days{2024y / February / 29} + hours{23} + minutes{59} +
                           seconds{59}) == "20240229T235959Z");
    CHECK(parse_timestamp("20240229T000000Z") == sys_days{2024y / February / 29});
    CHECK(parse_timestamp("19700101T000000Z").time_since_epoch().count() == 0);

    for (const char* bad :
         {"", "20261123T020000", "20261123T020000z", "20261123 020000Z", "2026-11-23T02:00:00Z",
          "20261123T020000Z ", " 20261123T020000Z", "20261323T020000Z", "20261100T020000Z",
          "20230229T000000Z", "20261131T000000Z", "20261123T240000Z", "20261123T026000Z",
          "20261123T020060Z", "2026112xT020000Z", "+0261123T020000Z", "20261123T02000Z"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(parse_timestamp(bad), ConfigError);
        CHECK_FALSE(try_parse_timestamp(bad).has_value());
    }
    CHECK_THROWS_WITH(parse_timestamp("20261131T000000Z"),
                      doctest::Contains("'20261131T000000Z': no such day in that month"));
    CHECK_THROWS_WITH(parse_timestamp("20261123T020000"), doctest::Contains("YYYYMMDDTHHMMSSZ"));
    CHECK_THROWS_AS(format_timestamp(sys_days{10000y / January / 1}), ConfigError);
}

TEST_CASE("try_parse_timestamp (its own fast parser) agrees with parse_timestamp") {
    // Every day 31 per month (the invalid ones included) of years around the Gregorian rules'
    // edges, at a time of day that varies: both accept the same stamps, at the same times.
    int checked = 0, valid = 0;
    for (const int y :
         {0, 1, 4, 99, 100, 399, 400, 1600, 1900, 1969, 1970, 2000, 2024, 2026, 2100, 2400, 9999})
        for (int m = 0; m <= 13; ++m)
            for (int d = 0; d <= 32; ++d) {
                char text[40];
                std::snprintf(text, sizeof text, "%04d%02d%02dT%02d%02d%02dZ", y, m, d,
                              (d * 7) % 25, (m * 11 + d) % 61, (y + d) % 61);
                CAPTURE(text);
                std::optional<TimePoint> strict;
                try {
                    strict = parse_timestamp(text);
                } catch (const ConfigError&) {
                }
                CHECK(try_parse_timestamp(text) == strict);
                ++checked;
                valid += strict.has_value();
            }
    CHECK(checked == 17 * 14 * 33);
    CHECK(valid > 17 * 300);
    CHECK(try_parse_timestamp("00000101T000000Z") == sys_days{0y / January / 1});
    CHECK(try_parse_timestamp("99991231T235959Z") ==
          sys_days{9999y / December / 31} + hours{23} + minutes{59} + seconds{59});
}

TEST_CASE("RFC 3339 in UTC") {
    const TimePoint t = parse_rfc3339("2026-11-23T02:00:00Z");
    CHECK(t == parse_timestamp("20261123T020000Z"));
    CHECK(format_rfc3339(t) == "2026-11-23T02:00:00Z");
    for (const char* bad :
         {"2026-11-23T02:00:00", "2026-11-23 02:00:00Z", "2026-11-23T02:00:00+01:00",
          "2026-02-30T02:00:00Z", "2026-11-23T02:00:00.5Z"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(parse_rfc3339(bad), ConfigError);
    }
}

TEST_CASE("store keys") {
    const TimePoint t = parse_timestamp("20261123T020000Z");
    CHECK(catalog::make_store_key("backups/prod", catalog::ObjectKind::db_dump, t) ==
          "backups/prod/db/20261123T020000Z.dump");
    CHECK(catalog::make_store_key("backups/prod/", catalog::ObjectKind::docs_tar_gz, t) ==
          "backups/prod/docs/20261123T020000Z.tar.gz");
    CHECK(catalog::make_store_key("", catalog::ObjectKind::manifest, t) ==
          "manifests/20261123T020000Z.json");

    struct Case {
        const char* key;
        const char* prefix;
        const char* half;
        catalog::ObjectKind kind;
    };
    for (const Case& c :
         {Case{"prod/db/20261123T020000Z.dump", "prod", "db", catalog::ObjectKind::db_dump},
          Case{"a/b/db/20261123T020000Z.dump.zst", "a/b", "db", catalog::ObjectKind::db_dump_zst},
          Case{"docs/20261123T020000Z.tar.gz", "", "docs", catalog::ObjectKind::docs_tar_gz},
          Case{"x/docs/20261123T020000Z.tar.zst", "x", "docs", catalog::ObjectKind::docs_tar_zst},
          Case{"x/docs/20261123T020000Z.index.zst", "x", "docs", catalog::ObjectKind::docs_index},
          Case{"x/manifests/20261123T020000Z.json", "x", "manifests",
               catalog::ObjectKind::manifest}}) {
        CAPTURE(c.key);
        const auto k = catalog::parse_store_key(c.key);
        REQUIRE(k.has_value());
        CHECK(k->prefix == c.prefix);
        CHECK(k->half == c.half);
        CHECK(k->kind == c.kind);
        CHECK(k->time == t);
        CHECK(catalog::make_store_key(k->prefix, k->kind, k->time) == c.key);
        CHECK(catalog::is_backup_object(k->kind) == (c.kind != catalog::ObjectKind::manifest));
    }
    for (const char* other :
         {"prod/.fp-db", "prod/.fp-docs", "prod/db/20261123T020000Z.dump.tmp",
          "prod/db/20261123T020000Z.tar.gz", "prod/docs/20261123T020000Z.dump",
          "prod/db/20261399T020000Z.dump", "prod/db/latest.dump", "20261123T020000Z.dump",
          "prod/dbx/20261123T020000Z.dump", "prod/db/x20261123T020000Z.dump",
          "prod/manifests/20261123T020000Z.json/", "prod/lock",
          "prod/db/20261123T020000Z.index.zst", "prod/packs/9b/9b2e.pack"}) {
        CAPTURE(other);
        CHECK_FALSE(catalog::parse_store_key(other).has_value());
    }
}
