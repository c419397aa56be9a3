// The history, simulated: years of daily runs (and bursts of hourly ones) through the real
// Job, catalog, lease and planner, over the memory store, a clock the test moves and fake half
// drivers whose content changes at random. Runs are killed at every kind of step, started
// twice at once over a stale lock, stamped in the future by a clock that jumps, and lose
// store answers; a prune follows every day. After every step the invariants are checked:
//   - every run `list` shows as ok restores (through the drivers) exactly the content it saw;
//   - no object is left that no run names (but the one a stored fingerprint names);
//   - after a prune, planning again deletes nothing (the store holds what the plan keeps);
//   - no manifest is unreadable; a lock is left only by a killed run.
// DOLIBAK_SIM_DAYS sets the length (default ten years); DOLIBAK_SIM_SEED the seed.
#include "support/sim_env.hpp"

#include <dolibak/catalog/catalog.hpp>
#include <dolibak/catalog/lease.hpp>
#include <dolibak/catalog/prune_plan.hpp>
#include <dolibak/store/fault_store.hpp>
#include <dolibak/store/memory_store.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <thread>

using namespace dolibak;
using store::FaultStore;

namespace {

/// What a SIGKILL does to a run: it stops where it is; nothing after runs.
struct Killed {};

TimePoint at(int y, int m, int d, int h = 0) {
    using namespace std::chrono;
    return sys_days{year{y} / m / d} + hours{h};
}

long env_number(const char* name, long fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtol(v, nullptr, 10) : fallback;
}

constexpr FaultStore::Op all_ops[] = {FaultStore::Op::put,         FaultStore::Op::get,
                                      FaultStore::Op::head,        FaultStore::Op::list,
                                      FaultStore::Op::remove,      FaultStore::Op::remove_if,
                                      FaultStore::Op::remove_many, FaultStore::Op::cleanup};

/// One process of dolibak: its own view of the store (a FaultStore over the shared memory
/// store) that can be killed at its Nth store operation, and a Job over it.
struct Process {
    FaultStore faults;
    sim::SimEnv env;
    job::Job job;
    std::uint64_t ops = 0;
    std::uint64_t kill_at = 0;  ///< 0: never
    bool dead = false;

    Process(store::Store& shared, sim::ManualClock& clock, sim::FakeHalf& db, sim::FakeHalf& docs,
            std::chrono::seconds ttl)
        : faults(shared), env(faults, clock, db, docs), job(config(ttl), env) {
        for (auto op : all_ops)
            faults.hook(
                op, 1,
                [this] {
                    if (kill_at && ++ops >= kill_at) dead = true;
                    if (dead) throw Killed{};
                },
                true);
    }
    static job::Config config(std::chrono::seconds ttl) {
        auto c = sim::sim_config();
        c.lock_ttl = ttl;
        return c;
    }
};

struct World {
    store::MemoryStore mem{"sim"};
    sim::ManualClock clock{at(2026, 1, 1, 2)};
    sim::FakeHalf db{"db"};
    sim::FakeHalf docs{"docs"};
    std::mt19937_64 rng;
    /// The content each run saw, by the time stamps it may have taken.
    std::map<TimePoint, std::pair<std::string, std::string>> seen;
    /// (run, half, object) already restored and found right; objects are write-once.
    std::set<std::string> restored;
    std::chrono::seconds ttl{std::chrono::hours(12)};
    int version = 0;
    struct Counts {
        int runs = 0, published = 0, killed = 0, failed = 0, prunes = 0, races = 0, future = 0,
            lost = 0, restores = 0;
    } counts;

    explicit World(std::uint64_t seed) : rng(seed) {}

    bool chance(double p) { return std::uniform_real_distribution<>(0, 1)(rng) < p; }
    std::uint64_t pick(std::uint64_t lo, std::uint64_t hi) {
        return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
    }

    std::unique_ptr<Process> process() {
        return std::make_unique<Process>(mem, clock, db, docs, ttl);
    }

    void change_content() {
        if (chance(0.5)) db.set_content("db v" + std::to_string(++version));
        if (chance(0.15)) docs.set_content("docs v" + std::to_string(++version));
    }

    /// Notes the content a run starting now sees, for every time stamp it may take (the
    /// same-second wait moves it by up to 3 s).
    void note_run() {
        const auto t = clock.now();
        for (int s = 0; s < 5; ++s)
            seen[t + std::chrono::seconds(s)] = {db.content(), docs.content()};
    }

    /// A backup in its own process, with at most one fault; returns whether it published.
    bool backup() {
        ++counts.runs;
        note_run();
        auto p = process();
        // At most one fault: a kill at a random store operation, a kill in the middle of an
        // upload, a lost answer, a transient error.
        const int fault = static_cast<int>(pick(0, 9));
        if (fault == 0) p->kill_at = pick(1, 14);
        if (fault == 1) {
            auto& half = chance(0.5) ? db : docs;
            half.on_step = [&p](const std::string& step) {
                if (step == "produce-written") {
                    p->dead = true;
                    throw Killed{};
                }
            };
        }
        if (fault == 2 || fault == 3) {
            const auto op = chance(0.7) ? FaultStore::Op::put : all_ops[pick(0, 7)];
            const auto kind = fault == 2    ? FaultStore::Fault::lose_response
                              : chance(0.5) ? FaultStore::Fault::transient
                                            : FaultStore::Fault::server_error;
            p->faults.fail(op, pick(1, 4), kind);
            ++counts.lost;
        }
        bool published = false;
        try {
            const auto r = p->job.backup();
            published = !r.manifest_key.empty();
            if (std::getenv("DOLIBAK_SIM_VERBOSE") && !r.ok())
                for (const auto& h : r.halves)
                    if (!h.error.empty()) MESSAGE("half failed: " << h.error);
        } catch (const Killed&) {
            ++counts.killed;
        } catch (const std::exception& e) {
            ++counts.failed;
            if (std::getenv("DOLIBAK_SIM_VERBOSE"))
                MESSAGE("run failed: " << std::string(e.what()));
        }
        db.on_step = docs.on_step = nullptr;
        if (published) ++counts.published;
        return published;
    }

    /// Whether the prune completed.
    bool prune() {
        ++counts.prunes;
        auto p = process();
        if (chance(0.05)) p->kill_at = pick(1, 10);
        try {
            const auto r = p->job.prune();
            return r.failures.empty();
        } catch (const Killed&) {
        } catch (const std::exception& e) {
            // Refused (the newest run failed), locked, or a store error: the history stands.
            if (std::getenv("DOLIBAK_SIM_VERBOSE")) MESSAGE("prune: " << std::string(e.what()));
        }
        return false;
    }

    /// A lock left by a run of another host that was killed, expired since.
    void stale_lock() {
        const auto since = clock.now() - ttl - std::chrono::hours(1);
        mem.put_bytes(catalog::lock_key,
                      R"({"host":"gone.example","pid":4242,"token":"stale","since":")" +
                          format_rfc3339(since) + R"(","expires":")" + format_rfc3339(since + ttl) +
                          "\"}\n");
    }

    /// Two backups started at the same moment over a stale lock: exactly one publishes.
    /// Both read the stale lease before either takes it over, and the winner holds the lock
    /// until the other has been refused (on a loaded machine it could otherwise finish its
    /// whole run first, and the second run would rightly take the free lock after it).
    void race() {
        ++counts.races;
        ++counts.runs;
        stale_lock();
        note_run();
        auto p1 = process();
        auto p2 = process();
        sim::Meeting read_stale, decided;
        for (auto* p : {p1.get(), p2.get()}) {
            p->faults.hook(FaultStore::Op::get, 1, [&] { read_stale.arrive_and_wait(); });
            p->faults.hook(FaultStore::Op::cleanup, 1, [&] { decided.arrive_and_wait(); });
        }
        const auto manifests_before = mem.list("manifests/").size();
        std::atomic<int> published{0}, locked{0};
        auto go = [&](Process& p) {
            try {
                published += !p.job.backup().manifest_key.empty();
            } catch (const catalog::LockHeld&) {
                ++locked;
                decided.arrive();
            } catch (...) {
                decided.arrive();  // counted as neither: the checks below fail
            }
        };
        std::thread t1([&] { go(*p1); });
        std::thread t2([&] { go(*p2); });
        t1.join();
        t2.join();
        CHECK(published == 1);
        CHECK(locked == 1);
        CHECK(mem.list("manifests/").size() == manifests_before + 1);
        counts.published += published;
    }

    /// The invariants, after every step.
    void check(bool after_prune) {
        auto p = process();  // no faults
        auto& cat_store = p->faults;
        catalog::Catalog cat(cat_store, [](const std::string&) {});
        const auto listing = cat.scan(catalog::Catalog::Load::all, true);
        std::set<std::string> named;
        for (const auto& run : listing.runs) {
            INFO(run.manifest_key);
            REQUIRE(run.loaded);  // no torn or unreadable manifest, ever
            for (const auto& [half, h] : run.manifest.halves)
                if (!h.key.empty()) named.insert(h.key);
            if (!run.manifest.succeeded()) continue;
            const auto it = seen.find(run.time);
            REQUIRE(it != seen.end());
            for (const auto& [half, h] : run.manifest.halves) {
                if (h.key.empty()) continue;
                INFO(half << " " << h.key);
                REQUIRE(mem.head(h.key));  // prune never leaves a listed run unrestorable
                const std::string id = format_timestamp(run.time) + " " + half + " " + h.key;
                if (restored.count(id)) continue;
                const std::string which = format_timestamp(run.time);
                if (half == "db") {
                    job::RestoreDbOptions o;
                    o.which = which;
                    p->job.restore_db(o);
                    CHECK(p->env.fake_database().restored == it->second.first);
                } else {
                    job::RestoreDocsOptions o;
                    o.which = which;
                    o.target = "/nonexistent-sim-target";
                    p->job.restore_docs(o);
                    CHECK(p->env.fake_documents().restored == it->second.second);
                }
                ++counts.restores;
                restored.insert(id);
            }
        }
        if (!after_prune) return;
        // No orphan: every object is named by a run, or by a stored fingerprint.
        std::set<std::string> in_use;
        for (const char* half : {"db", "docs"})
            if (auto fp = cat.fingerprint(half)) in_use.insert(fp->object);
        for (const auto& b : listing.backups) {
            INFO(b.key);
            CHECK((named.count(b.key) || in_use.count(b.key)));
        }
        // The store holds what the plan keeps: planning again deletes nothing.
        const auto again = catalog::plan_prune(listing, clock.now(), job::Config{}.retention, false,
                                               in_use, cat.marked_since());
        CHECK(again.drop_runs.empty());
        CHECK(again.drop_objects.empty());
    }
};

}  // namespace

TEST_CASE("a simulated decade: kills, races, lost answers, a wrong clock, a prune every day") {
    const long days = env_number("DOLIBAK_SIM_DAYS", 3650);
    const auto seed = static_cast<std::uint64_t>(env_number("DOLIBAK_SIM_SEED", 20261206));
    INFO("seed " << seed << ", " << days << " days");
    World w(seed);
    for (long day = 0; day < days; ++day) {
        w.clock.set(at(2026, 1, 1, 2) + std::chrono::days(day));
        w.change_content();
        if (day % 97 == 50) {
            w.race();
        } else if (day % 181 == 90) {
            // A machine whose clock is a year ahead runs once, then the clock is right again.
            ++w.counts.future;
            const auto today = w.clock.now();
            w.clock.set(today + std::chrono::days(400) + std::chrono::minutes(17));
            const bool published = w.backup();
            w.clock.set(today + std::chrono::hours(1));
            if (published) {
                auto p = w.process();
                const auto s = p->job.status(std::chrono::hours(26));
                CHECK(s.stale);
                CHECK_FALSE(s.future_runs.empty());
                CHECK(s.reason.find("future") != std::string::npos);
            }
        } else {
            w.backup();
        }
        w.check(false);
        if (day % 73 == 10) {
            // A burst of hourly runs: each calendar day still keeps one.
            for (int h = 1; h <= 12; ++h) {
                w.clock.advance(std::chrono::hours(1));
                w.change_content();
                w.backup();
            }
            w.check(false);
        }
        w.clock.advance(std::chrono::hours(2));
        w.check(w.prune());
    }
    const auto& c = w.counts;
    MESSAGE(c.runs << " runs (" << c.published << " published, " << c.killed << " killed, "
                   << c.failed << " failed), " << c.races << " races, " << c.future
                   << " future-dated, " << c.lost << " lost or failed answers, " << c.prunes
                   << " prunes, " << c.restores << " restores checked");
    CHECK(c.published > days / 2);
    CHECK(c.killed > 0);
    CHECK(c.restores > days / 2);
    // The default policy over ten years: a month of days, a year of months, ten years.
    auto p = w.process();
    const auto listing = p->job.list();
    MESSAGE(listing.runs.size() << " runs kept, " << listing.backups.size() << " objects");
    if (std::getenv("DOLIBAK_SIM_VERBOSE"))
        for (const auto& run : listing.runs)
            MESSAGE("kept " << run.manifest_key << (run.manifest.succeeded() ? "" : " FAILED"));
    CHECK(listing.runs.size() < 80);
}
