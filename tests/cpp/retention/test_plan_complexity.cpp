// The planner's cost grows as n log n, not faster: its elementary steps (comparisons of its
// sort and bucket maps, visits of a backup by one of its passes: retention::WorkCounter)
// counted from 1,000 to 1,000,000 backups. Counts, not times.
#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/retention/planner.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

using namespace dolibak;
using namespace dolibak::retention;

namespace {

const TimePoint now = parse_timestamp("20261123T020000Z");

// n backups at distinct random seconds over 11 years (given in random order), two halves,
// 5% failed, some verified; keys are not store keys (they only need to be unique).
std::vector<Backup> history(std::size_t n) {
    std::mt19937_64 rng(n);
    const std::int64_t span = 11LL * 366 * 86400;
    std::vector<std::int64_t> ages(n);
    // Distinct ages: n points spread evenly, each moved within its own slot, then shuffled.
    const double slot = static_cast<double>(span) / static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i)
        ages[i] = static_cast<std::int64_t>(slot * static_cast<double>(i)) +
                  static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(slot));
    std::shuffle(ages.begin(), ages.end(), rng);
    std::vector<Backup> v;
    v.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        Backup b;
        b.key = std::to_string(ages[i]);
        b.time = now - std::chrono::seconds{ages[i]};
        b.half = i % 3 ? "db" : "docs";
        b.ok = rng() % 20 != 0;
        const auto r = rng() % 100;
        b.verified = r < 3    ? Verification::failed
                     : r < 33 ? Verification::good
                              : Verification::unknown;
        v.push_back(std::move(b));
    }
    return v;
}

std::uint64_t steps(std::size_t n, const Policy& policy) {
    auto backups = history(n);
    const std::set<std::string> protect{backups[0].key, backups[n / 2].key};
    WorkCounter counter;
    const Plan p = plan(std::move(backups), now, policy, protect);
    REQUIRE(p.decisions.size() == n);
    return counter.steps();
}

}  // namespace

TEST_CASE("the planner's steps grow as n log n from 1,000 to 1,000,000 backups") {
    Policy tiered;
    Policy count;
    count.mode = Policy::Mode::count;
    count.count = {10, CountPolicy::unlimited, 30, 52, 120, CountPolicy::unlimited, true};
    for (const Policy* policy : {&tiered, &count}) {
        std::vector<double> per_n_log_n;
        for (const std::size_t n : {1000, 10000, 100000, 1000000}) {
            const auto s = steps(n, *policy);
            CAPTURE(n);
            CAPTURE(s);
            CHECK(s > n);  // every backup is visited: the counter counts
            per_n_log_n.push_back(static_cast<double>(s) /
                                  (static_cast<double>(n) * std::log2(static_cast<double>(n))));
        }
        // n log n: steps / (n log2 n) does not grow with n. (A quadratic step would multiply
        // it by 1,000 from the first size to the last; a log^2 one by 2.)
        for (std::size_t k = 1; k < per_n_log_n.size(); ++k) {
            CAPTURE(k);
            CAPTURE(per_n_log_n[k - 1]);
            CAPTURE(per_n_log_n[k]);
            CHECK(per_n_log_n[k] <= per_n_log_n[k - 1] * 1.15);
        }
    }
}

TEST_CASE("a work counter counts only while it lives, and only in its thread") {
    const auto backups = history(100);
    (void)plan(backups, now);  // uncounted: no counter
    std::uint64_t first = 0;
    {
        WorkCounter c;
        (void)plan(backups, now);
        first = c.steps();
        CHECK(first > 100);
        {
            WorkCounter inner;
            (void)plan(backups, now);
            CHECK(inner.steps() == first);  // the same plan, the same steps
        }
        CHECK(c.steps() == first);  // the inner counter took them
    }
    WorkCounter after;
    CHECK(after.steps() == 0);
}
