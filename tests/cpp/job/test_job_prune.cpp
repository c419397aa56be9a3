// Job::prune over three years of synthetic history: the planner decides over runs (one
// candidate per run and half), every object a kept run names stays, whichever run uploaded it,
// the newest manifest's objects stay, manifests and verification records go with their runs.
#include "support/testsupport.hpp"

#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/job/job.hpp>

#include <doctest/doctest.h>

#include <map>
#include <set>

using namespace dolibak;

namespace {

TimePoint at(int y, int m, int d, int h) {
    using namespace std::chrono;
    return sys_days{year{y} / m / d} + hours{h};
}

struct History {
    test::TempDir dir;
    job::Config config;
    /// One candidate per run and half, keyed as the catalog keys them:
    /// "manifests/<ts>.json#<half>".
    std::vector<retention::Backup> backups;
    /// The objects each candidate's run names.
    std::map<std::string, std::vector<std::string>> named_by_run_of;
    std::size_t objects = 0;
    TimePoint newest{};

    /// `days` daily runs at 02:00 UTC ending on 2026-11-23; the db half is unchanged every
    /// third day (its run has a manifest but no db object).
    explicit History(int days) {
        config.store_url = "file://" + dir.path().string();
        job::Job j(config);
        newest = at(2026, 11, 23, 2);
        for (int i = 0; i < days; ++i) {
            const TimePoint t = newest - std::chrono::days(i);
            catalog::Manifest m;
            m.time = m.started_at = m.finished_at = t;
            const bool db_changed = i % 3 != 1 || i == 0;
            const std::string docs_key =
                catalog::make_store_key("", catalog::ObjectKind::docs_tar_gz, t);
            j.store().put_bytes(docs_key, "docs");
            ++objects;
            const auto manifest_key = catalog::make_store_key("", catalog::ObjectKind::manifest, t);
            backups.push_back({manifest_key + "#docs", t, "docs", true});
            catalog::ManifestHalf docs;
            docs.key = docs_key;
            docs.bytes = 4;
            docs.sha256 = std::string(64, 'a');
            m.halves["docs"] = docs;
            catalog::ManifestHalf db;
            if (db_changed) {
                db.key = catalog::make_store_key("", catalog::ObjectKind::db_dump, t);
                j.store().put_bytes(db.key, "db");
                ++objects;
            } else {
                db.status = catalog::ManifestHalf::Status::unchanged;
                // It names the object of the run before it (a changed one: i + 1 is not 1 mod 3).
                db.key = catalog::make_store_key("", catalog::ObjectKind::db_dump,
                                                 t - std::chrono::days(1));
            }
            backups.push_back({manifest_key + "#db", t, "db", true});
            named_by_run_of[manifest_key + "#db"] = {docs_key, db.key};
            named_by_run_of[manifest_key + "#docs"] = {docs_key, db.key};
            db.bytes = 2;
            db.sha256 = std::string(64, 'b');
            m.halves["db"] = db;
            j.store().put_bytes(manifest_key, m.to_json());
        }
        config.now = [t = newest] { return t; };
    }
};

std::set<std::string> keys(store::Store& s, const std::string& prefix) {
    std::set<std::string> out;
    for (const auto& o : s.list(prefix)) out.insert(o.key);
    return out;
}

}  // namespace

TEST_CASE("prune over three years applies exactly the planner's plan") {
    History h(3 * 365);
    job::Job j(h.config);
    const auto expected = retention::plan(h.backups, h.newest, h.config.retention);
    // A kept run keeps every object it names.
    std::set<std::string> expected_kept;
    for (const auto& d : expected.decisions)
        if (d.keep)
            for (const auto& k : h.named_by_run_of.at(std::string(expected.backup(d).key)))
                expected_kept.insert(k);
    // A verification record every tenth day: each goes with its run.
    std::set<std::string> records, expected_records;
    std::set<TimePoint> kept_times;
    for (const auto& d : expected.decisions)
        if (d.keep) kept_times.insert(expected.backup(d).time);
    for (std::size_t i = 0; i < h.backups.size(); i += 20) {
        const auto key =
            catalog::make_store_key("", catalog::ObjectKind::verification, h.backups[i].time);
        if (!records.insert(key).second) continue;
        j.store().put_bytes(key, "{}");
        if (kept_times.count(h.backups[i].time)) expected_records.insert(key);
    }
    REQUIRE(records.size() > expected_records.size());
    REQUIRE(!expected_records.empty());

    auto dry = j.prune(true);
    CHECK(dry.deleted.empty());
    CHECK(dry.plan.kept() == expected.kept());
    CHECK(keys(j.store(), "db/").size() + keys(j.store(), "docs/").size() == h.objects);

    auto report = j.prune();
    CHECK(report.failures.empty());
    CHECK(report.deleted == report.to_delete);
    std::set<std::string> remaining = keys(j.store(), "db/");
    for (const auto& k : keys(j.store(), "docs/")) remaining.insert(k);
    CHECK(remaining == expected_kept);
    // Each remaining manifest belongs to a kept run, and the newest one is there.
    const auto manifests = keys(j.store(), "manifests/");
    CHECK(manifests.count(catalog::make_store_key("", catalog::ObjectKind::manifest, h.newest)) ==
          1);
    CHECK(manifests.size() == kept_times.size());
    CHECK(keys(j.store(), "verified/") == expected_records);
    // Planning again drops nothing.
    auto again = j.prune();
    CHECK(again.deleted.empty());
}

TEST_CASE("prune never deletes what the newest manifest names") {
    History h(100);
    // The newest run found the db unchanged and names the db object of 40 days ago, which the
    // tiered policy alone would drop.
    job::Job j(h.config);
    const auto old_db =
        catalog::make_store_key("", catalog::ObjectKind::db_dump, h.newest - std::chrono::days(40));
    j.store().put_bytes(old_db, "db");
    auto newest_key = catalog::make_store_key("", catalog::ObjectKind::manifest, h.newest);
    auto m = catalog::Manifest::from_json(j.store().get_bytes(newest_key));
    m.halves["db"].status = catalog::ManifestHalf::Status::unchanged;
    m.halves["db"].key = old_db;
    j.store().remove(catalog::make_store_key("", catalog::ObjectKind::db_dump, h.newest));
    j.store().put_bytes(newest_key, m.to_json());
    auto report = j.prune();
    CHECK(j.store().head(old_db));
    bool protected_reason = false;
    for (const auto& d : report.plan.decisions)
        if (report.plan.backup(d).key == newest_key + "#db")
            for (auto r : d.reasons) protected_reason |= r == retention::Reason::protected_key;
    CHECK(protected_reason);
}
