// Manifests: round trip, strict parsing with clear errors.
#include <dolibak/catalog/manifest.hpp>
#include <dolibak/core/error.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <functional>

using namespace dolibak;
using nlohmann::json;

namespace {

catalog::Manifest sample() {
    catalog::Manifest m;
    m.time = parse_timestamp("20261123T020000Z");
    m.started_at = m.time;
    m.finished_at = m.time + std::chrono::seconds{95};
    m.tool_version = "0.1.0";
    m.profile = "dolibarr";
    catalog::ManifestHalf db;
    db.status = catalog::ManifestHalf::Status::uploaded;
    db.key = "prod/db/20261123T020000Z.dump";
    db.bytes = 123456789;
    db.sha256 = std::string(64, 'a');
    db.format = "pg_dump-custom";
    db.archive_summary_json = R"({"rows":{"llx_facture":5000},"tables":272})";
    db.fingerprint_json = R"({"digest":"abc","mode":"content"})";
    db.tool_version = "pg_dump (PostgreSQL) 15.8";
    db.server_version = "15.8";
    db.duration_seconds = 80.25;
    catalog::ManifestHalf docs;
    docs.status = catalog::ManifestHalf::Status::unchanged;
    docs.key = "prod/docs/20261101T020000Z.tar.gz";
    docs.bytes = 42;
    docs.sha256 = std::string(64, '0');
    docs.duration_seconds = 0.5;
    m.halves = {{"db", db}, {"docs", docs}};
    return m;
}

std::string mutate(const std::function<void(json&)>& f) {
    json j = json::parse(sample().to_json());
    f(j);
    return j.dump();
}

void check_refused(const std::function<void(json&)>& f, const char* message) {
    CAPTURE(message);
    CHECK_THROWS_WITH_AS(catalog::Manifest::from_json(mutate(f)), doctest::Contains(message),
                         FormatError);
}

}  // namespace

TEST_CASE("manifest round trip") {
    const catalog::Manifest m = sample();
    const std::string text = m.to_json();
    const catalog::Manifest back = catalog::Manifest::from_json(text);
    CHECK(back == m);
    CHECK(back.to_json() == text);
    const json j = json::parse(text);
    CHECK(j["schema"] == "dolibak-manifest");
    CHECK(j["version"] == 1);
    CHECK(j["ts"] == "20261123T020000Z");
    CHECK(j["started_at"] == "2026-11-23T02:00:00Z");
    CHECK(j["duration_seconds"] == 95);
    CHECK(j["result"] == "success");
    CHECK(j["halves"]["db"]["archive_summary"]["tables"] == 272);
    CHECK(j["halves"]["docs"]["status"] == "unchanged");
    CHECK(j["halves"]["docs"]["archive_summary"].is_null());
    CHECK(m.succeeded());
    CHECK(m.keys() == std::vector<std::string>{"prod/db/20261123T020000Z.dump",
                                               "prod/docs/20261101T020000Z.tar.gz"});
}

TEST_CASE("failed and skipped halves") {
    catalog::Manifest m = sample();
    m.halves["docs"] = catalog::ManifestHalf{};
    m.halves["docs"].status = catalog::ManifestHalf::Status::failed;
    m.halves["docs"].error = "tar: permission denied";
    m.halves["globals"] = catalog::ManifestHalf{};
    m.halves["globals"].status = catalog::ManifestHalf::Status::skipped;
    const auto back = catalog::Manifest::from_json(m.to_json());
    CHECK(back == m);
    CHECK_FALSE(back.succeeded());
    CHECK(json::parse(m.to_json())["result"] == "failed");
    CHECK(back.keys() == std::vector<std::string>{"prod/db/20261123T020000Z.dump"});
    m.halves["docs"].error.clear();
    CHECK_THROWS_WITH_AS(m.to_json(), doctest::Contains("halves.docs.error: required"),
                         FormatError);
}

TEST_CASE("strict parsing names the field") {
    CHECK_THROWS_WITH_AS(catalog::Manifest::from_json("{not json"),
                         doctest::Contains("not valid JSON"), FormatError);
    CHECK_THROWS_WITH_AS(catalog::Manifest::from_json("[1]"),
                         doctest::Contains("must be a JSON object"), FormatError);
    check_refused([](json& j) { j["schema"] = "other"; }, "schema: expected 'dolibak-manifest'");
    check_refused([](json& j) { j.erase("version"); }, "version: missing");
    check_refused([](json& j) { j["version"] = "1"; }, "version: must be an integer");
    check_refused([](json& j) { j["version"] = 2; }, "newer than this dolibak understands");
    check_refused([](json& j) { j["ts"] = "2026-11-23"; }, "ts: invalid time stamp");
    check_refused([](json& j) { j["started_at"] = "20261123T020000Z"; }, "started_at: invalid");
    check_refused([](json& j) { j["finished_at"] = "2026-11-22T00:00:00Z"; },
                  "finished_at: is before started_at");
    check_refused([](json& j) { j["tool"] = "dolibak"; }, "tool: must be an object");
    check_refused([](json& j) { j["halves"] = json::object(); }, "halves: must be a non-empty");
    check_refused([](json& j) { j["halves"]["db"]["status"] = "done"; },
                  "halves.db.status: 'done' is not one of");
    check_refused([](json& j) { j["halves"]["db"]["sha256"] = "ABC"; },
                  "halves.db.sha256: must be 64 lower-case hex digits");
    check_refused([](json& j) { j["halves"]["db"].erase("key"); }, "halves.db.key: required");
    check_refused([](json& j) { j["halves"]["db"]["bytes"] = -1; },
                  "halves.db.bytes: must be a non-negative integer");
    check_refused([](json& j) { j["halves"]["db"].erase("bytes"); }, "halves.db.bytes: missing");
    check_refused([](json& j) { j["halves"]["db"]["archive_summary"] = "x"; },
                  "halves.db.archive_summary: must be a JSON object or null");
    check_refused([](json& j) { j["halves"]["docs"]["duration_seconds"] = -3; },
                  "halves.docs.duration_seconds: must be a finite number >= 0");
    // Unknown fields are ignored (forward compatible within a version).
    CHECK_NOTHROW(catalog::Manifest::from_json(mutate([](json& j) { j["later_field"] = 1; })));
}

TEST_CASE("opaque JSON fields must be objects when written") {
    catalog::Manifest m = sample();
    m.halves["db"].archive_summary_json = "[1,2]";
    CHECK_THROWS_AS(m.to_json(), FormatError);
    m.halves["db"].archive_summary_json = "{oops";
    CHECK_THROWS_AS(m.to_json(), FormatError);
}
