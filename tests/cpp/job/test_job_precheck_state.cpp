// The fingerprint's pre-check state in .fp-db (docs/fingerprint.md, "Quiet days"): stored with
// an upload, handed to the next fingerprint, renewed by an unchanged run whose fingerprint read
// everything again, and only warned about when it cannot be renewed.
#include "support/sim_env.hpp"

#include <dolibak/store/fault_store.hpp>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

using namespace dolibak;
using sim::at;
using store::FaultStore;

namespace {

nlohmann::json stored_fp(sim::Rig& r) {
    return nlohmann::json::parse(r.mem.get_bytes(".fp-db"));
}

}  // namespace

TEST_CASE("the pre-check state is stored, handed back, and renewed only when stale") {
    sim::Rig r;
    r.db.state = R"({"n":1})";
    r.db.rescanned = true;
    REQUIRE(r.run_at(at(2026, 1, 1), false).ok());
    CHECK(r.db.given_state.empty());
    CHECK(stored_fp(r).at("precheck") == nlohmann::json{{"n", 1}});
    const auto first = stored_fp(r);

    // Unchanged, but the fingerprint read everything again: its state replaces the stored one.
    r.db.state = R"({"n":2})";
    REQUIRE(r.run_at(at(2026, 1, 2), false).ok());
    CHECK(r.db.given_state == R"({"n":1})");
    auto fp = stored_fp(r);
    CHECK(fp.at("precheck") == nlohmann::json{{"n", 2}});
    CHECK(fp.at("fingerprint") == first.at("fingerprint"));
    CHECK(fp.at("object") == first.at("object"));

    // Unchanged and decided from the stored state: nothing is written.
    r.db.state = R"({"n":3})";
    r.db.rescanned = false;
    REQUIRE(r.run_at(at(2026, 1, 3), false).ok());
    CHECK(r.db.given_state == R"({"n":2})");
    CHECK(stored_fp(r).at("precheck") == nlohmann::json{{"n", 2}});
}

TEST_CASE("a pre-check state that cannot be stored is a warning, not a failure") {
    sim::Rig r;
    r.db.state = R"({"n":1})";
    r.db.rescanned = true;
    REQUIRE(r.run_at(at(2026, 1, 1), false).ok());
    r.db.state = R"({"n":2})";
    // The run's puts: the lock, then the renewed .fp-db (failed here), then the manifest.
    r.faults.fail(FaultStore::Op::put, r.faults.calls(FaultStore::Op::put) + 2,
                  FaultStore::Fault::server_error);
    const auto report = r.run_at(at(2026, 1, 2), false);
    CHECK(report.ok());
    for (const auto& h : report.halves)
        if (h.half == "db") CHECK(h.outcome == job::HalfReport::Outcome::unchanged);
    CHECK(stored_fp(r).at("precheck") == nlohmann::json{{"n", 1}});
}
