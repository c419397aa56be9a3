// Cost of the retention planner on large histories (100,000 backups by default), next to the
// cost of sorting the same backups by time (the floor: the planner sorts them too). Best of
// `repeats` runs; prints figures only.
//   retention_plan [backups] [repeats]
#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/retention/planner.hpp>
#include <dolibak/retention/timezone.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace dolibak;
using namespace dolibak::retention;

double best_ms(int repeats, const std::function<void()>& f) {
    double best = 1e18;
    for (int i = 0; i < repeats; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        const std::chrono::duration<double, std::milli> d = std::chrono::steady_clock::now() - t0;
        best = std::min(best, d.count());
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 100000;
    const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
    const TimePoint now = parse_timestamp("20261123T020000Z");
    std::mt19937 rng(42);
    // Two histories: runs every ~5 minutes (the newest n, so about a year), and runs at random
    // seconds over 11 years; 5% failed, a third verified (10% of those failed).
    std::vector<std::vector<Backup>> histories(2);
    std::uniform_int_distribution<int> pct(0, 99);
    auto state = [&](Backup& b) {
        b.ok = pct(rng) >= 5;
        const int v = pct(rng);
        b.verified = v < 3    ? Verification::failed
                     : v < 33 ? Verification::good
                              : Verification::unknown;
    };
    for (int i = 0; i < n; ++i) {
        const TimePoint t = now - std::chrono::seconds{300L * i + pct(rng)};
        Backup b{
            catalog::make_store_key(
                "p", i % 2 ? catalog::ObjectKind::db_dump : catalog::ObjectKind::docs_tar_gz, t),
            t, i % 2 ? "db" : "docs"};
        state(b);
        histories[0].push_back(std::move(b));
    }
    std::uniform_int_distribution<long> spread(-3600, 11L * 366 * 86400);
    while (static_cast<int>(histories[1].size()) < n) {
        const TimePoint t = now - std::chrono::seconds{spread(rng)};
        Backup b{catalog::make_store_key("p", catalog::ObjectKind::db_dump, t), t, "db"};
        state(b);
        histories[1].push_back(std::move(b));
    }
    std::sort(histories[1].begin(), histories[1].end(),
              [](const Backup& a, const Backup& b) { return a.key < b.key; });
    histories[1].erase(std::unique(histories[1].begin(), histories[1].end(),
                                   [](const Backup& a, const Backup& b) { return a.key == b.key; }),
                       histories[1].end());
    std::shuffle(histories[1].begin(), histories[1].end(), rng);

    Policy tiered;
    Policy paris;
    paris.zone = retention::TimeZone::locate("Europe/Paris");
    Policy count;
    count.mode = Policy::Mode::count;
    count.count.last = 10;
    count.count.hourly = 48;
    count.count.daily = 30;
    count.count.weekly = 52;
    count.count.monthly = 120;
    count.count.yearly = CountPolicy::unlimited;
    Policy count_paris = count;
    count_paris.zone = paris.zone;
    Policy count_all = count;
    count_all.count.hourly = CountPolicy::unlimited;
    const std::pair<const char*, Policy*> policies[] = {{"tiered, UTC", &tiered},
                                                        {"tiered, Europe/Paris", &paris},
                                                        {"count, UTC", &count},
                                                        {"count, Europe/Paris", &count_paris},
                                                        {"count, hourly unlimited", &count_all}};
    const char* names[] = {"every 5 min, 2 halves", "random over 11 years"};
    for (std::size_t h = 0; h < histories.size(); ++h) {
        const auto& v = histories[h];
        const double sort_ms = best_ms(repeats, [&] {
            auto copy = v;
            std::sort(copy.begin(), copy.end(),
                      [](const Backup& a, const Backup& b) { return a.time > b.time; });
        });
        fmt::print("{} ({} backups): copy + sort by time {:.1f} ms\n", names[h], v.size(), sort_ms);
        for (const auto& [name, pol] : policies) {
            std::size_t kept = 0;
            const double ms = best_ms(repeats, [&] { kept = plan(v, now, *pol).kept(); });
            const double json_ms = best_ms(1, [&] {
                const auto p = plan(v, now, *pol);
                (void)to_json(p).size();
            });
            fmt::print("  {:<24} plan {:7.1f} ms  ({} kept)   plan + to_json {:7.1f} ms\n", name,
                       ms, kept, json_ms);
        }
    }
}
