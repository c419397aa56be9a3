// The history, simulated: years of daily runs (and bursts of hourly ones) through the real
// Job, catalog, lease and planner, over the memory store, a clock the test moves and fake half
// drivers whose content changes at random. Runs are killed at every kind of step, started
// twice at once over a stale lock, stamped in the future by a clock that jumps, and lose
// store answers; a prune follows every day. After every step the invariants are checked:
//   - every run `list` shows as ok restores (through the drivers) exactly the content it saw;
//   - no object is left that no run names (but the one a stored fingerprint names);
//   - after a prune, planning again deletes nothing (the store holds what the plan keeps);
//   - no manifest is unreadable; a lock is left only by a killed run.
// One year in three the documents half is in docs_mode packs (the store switches modes three
// times each way): the real documents driver over a small real tree that changes at random
// (files added, rewritten, copied, deleted), so that prunes collect packs and repack the ones
// that are mostly garbage, with kills and lost answers landing in those too. Each packs run
// restores byte for byte once (from its index and packs, through the Job's restore one time in
// 40); after every prune that deleted or repacked a pack, every listed run's index verifies in
// full (every blob's digest) and one listed run is restored again; after a clean prune that
// changed the packs, collecting again finds nothing to delete, repack or forget. The first
// half of each packs year writes indexes whole (version 1, what older stores hold), the second
// half trees of pieces (version 2): the first tree run compares with a whole index, and prunes
// collect, verify and restore both kinds.
// DOLIBAK_SIM_DAYS sets the length (default ten years); DOLIBAK_SIM_SEED the seed.
#include "job/real_drivers.hpp"
#include "packs/blob.hpp"
#include "support/sim_env.hpp"
#include "support/testsupport.hpp"

#include <dolibak/catalog/catalog.hpp>
#include <dolibak/catalog/lease.hpp>
#include <dolibak/catalog/prune_plan.hpp>
#include <dolibak/packs/gc.hpp>
#include <dolibak/packs/reader.hpp>
#include <dolibak/store/fault_store.hpp>
#include <dolibak/store/memory_store.hpp>

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

using namespace dolibak;
using store::FaultStore;
namespace fs = std::filesystem;

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

/// Every entry of a tree, in order: "d <path>" for a directory, "f <path> <size>" and the
/// content for a file; what a restore must give back.
std::string snapshot(const fs::path& root) {
    std::map<std::string, std::string> entries;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        const auto rel = fs::relative(it->path(), root).string();
        if (it->is_directory())
            entries[rel] = "d " + rel + "\n";
        else
            entries[rel] = "f " + rel + " " + std::to_string(it->file_size()) + "\n" +
                           test::read_file(it->path()) + "\n";
    }
    std::string out;
    for (const auto& [path, e] : entries) out += e;
    return out;
}

/// snapshot() of a packs-mode run's tree, read from its index and packs in memory (each blob
/// checked against its digest, moved packs followed): the restore without the extractor's
/// disk work, which the Job's restore does now and then.
std::string snapshot_of_index(store::Store& store, const std::string& index_key) {
    auto src = store.get(index_key);
    packs::Relocations moved(store);
    packs::TreeAccess tree;
    tree.store = &store;
    tree.moved = &moved;
    packs::IndexReader reader(*src, &tree);
    packs::detail::BlobReader blobs(store, nullptr, &moved);
    std::map<std::string, std::string> entries;
    while (auto e = reader.next()) {
        if (e->type == packs::EntryType::directory) {
            entries[e->path] = "d " + e->path + "\n";
            continue;
        }
        std::string content;
        for (const auto& b : e->blobs) content += blobs.read(b);
        entries[e->path] =
            "f " + e->path + " " + std::to_string(content.size()) + "\n" + content + "\n";
    }
    std::string out;
    for (const auto& [path, e] : entries) out += e;
    return out;
}

/// The documents of the packs-mode decade: a few small files in a few folders that change at
/// random. Sizes are kept different on a rewrite (the fingerprint is of metadata).
struct DocsTree {
    fs::path root;
    std::mt19937_64& rng;
    std::vector<fs::path> files;
    int next = 0;

    DocsTree(fs::path r, std::mt19937_64& g) : root(std::move(r)), rng(g) {
        fs::create_directories(root);
        test::write_file(root / "install.lock", "");
        for (int i = 0; i < 6; ++i) add();
    }
    std::string bytes(std::size_t n) {
        std::string s(n, '\0');
        for (auto& c : s) c = static_cast<char>(rng() & 0xff);
        return s;
    }
    std::size_t size() { return 300 + rng() % 3000 + static_cast<std::size_t>(next % 7); }
    void add() {
        static const char* folders[] = {"facture", "commande", "ecm/scans"};
        const auto path = root / folders[rng() % 3] / ("doc" + std::to_string(next++) + ".pdf");
        fs::create_directories(path.parent_path());
        // now and then a copy of a stored file: the same content, stored once
        if (!files.empty() && rng() % 6 == 0)
            test::write_file(path, test::read_file(files[rng() % files.size()]));
        else
            test::write_file(path, bytes(size()));
        files.push_back(path);
    }
    void change() {
        const auto what = rng() % 20;
        if ((what < 9 && files.size() < 14) || files.size() < 4) {
            add();
        } else if (what < 13) {
            const auto& f = files[rng() % files.size()];
            auto n = size();
            if (n == fs::file_size(f)) ++n;
            test::write_file(f, bytes(n));
        } else {
            // content dies: packs become garbage, then mostly garbage
            const auto i = rng() % files.size();
            fs::remove(files[i]);
            files.erase(files.begin() + static_cast<std::ptrdiff_t>(i));
        }
    }
};

/// The real documents driver (docs_mode packs) beside the fake database half.
class PacksSimEnv final : public job::Env {
public:
    PacksSimEnv(store::Store& store, sim::ManualClock& clock, sim::FakeHalf& db,
                const job::Config& config)
        : store_(store),
          clock_(clock),
          database_(db, catalog::ObjectKind::db_dump),
          documents_(job::detail::make_real_documents(config, store)) {}
    store::Store& store() override { return store_; }
    job::Clock& clock() override { return clock_; }
    job::DatabaseDriver* database() override { return &database_; }
    job::DocumentsDriver* documents() override { return documents_.get(); }
    job::HalfDriver* globals() override { return nullptr; }
    sim::FakeDatabase& fake_database() { return database_; }

private:
    store::Store& store_;
    sim::ManualClock& clock_;
    sim::FakeDatabase database_;
    std::unique_ptr<job::DocumentsDriver> documents_;
};

/// One process of dolibak: its own view of the store (a FaultStore over the shared memory
/// store) that can be killed at its Nth store operation, and a Job over it. With a packs
/// root, the documents half is the real packs-mode driver over that tree.
struct Process {
    FaultStore faults;
    std::unique_ptr<job::Env> env;
    sim::FakeDatabase* fake_db = nullptr;
    sim::FakeDocuments* fake_docs = nullptr;  ///< null in packs mode
    job::Job job;
    std::uint64_t ops = 0;
    std::uint64_t kill_at = 0;  ///< 0: never
    bool dead = false;

    Process(store::Store& shared, sim::ManualClock& clock, sim::FakeHalf& db, sim::FakeHalf& docs,
            std::chrono::seconds ttl, const fs::path& packs_root, int index_version)
        : faults(shared),
          env(make_env(faults, clock, db, docs, ttl, packs_root, index_version)),
          job(config(ttl, packs_root, index_version), *env) {
        if (auto* e = dynamic_cast<sim::SimEnv*>(env.get())) {
            fake_db = &e->fake_database();
            fake_docs = &e->fake_documents();
        } else {
            fake_db = &dynamic_cast<PacksSimEnv&>(*env).fake_database();
        }
        for (auto op : all_ops)
            faults.hook(
                op, 1,
                [this] {
                    if (kill_at && ++ops >= kill_at) dead = true;
                    if (dead) throw Killed{};
                },
                true);
    }
    static job::Config config(std::chrono::seconds ttl, const fs::path& packs_root,
                              int index_version) {
        auto c = sim::sim_config();
        c.lock_ttl = ttl;
        if (!packs_root.empty()) {
            c.docs->root = packs_root;
            c.docs->mode = job::DocsMode::packs;
            c.docs->packs_index_version = index_version;
        }
        return c;
    }
    static std::unique_ptr<job::Env> make_env(store::Store& store, sim::ManualClock& clock,
                                              sim::FakeHalf& db, sim::FakeHalf& docs,
                                              std::chrono::seconds ttl, const fs::path& packs_root,
                                              int index_version) {
        if (packs_root.empty()) return std::make_unique<sim::SimEnv>(store, clock, db, docs);
        return std::make_unique<PacksSimEnv>(store, clock, db,
                                             config(ttl, packs_root, index_version));
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

    /// The documents half switches between the fake one (a tar-mode object) and docs_mode
    /// packs: the real driver over `tree`, whose snapshot is what a run saw.
    bool packs_now = false;
    int index_version = 2;  ///< of the packs runs' indexes
    std::unique_ptr<test::TempDir> dir;
    std::unique_ptr<DocsTree> tree;
    fs::path packs_root;
    int targets = 0;
    /// packs mode: prunes that deleted or repacked a pack, full verifications after them,
    /// packs repacked.
    struct PackCounts {
        int collections = 0, verified = 0, repacked = 0, clean = 0;
    } pack_counts;

    explicit World(std::uint64_t seed) : rng(seed) {
        dir = std::make_unique<test::TempDir>("dolibak-sim");
        packs_root = dir->path() / "documents";
        tree = std::make_unique<DocsTree>(packs_root, rng);
    }

    bool chance(double p) { return std::uniform_real_distribution<>(0, 1)(rng) < p; }
    std::uint64_t pick(std::uint64_t lo, std::uint64_t hi) {
        return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
    }

    /// A process in the current documents mode, or the one asked for.
    std::unique_ptr<Process> process() { return process(packs_now); }
    std::unique_ptr<Process> process(bool packs) {
        return std::make_unique<Process>(mem, clock, db, docs, ttl, packs ? packs_root : fs::path(),
                                         index_version);
    }

    void change_content() {
        if (chance(0.5)) db.set_content("db v" + std::to_string(++version));
        if (chance(0.3))
            for (auto n = pick(1, 3); n > 0; --n) tree->change();
        if (chance(0.15)) docs.set_content("docs v" + std::to_string(++version));
    }
    std::string docs_content() { return packs_now ? snapshot(packs_root) : docs.content(); }

    /// Notes the content a run starting now sees, for every time stamp it may take (the
    /// same-second wait moves it by up to 3 s).
    void note_run() {
        const auto t = clock.now();
        const auto d = docs_content();
        for (int s = 0; s < 5; ++s) seen[t + std::chrono::seconds(s)] = {db.content(), d};
    }

    /// A backup in its own process, with at most one fault; returns whether it published.
    bool backup() {
        ++counts.runs;
        note_run();
        auto p = process();
        // At most one fault: a kill at a random store operation, a kill in the middle of an
        // upload, a lost answer, a transient error.
        const int fault = static_cast<int>(pick(0, 9));
        if (fault == 0) p->kill_at = pick(1, packs_now ? 20 : 14);
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
        bool faulty = false;
        if (packs_now) {
            // kills reach into the collection and the repack, and answers get lost there
            if (chance(0.08)) p->kill_at = pick(1, 40);
            if (chance(0.05)) {
                faulty = true;
                p->faults.fail(
                    chance(0.5) ? FaultStore::Op::put : FaultStore::Op::remove_many, pick(1, 3),
                    chance(0.5) ? FaultStore::Fault::lose_response : FaultStore::Fault::transient);
                ++counts.lost;
            }
        } else if (chance(0.05)) {
            p->kill_at = pick(1, 10);
        }
        try {
            const auto r = p->job.prune();
            return r.failures.empty() && !faulty;
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

    /// What a documents restore of the run `which` (its documents object `key`) gives: the
    /// fake half's content, or the restored tree's snapshot (through the Job's restore one
    /// time in `job_every`, else read from the index and packs in memory).
    std::string restore_docs(Process& fake, const std::string& which, const std::string& key,
                             int job_every) {
        job::RestoreDocsOptions o;
        o.which = which;
        if (!key.ends_with(".index.zst")) {
            o.target = "/nonexistent-sim-target";
            fake.job.restore_docs(o);
            return fake.fake_docs->restored;
        }
        if (++targets % job_every != 0) return snapshot_of_index(mem, key);
        auto p = process(true);
        o.target = dir->path() / ("restored-" + std::to_string(targets));
        p->job.restore_docs(o);
        auto got = snapshot(o.target);
        fs::remove_all(o.target);
        return got;
    }

    std::set<std::string> last_packs;  ///< the packs/ listing after the previous check
    bool collected_clean = false;

    /// Packs mode: after a prune that deleted or repacked a pack, every listed run's index
    /// verifies in full and one listed run restores byte for byte again; after a clean prune,
    /// a collection finds nothing left to do.
    void check_packs(Process& p, const catalog::Listing& listing, bool clean_prune) {
        std::set<std::string> now;
        for (const auto& o : mem.list("packs/")) now.insert(o.key);
        bool gone = false;
        for (const auto& k : last_packs) gone = gone || !now.contains(k);
        for (const auto& k : now)
            if (packs::is_moved_key(k) && !last_packs.contains(k)) ++pack_counts.repacked;
        const bool changed = now != last_packs;
        last_packs = now;
        // (packs that did not change since the last clean collection give nothing new to find)
        if (clean_prune && !now.empty() && (changed || !collected_clean)) {
            collected_clean = true;
            const auto again = packs::collect_garbage(mem, true);
            CHECK(again.plan.remove.empty());
            CHECK(again.plan.repack.empty());
            CHECK(again.plan.records_remove.empty());
            ++pack_counts.clean;
        }
        if (!gone) return;
        ++pack_counts.collections;
        std::set<std::string> indexes;
        std::vector<const catalog::RunEntry*> runs;
        for (const auto& run : listing.runs) {
            if (!run.manifest.succeeded()) continue;
            if (auto h = run.manifest.halves.find("docs");
                h != run.manifest.halves.end() && h->second.key.ends_with(".index.zst")) {
                indexes.insert(h->second.key);
                runs.push_back(&run);
            }
        }
        for (const auto& key : indexes) {
            INFO(key);
            auto index = mem.get(key);
            const auto v = packs::verify_run(mem, *index, true);
            CHECK(v.problems.empty());
            for (const auto& problem : v.problems) MESSAGE(problem);
            ++pack_counts.verified;
        }
        if (runs.empty()) return;
        const auto& run = *runs[pick(0, runs.size() - 1)];
        const auto which = format_timestamp(run.time);
        INFO("restored again: " << which);
        CHECK(restore_docs(p, which, run.manifest.halves.at("docs").key, 10) ==
              seen.at(run.time).second);
    }

    /// The invariants, after every step.
    void check(bool after_prune) {
        auto p = process(false);  // no faults; restores the fake halves
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
                    CHECK(p->fake_db->restored == it->second.first);
                } else {
                    CHECK(restore_docs(*p, which, h.key, 40) == it->second.second);
                }
                ++counts.restores;
                restored.insert(id);
            }
        }
        check_packs(*p, listing, after_prune);
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

/// The decade: a run a day (a race over a stale lock now and then, a future-dated run, bursts
/// of hourly runs), a prune after each day, the invariants after every step.
void simulate(World& w, long days) {
    for (long day = 0; day < days; ++day) {
        w.clock.set(at(2026, 1, 1, 2) + std::chrono::days(day));
        // one year in three in docs_mode packs: the store switches modes three times each way
        w.packs_now = (day / 365) % 3 == 1;
        // its first half with whole indexes (as older stores hold), then trees of pieces
        w.index_version = day % 365 < 182 ? 1 : 2;
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
        // (in packs mode the new run is checked after the prune: a backup deletes nothing)
        if (!w.packs_now) w.check(false);
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

}  // namespace

TEST_CASE(
    "a simulated decade: kills, races, lost answers, a wrong clock, a prune every day, "
    "documents switching between tar and packs") {
    const long days = env_number("DOLIBAK_SIM_DAYS", 3650);
    const auto seed = static_cast<std::uint64_t>(env_number("DOLIBAK_SIM_SEED", 20261206));
    INFO("seed " << seed << ", " << days << " days");
    World w(seed);
    simulate(w, days);
    const auto& c = w.pack_counts;
    std::uint64_t pack_bytes = 0, packs = 0, records = 0;
    for (const auto& o : w.mem.list("packs/")) {
        if (packs::is_moved_key(o.key)) {
            ++records;
        } else {
            ++packs;
            pack_bytes += o.size;
        }
    }
    MESSAGE(c.collections << " prunes deleted or repacked packs (" << c.repacked
                          << " packs repacked), " << c.verified
                          << " index verifications after them, " << c.clean
                          << " clean collections checked; " << packs << " packs (" << pack_bytes
                          << " bytes) and " << records << " move records at the end");
    if (days >= 730) {
        CHECK(c.collections > days / 100);
        CHECK(c.clean > days / 100);
        CHECK(c.repacked > days / 200);  // repacking happens, and kept runs go through it
    }
}
