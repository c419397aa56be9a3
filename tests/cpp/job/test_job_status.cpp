// status: freshness per configured half, the newest verification, and dolibak_up in the
// metrics when the store cannot be read. Through the job's seams (memory store, fault store,
// manual clock, fake halves).
#include "support/sim_env.hpp"
#include "support/testsupport.hpp"

#include <dolibak/store/fault_store.hpp>
#include <dolibak/store/memory_store.hpp>

#include <doctest/doctest.h>

using namespace dolibak;
using store::FaultStore;

namespace {

using sim::at;

struct Instance : sim::Rig {
    Instance() : sim::Rig("status") {}
};

const job::HalfStatus& half(const job::StatusReport& s, const std::string& name) {
    for (const auto& h : s.halves)
        if (h.half == name) return h;
    FAIL("no status for half " << name);
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("a configured half that the runs leave out makes the status stale") {
    Instance in;
    in.db.set_content("db 1");
    in.docs.set_content("docs 1");
    REQUIRE(in.run_at(at(2026, 3, 1)).ok());
    // From then on the schedule backs up the database only (a CronJob without the volume).
    for (int d = 2; d <= 5; ++d) {
        in.db.set_content("db " + std::to_string(d));
        REQUIRE(in.run_at(at(2026, 3, d), false).ok());
    }
    in.clock.set(at(2026, 3, 5, 3));
    const auto s = in.job.status(std::chrono::hours(26));
    REQUIRE(s.last_success);
    CHECK(s.last_success->time == at(2026, 3, 5));  // every run succeeded
    // Failed before: stale was false (only the newest successful run's age counted).
    CHECK(s.stale);
    CHECK(s.reason.find("docs") != std::string::npos);
    CHECK_FALSE(half(s, "db").stale);
    CHECK(half(s, "docs").stale);
    CHECK_FALSE(half(s, "docs").last_success);  // none within max_age: older runs not read
    // With a long enough max-age, the docs' last success is found and fresh.
    const auto week = in.job.status(std::chrono::hours(24 * 7));
    CHECK_FALSE(week.stale);
    REQUIRE(half(week, "docs").last_success);
    CHECK(*half(week, "docs").last_success == at(2026, 3, 1));
}

TEST_CASE("an unchanged half counts as a success; the newest verification is reported") {
    Instance in;
    in.db.set_content("db");
    in.docs.set_content("docs");
    REQUIRE(in.run_at(at(2026, 4, 1)).ok());
    REQUIRE(in.run_at(at(2026, 4, 2)).ok());  // both halves unchanged
    in.clock.set(at(2026, 4, 2, 5));
    (void)in.job.verify("latest");
    in.clock.set(at(2026, 4, 2, 6));
    const auto s = in.job.status(std::chrono::hours(26));
    CHECK_FALSE(s.stale);
    REQUIRE(half(s, "docs").last_success);
    CHECK(*half(s, "docs").last_success == at(2026, 4, 2));
    REQUIRE(s.last_verification);
    CHECK(s.last_verification->run == at(2026, 4, 2));
    CHECK(s.last_verification->ok);
}

TEST_CASE("metrics: per half, and dolibak_up 0 when the store cannot be read") {
    Instance in;
    test::TempDir tmp;
    const auto metrics = tmp / "dolibak.prom";
    in.db.set_content("db");
    in.docs.set_content("docs");
    REQUIRE(in.run_at(at(2026, 5, 1)).ok());
    in.clock.set(at(2026, 5, 1, 3));
    (void)in.job.status(std::chrono::hours(26), metrics);
    auto text = test::read_file(metrics);
    CHECK(text.find("dolibak_up{store=\"") != std::string::npos);
    CHECK(text.find("} 1\n") != std::string::npos);
    CHECK(text.find("dolibak_half_stale{store=\"mem://status/\",half=\"docs\"} 0") !=
          std::string::npos);
    // The store fails every listing: status throws, and the metrics say the store is down.
    in.faults.fail(FaultStore::Op::list, in.faults.calls(FaultStore::Op::list) + 1,
                   FaultStore::Fault::server_error, true);
    CHECK_THROWS_AS(in.job.status(std::chrono::hours(26), metrics), Error);
    text = test::read_file(metrics);
    // Failed before: the file kept the last good values, so the store looked up and fresh.
    CHECK(text.find("dolibak_up{store=\"mem://status/\"} 0") != std::string::npos);
    CHECK(text.find("dolibak_stale") == std::string::npos);
}
