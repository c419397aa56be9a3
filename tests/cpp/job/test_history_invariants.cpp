// The history's invariants, one focused test each, through the job layer's seams (memory
// store, fault store, manual clock, fake half drivers): retention decides over runs, a failed
// verification does not stand for its month, a future-dated run is flagged and never the
// latest, an unreadable manifest is named and --force goes past it, a run reports exactly
// what it published, and `list` reads one small object per run.
#include "support/sim_env.hpp"

#include <dolibak/catalog/catalog.hpp>
#include <dolibak/catalog/keys.hpp>
#include <dolibak/store/fault_store.hpp>
#include <dolibak/store/memory_store.hpp>

#include <doctest/doctest.h>

using namespace dolibak;
using store::FaultStore;

namespace {

using sim::at;

struct Instance : sim::Rig {
    Instance() : sim::Rig("invariants") {}
    /// Every run `list` shows as ok restores through the drivers; returns how many.
    int restore_all() {
        int n = 0;
        for (const auto& run : job.list().runs) {
            REQUIRE(run.loaded);
            if (!run.manifest.succeeded()) continue;
            const auto which = format_timestamp(run.time);
            INFO(which);
            job::RestoreDbOptions d;
            d.which = which;
            job.restore_db(d);
            job::RestoreDocsOptions o;
            o.which = which;
            o.target = "/nonexistent";
            job.restore_docs(o);
            ++n;
        }
        return n;
    }
};

}  // namespace

TEST_CASE("a kept run keeps the older object its unchanged half names (yearly window)") {
    Instance in;
    // Documents stored once in December 2015, unchanged through 2016; the database changes.
    in.db.set_content("db 0");
    in.docs.set_content("docs of 2015");
    REQUIRE(in.run_at(at(2015, 12, 20)).ok());
    const auto docs_2015 =
        catalog::make_store_key("", catalog::ObjectKind::docs_tar_gz, at(2015, 12, 20));
    for (int m = 1; m <= 12; ++m) {
        in.db.set_content("db 2016-" + std::to_string(m));
        const auto r = in.run_at(at(2016, m, 20));
        REQUIRE(r.ok());
        CHECK(r.halves.at(1).key == docs_2015);  // unchanged: names the 2015 object
    }
    for (int y = 2017; y <= 2026; ++y) {
        in.db.set_content("db " + std::to_string(y));
        in.docs.set_content("docs " + std::to_string(y));
        REQUIRE(in.run_at(at(y, 2, 1)).ok());
    }
    // On 2026-03-01 the yearly window reaches back to 2016-03-01: 2016 stands by its newest
    // run (December), which names the object of 2015, outside the window. Planning objects
    // alone dropped it.
    in.clock.set(at(2026, 3, 1));
    const auto report = in.job.prune();
    CHECK(report.failures.empty());
    CHECK(in.mem.head(docs_2015));
    CHECK(
        in.mem.head(catalog::make_store_key("", catalog::ObjectKind::manifest, at(2016, 12, 20))));
    CHECK_FALSE(
        in.mem.head(catalog::make_store_key("", catalog::ObjectKind::manifest, at(2015, 12, 20))));
    CHECK(in.restore_all() >= 10);
}

TEST_CASE("documents unchanged for a month, pruned at the default policy: every run restores") {
    Instance in;
    in.docs.set_content("docs of July");
    for (int d = 0; d < 120; ++d) {
        in.db.set_content("db " + std::to_string(d));
        if (d == 100) in.docs.set_content("docs of October");
        REQUIRE(in.run_at(at(2026, 7, 1) + std::chrono::days(d)).ok());
        in.clock.advance(std::chrono::hours(1));
        in.job.prune();
    }
    CHECK(in.restore_all() > 30);
    // The documents object of day 0 stays: the monthly runs of July to September name it.
    CHECK(
        in.mem.head(catalog::make_store_key("", catalog::ObjectKind::docs_tar_gz, at(2026, 7, 1))));
}

TEST_CASE("a run whose verification failed does not stand for its month") {
    Instance in;
    for (int d = 1; d <= 5; ++d) {
        in.db.set_content("db " + std::to_string(d));
        in.docs.set_content("docs " + std::to_string(d));
        REQUIRE(in.run_at(at(2026, 1, d)).ok());
    }
    // The 4th verifies good; the 5th (January's newest) is damaged and fails.
    in.clock.set(at(2026, 1, 6));
    REQUIRE(in.job.verify(format_timestamp(at(2026, 1, 4))).ok());
    const auto damaged = catalog::make_store_key("", catalog::ObjectKind::db_dump, at(2026, 1, 5));
    in.mem.put_bytes(damaged, "garbage");
    CHECK_FALSE(in.job.verify(format_timestamp(at(2026, 1, 5))).ok());
    // Months later, January keeps one run: the verified one.
    in.db.set_content("db later");
    REQUIRE(in.run_at(at(2026, 6, 1)).ok());
    const auto report = in.job.prune();
    CHECK(in.mem.head(catalog::make_store_key("", catalog::ObjectKind::manifest, at(2026, 1, 4))));
    CHECK_FALSE(
        in.mem.head(catalog::make_store_key("", catalog::ObjectKind::manifest, at(2026, 1, 5))));
    CHECK_FALSE(in.mem.head(damaged));
    bool said = false;
    for (const auto& d : report.plan.decisions)
        said |= !d.keep && report.plan.backup(d).verified == retention::Verification::failed;
    CHECK(said);
}

TEST_CASE("a run stamped in the future: status stale with the reason, never the latest") {
    Instance in;
    in.db.set_content("db today");
    REQUIRE(in.run_at(at(2026, 3, 1)).ok());
    in.db.set_content("db of a wrong clock");
    REQUIRE(in.run_at(at(2027, 5, 1)).ok());
    in.clock.set(at(2026, 3, 1, 5));
    const auto s = in.job.status(std::chrono::hours(26));
    CHECK(s.stale);
    REQUIRE(s.future_runs.size() == 1);
    CHECK(s.future_runs[0] == at(2027, 5, 1));
    CHECK(s.reason.find("future") != std::string::npos);
    REQUIRE(s.last_success);
    CHECK(s.last_success->time == at(2026, 3, 1));
    job::RestoreDbOptions latest;
    in.job.restore_db(latest);
    CHECK(in.env.fake_database().restored == "db today");
    // Within the tolerance (a clock a few minutes fast) is not the future.
    in.clock.set(at(2027, 5, 1) - std::chrono::minutes(10));
    CHECK(in.job.status(std::chrono::hours(26)).future_runs.empty());
}

TEST_CASE("an unreadable manifest: prune names it and refuses; --force goes past it") {
    Instance in;
    for (int d = 1; d <= 40; ++d) {
        in.db.set_content("db " + std::to_string(d));
        REQUIRE(in.run_at(at(2026, 1, 1) + std::chrono::days(d)).ok());
    }
    const auto broken = catalog::make_store_key("", catalog::ObjectKind::manifest,
                                                at(2026, 1, 1) + std::chrono::days(40));
    in.mem.put_bytes(broken, "{torn");
    try {
        in.job.prune();
        FAIL("pruned past an unreadable manifest");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find(broken) != std::string::npos);
        CHECK(std::string(e.what()).find("--force") != std::string::npos);
    }
    const auto report = in.job.prune(false, true);
    CHECK(report.failures.empty());
    CHECK_FALSE(report.deleted.empty());
    CHECK(in.mem.head(broken));
    // Its own objects stay with it.
    CHECK(in.mem.head(catalog::make_store_key("", catalog::ObjectKind::db_dump,
                                              at(2026, 1, 1) + std::chrono::days(40))));
}

TEST_CASE("a run reports what it published: an interrupted prune after it leaves it ok") {
    Instance in;
    auto config = sim::sim_config();
    config.cancel = std::make_shared<CancelToken>();
    job::Job j(config, in.env);
    in.db.set_content("db 1");
    in.clock.set(at(2026, 2, 1));
    // The signal arrives once the manifest is out: at the prune's listing (the backup's own
    // two listings, docs/<ts> and db/<ts>, check that no killed run holds the time stamp).
    const auto lists = in.faults.calls(FaultStore::Op::list);
    in.faults.hook(
        FaultStore::Op::list, lists + 3, [&] { config.cancel->cancel(15); }, true);
    job::BackupOptions o;
    o.prune = true;
    const auto r = j.backup(o);
    CHECK(r.ok());
    CHECK_FALSE(r.manifest_key.empty());
    CHECK(in.mem.head(r.manifest_key));
    INFO(r.prune_error);
    CHECK(r.prune_error.find("SIGTERM") != std::string::npos);
}

TEST_CASE("list reads one small object per run, whatever was verified") {
    Instance in;
    for (int d = 1; d <= 30; ++d) {
        in.db.set_content("db " + std::to_string(d));
        REQUIRE(in.run_at(at(2026, 1, d)).ok());
        if (d % 3 == 0) REQUIRE(in.job.verify().ok());
    }
    const auto gets = in.faults.calls(FaultStore::Op::get);
    const auto listing = in.job.list();
    CHECK(listing.runs.size() == 30);
    CHECK(in.faults.calls(FaultStore::Op::get) - gets == 30);
    int verified = 0;
    for (const auto& b : listing.backups) verified += b.verified && b.verified->ok;
    CHECK(verified >= 10);
}

TEST_CASE("an unreadable stored fingerprint: the half is uploaded and the report says why") {
    Instance in;
    in.db.set_content("db 1");
    REQUIRE(in.run_at(at(2026, 3, 1)).ok());
    // The store fails the read of the database's stored fingerprint. That read comes just
    // before the fingerprint is taken (which gets its pre-check state from it): a first,
    // unchanged run finds its position among the run's reads. The runs back up the database
    // only: the halves run in parallel, and the documents' own reads would shift it.
    const auto gets = [&] { return in.faults.calls(FaultStore::Op::get); };
    std::uint64_t at_fingerprint = 0;
    in.db.on_step = [&](const std::string& step) {
        if (step == "fingerprint") at_fingerprint = gets();
    };
    const auto before = gets();
    REQUIRE(in.run_at(at(2026, 3, 2), false).ok());
    in.db.on_step = nullptr;
    REQUIRE(at_fingerprint > before);
    in.faults.fail(FaultStore::Op::get, gets() + (at_fingerprint - before),
                   FaultStore::Fault::io_error);
    const auto r = in.run_at(at(2026, 3, 3), false);
    REQUIRE(r.ok());
    const auto& db = r.halves.at(0);
    CHECK(db.half == "db");
    CHECK(db.outcome == job::HalfReport::Outcome::uploaded);
    // Failed before: "no stored fingerprint" replaced the reason the store gave.
    CHECK(db.reason == "stored fingerprint unreadable");
    CHECK(r.halves.at(1).outcome == job::HalfReport::Outcome::skipped);
    // The documents' stored fingerprint was untouched: the next full run finds them unchanged.
    const auto next = in.run_at(at(2026, 3, 4));
    REQUIRE(next.ok());
    CHECK(next.halves.at(1).outcome == job::HalfReport::Outcome::unchanged);
}
