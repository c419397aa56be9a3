// The reports as versioned JSON documents (docs/json.md): the "schema" field, run summaries
// with the manifest only on request, and log lines with only the fields an event has.
#include <dolibak/job/report.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace dolibak;
using nlohmann::json;

namespace {

job::RunEntry run_entry() {
    job::RunEntry run;
    run.time = parse_timestamp("20261123T020000Z");
    run.manifest_key = "manifests/20261123T020000Z.json";
    run.loaded = true;
    auto& m = run.manifest;
    m.time = m.started_at = run.time;
    m.finished_at = run.time + std::chrono::seconds(95);
    m.tool_version = "0.1.0";
    m.profile = "dolibarr";
    catalog::ManifestHalf db;
    db.status = catalog::ManifestHalf::Status::uploaded;
    db.key = "db/20261123T020000Z.dump";
    db.bytes = 1000;
    db.sha256 = std::string(64, 'a');
    db.format = "pg_dump-custom";
    catalog::ManifestHalf docs;
    docs.status = catalog::ManifestHalf::Status::unchanged;
    docs.key = "docs/20261101T020000Z.tar.gz";
    docs.bytes = 500;
    docs.sha256 = std::string(64, 'b');
    docs.archive_summary_json = R"({"exclusions":[{"bytes":7,"files":1,"pattern":"*/temp/*"}]})";
    m.halves = {{"db", db}, {"docs", docs}};
    return run;
}

}  // namespace

TEST_CASE("every document names its kind and major version") {
    CHECK(job::schema_id("backup") == "dolibak.backup/1");
    CHECK(json::parse(job::to_json(job::CheckReport{}))["schema"] == "dolibak.check/1");
    CHECK(json::parse(job::to_json(job::BackupReport{}))["schema"] == "dolibak.backup/1");
    CHECK(json::parse(job::to_json(job::PruneReport{}))["schema"] == "dolibak.prune/1");
    CHECK(json::parse(job::to_json(job::StatusReport{}))["schema"] == "dolibak.status/1");
    CHECK(json::parse(job::to_json(job::VerifyReport{}))["schema"] == "dolibak.verify/1");
}

TEST_CASE("list: a summary per run, the whole manifest only when asked for") {
    job::ListReport listing;
    listing.runs.push_back(run_entry());
    const auto summary = json::parse(job::to_json(listing))["runs"][0];
    CHECK_FALSE(summary.contains("manifest"));
    CHECK(summary["ts"] == "20261123T020000Z");
    CHECK(summary["result"] == "success");
    CHECK(summary["duration_seconds"] == 95.0);
    CHECK(summary["uploaded_bytes"] == 1000);  // the unchanged half stored nothing
    CHECK(summary["halves"]["docs"]["status"] == "unchanged");
    CHECK(summary["halves"]["docs"]["exclusions"][0]["files"] == 1);
    CHECK(summary["halves"]["db"]["exclusions"] == json::array());
    CHECK(summary["halves"]["db"]["retention"].is_null());  // not planned
    listing.runs[0].retention["db"] = {true, {"daily"}, "newest of day 2026-11-23"};
    const auto planned = json::parse(job::to_json(listing))["runs"][0]["halves"]["db"];
    CHECK(planned["retention"] ==
          json{{"keep", true}, {"reasons", {"daily"}}, {"detail", "newest of day 2026-11-23"}});

    job::JsonOptions o;
    o.manifests = true;
    const auto full = json::parse(job::to_json(listing, o))["runs"][0];
    REQUIRE(full.contains("manifest"));
    CHECK(full["manifest"] == json::parse(listing.runs[0].manifest.to_json()));

    job::ListReport unreadable;
    auto broken = run_entry();
    broken.loaded = false;
    broken.error = "manifest: halves: required";
    unreadable.runs.push_back(broken);
    const auto r = json::parse(job::to_json(unreadable, o))["runs"][0];
    CHECK(r["result"].is_null());
    CHECK(r["error"] == "manifest: halves: required");
    CHECK_FALSE(r.contains("manifest"));
}

TEST_CASE("a backup half reports its table changes") {
    job::BackupReport r;
    job::HalfReport h;
    h.half = "db";
    h.outcome = job::HalfReport::Outcome::would_upload;
    h.table_changes = job::TableChanges{true, false, {"public.llx_b"}, {}, {}};
    r.halves.push_back(h);
    h.half = "docs";
    h.table_changes.reset();
    r.halves.push_back(h);
    const auto j = json::parse(job::to_json(r));
    CHECK(j["halves"][0]["table_changes"]["changed"] == json::array({"public.llx_b"}));
    CHECK(j["halves"][0]["table_changes"]["known"] == true);
    CHECK(j["halves"][1]["table_changes"].is_null());
}

TEST_CASE("a log line carries the fields its event has, and only those") {
    job::Event e{job::Event::Kind::warning, "docs", "failed: disk full", 0, std::nullopt};
    e.outcome = "failed";
    const auto t = parse_timestamp("20261123T020001Z");
    const auto line = job::to_json_line(job::log_record(e, t));
    CHECK(line.find('\n') == std::string::npos);
    CHECK(json::parse(line) == json{{"schema", "dolibak.log/1"},
                                    {"time", "2026-11-23T02:00:01Z"},
                                    {"level", "warning"},
                                    {"message", "failed: disk full"},
                                    {"half", "docs"},
                                    {"outcome", "failed"}});
    job::Event stored{job::Event::Kind::info, "db", "stored", 0, std::nullopt};
    stored.key = "db/x.dump";
    stored.size = 0;  // a size of zero is still a size
    stored.seconds = 1.5;
    const auto j = json::parse(job::to_json_line(job::log_record(stored, t)));
    CHECK(j["key"] == "db/x.dump");
    CHECK(j["bytes"] == 0);
    CHECK(j["seconds"] == 1.5);
    CHECK(j["level"] == "info");
    CHECK_FALSE(j.contains("outcome"));
}
