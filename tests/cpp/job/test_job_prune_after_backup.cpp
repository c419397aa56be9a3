// Scheduled retention: the prune_after_backup setting makes `backup` prune after a successful
// run (BackupOptions::prune overrides it either way), the run's JSON says whether a prune was
// asked for and what it did, and the run's metrics file carries the prune's outcome.
#include "support/sim_env.hpp"
#include "support/testsupport.hpp"

#include <dolibak/job/report.hpp>
#include <dolibak/job/settings.hpp>
#include <dolibak/retention/policy_spec.hpp>
#include <dolibak/store/memory_store.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <fstream>
#include <sstream>

using namespace dolibak;

namespace {

TimePoint day(int d) {
    using namespace std::chrono;
    return sys_days{year{2026} / 3 / d} + hours{2};
}

/// A store and two fake halves; retention keeps the two newest runs.
struct Instance {
    store::MemoryStore mem{"scheduled"};
    sim::ManualClock clock{day(1)};
    sim::FakeHalf db{"db"}, docs{"docs"};
    sim::SimEnv env{mem, clock, db, docs};
    job::Config config = [] {
        auto c = sim::sim_config();
        retention::PolicySpec spec;
        spec.mode = "count";
        spec.last = 2;
        c.retention = retention::build_policy(spec);
        return c;
    }();

    /// Runs `days` daily backups with new content each day; returns the last report.
    job::BackupReport run_days(job::Job& j, int days, job::BackupOptions o = {}) {
        job::BackupReport r;
        for (int d = 1; d <= days; ++d) {
            clock.set(day(d));
            db.set_content("db " + std::to_string(d));
            docs.set_content("docs " + std::to_string(d));
            r = j.backup(o);
            REQUIRE(r.ok());
        }
        return r;
    }
    std::size_t manifests() { return mem.list("manifests/").size(); }
};

}  // namespace

TEST_CASE("prune_after_backup: backup prunes after each successful run") {
    Instance in;
    in.config.prune_after_backup = true;
    job::Job j(in.config, in.env);
    const auto r = in.run_days(j, 4);
    CHECK(r.prune_requested);
    REQUIRE(r.prune.has_value());
    CHECK(r.prune_error.empty());
    CHECK(in.manifests() == 2);
    const auto j_report = nlohmann::json::parse(job::to_json(r));
    CHECK(j_report.at("prune_requested") == true);
    CHECK(j_report.at("prune").at("kept") == 4);  // two runs, two halves each
}

TEST_CASE("without the setting backup keeps every run; --prune and --no-prune override") {
    Instance in;
    {
        job::Job j(in.config, in.env);
        const auto r = in.run_days(j, 3);
        CHECK_FALSE(r.prune_requested);
        CHECK_FALSE(r.prune.has_value());
        CHECK(nlohmann::json::parse(job::to_json(r)).at("prune_requested") == false);
        CHECK(in.manifests() == 3);
        job::BackupOptions prune;
        prune.prune = true;
        in.clock.set(day(4));
        in.db.set_content("db 4");
        CHECK(j.backup(prune).prune.has_value());
        CHECK(in.manifests() == 2);
    }
    in.config.prune_after_backup = true;
    job::Job j(in.config, in.env);
    job::BackupOptions no_prune;
    no_prune.prune = false;
    in.clock.set(day(5));
    in.db.set_content("db 5");
    const auto r = j.backup(no_prune);
    CHECK_FALSE(r.prune_requested);
    CHECK(in.manifests() == 3);
}

TEST_CASE("the setting is read from the config as a boolean, default false") {
    using job::Setting;
    const job::Environment none;
    job::Settings s;
    s["store"] = Setting{"file:///tmp/x", std::nullopt, "--store"};
    CHECK_FALSE(job::config_from_settings(s, &none).prune_after_backup);
    s["prune_after_backup"] = Setting{"yes", std::nullopt, "DOLIBAK_PRUNE_AFTER_BACKUP"};
    CHECK(job::config_from_settings(s, &none).prune_after_backup);
    s["prune_after_backup"] = Setting{"sometimes", std::nullopt, "DOLIBAK_PRUNE_AFTER_BACKUP"};
    CHECK_THROWS_WITH_AS(job::config_from_settings(s, &none),
                         doctest::Contains("prune_after_backup (from DOLIBAK_PRUNE_AFTER_BACKUP)"),
                         ConfigError);
}

TEST_CASE("the run's metrics file carries the prune; a failed run asked to prune says it did not") {
    test::TempDir dir;
    const auto file = dir.path() / "dolibak_backup.prom";
    Instance in;
    in.config.prune_after_backup = true;
    job::Job j(in.config, in.env);
    job::BackupOptions o;
    o.metrics_file = file;
    in.run_days(j, 3, o);
    const std::string store = "store=\"" + in.mem.url() + "\"";
    std::string text = test::read_file(file);
    CHECK(text.find("dolibak_backup_run_success{" + store + "} 1\n") != std::string::npos);
    CHECK(text.find("dolibak_backup_prune_requested{" + store + "} 1\n") != std::string::npos);
    CHECK(text.find("dolibak_backup_prune_success{" + store + "} 1\n") != std::string::npos);
    // Day 3 removed day 1's manifest and its two objects.
    CHECK(text.find("dolibak_backup_prune_deleted_objects{" + store + "} 3\n") !=
          std::string::npos);
    CHECK(text.find("dolibak_backup_half_outcome{" + store +
                    ",half=\"db\",outcome="
                    "\"uploaded\"} 1\n") != std::string::npos);

    in.clock.set(day(4));
    in.db.set_content("db 4");
    in.db.on_step = [](const std::string& step) {
        if (step == "produce") throw IoError("disk gone", "/documents", EIO);
    };
    const auto failed = j.backup(o);
    CHECK_FALSE(failed.ok());
    CHECK(failed.prune_requested);
    CHECK_FALSE(failed.prune.has_value());
    text = test::read_file(file);
    CHECK(text.find("dolibak_backup_run_success{" + store + "} 0\n") != std::string::npos);
    CHECK(text.find("dolibak_backup_prune_success{" + store + "} 0\n") != std::string::npos);
    CHECK(text.find("dolibak_backup_prune_deleted_objects") == std::string::npos);
}
