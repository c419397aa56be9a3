// The documents half in docs_mode packs through the Job: the real documents driver over a
// memory store and a manual clock (sim_env.hpp), no database. A changed day uploads only new
// content, an unchanged day nothing; verify reads the packs; restore gives the tree back;
// prune collects the packs no kept run references; a store switches between tar and packs.
#include "job/real_drivers.hpp"
#include "support/real_docs_env.hpp"
#include "support/sim_env.hpp"
#include "support/testsupport.hpp"

#include <dolibak/packs/gc.hpp>
#include <dolibak/packs/index.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <random>
#include <set>

using namespace dolibak;
using dolibak::test::random_bytes;
using dolibak::test::read_file;
using dolibak::test::RealDocsEnv;
using dolibak::test::TempDir;
using dolibak::test::write_file;
namespace fs = std::filesystem;

namespace {

job::Config packs_config(const fs::path& root, bool packs) {
    job::Config c;
    c.store_url = "mem://packs";
    job::DocumentsSettings d;
    d.root = root;
    d.mode = packs ? job::DocsMode::packs : job::DocsMode::tar;
    c.docs = d;
    return c;
}

struct Site {
    TempDir dir;
    fs::path root = dir / "documents";
    store::MemoryStore mem{"packs"};
    store::FaultStore store{mem};
    sim::ManualClock clock{sim::at(2026, 3, 1)};

    Site() {
        fs::create_directories(root / "facture/FA2603-0001");
        write_file(root / "install.lock", "");
        for (unsigned i = 0; i < 40; ++i)
            write_file(root / ("facture/FA2603-0001/doc" + std::to_string(i) + ".pdf"),
                       random_bytes(20'000 + i, i));
        write_file(root / "big.bin", random_bytes(3'000'000, 99));
    }
    job::BackupReport backup(TimePoint t, bool packs = true,
                             retention::Policy policy = retention::Policy{}) {
        clock.set(t);
        auto c = packs_config(root, packs);
        c.retention = policy;
        RealDocsEnv env(store, clock, c);
        job::Job job(c, env);
        return job.backup({});
    }
    job::Job job(RealDocsEnv& env, bool packs = true) {
        return job::Job(packs_config(root, packs), env);
    }
    std::vector<std::string> packs() {
        std::vector<std::string> out;
        for (const auto& o : mem.list("packs/")) out.push_back(o.key);
        return out;
    }
    std::uint64_t pack_bytes() {
        std::uint64_t n = 0;
        for (const auto& o : mem.list("packs/")) n += o.size;
        return n;
    }
};

const job::HalfReport& docs_half(const job::BackupReport& r) {
    for (const auto& h : r.halves)
        if (h.half == "docs") return h;
    FAIL("no documents half in the report");
    return r.halves.front();
}

}  // namespace

TEST_CASE("packs mode: a changed day uploads only new content, an unchanged day nothing") {
    Site site;
    const auto first = site.backup(sim::at(2026, 3, 1));
    REQUIRE(docs_half(first).outcome == job::HalfReport::Outcome::uploaded);
    CHECK(docs_half(first).key == "docs/20260301T020000Z.index.zst");
    const auto packs_after_first = site.packs().size();
    const auto bytes_after_first = site.pack_bytes();
    CHECK(bytes_after_first > 3'800'000);

    const auto puts = site.store.calls(store::FaultStore::Op::put);
    const auto same = site.backup(sim::at(2026, 3, 2));
    CHECK(docs_half(same).outcome == job::HalfReport::Outcome::unchanged);
    CHECK(docs_half(same).key == "docs/20260301T020000Z.index.zst");
    CHECK(site.packs().size() == packs_after_first);
    // the lock and the manifest, nothing of the documents
    CHECK(site.store.calls(store::FaultStore::Op::put) - puts <= 3);

    write_file(site.root / "facture/FA2603-0001/doc40.pdf", random_bytes(7'000, 40));
    write_file(site.root / "facture/FA2603-0001/doc3.pdf", random_bytes(9'000, 1003));
    const auto changed = site.backup(sim::at(2026, 3, 3));
    REQUIRE(docs_half(changed).outcome == job::HalfReport::Outcome::uploaded);
    // The new content's pack and a pack of the index's pieces: the changed folder's, facture/'s
    // and the root's (a few hundred bytes each here; test_packs_pieces.cpp checks that they
    // grow with the changed folders, not with the tree).
    CHECK(site.packs().size() == packs_after_first + 2);
    CHECK(site.pack_bytes() - bytes_after_first < 16'100 * 12 / 10 + 3'000);
    // The run's manifest says so: three pieces stored (the folder, facture/, the root), none
    // kept, as every folder of this small tree is on the changed path (test_packs_pieces.cpp
    // counts kept ones).
    const auto manifest =
        nlohmann::json::parse(site.mem.get_bytes("manifests/20260303T020000Z.json"));
    const auto& summary = manifest.at("halves").at("docs").at("archive_summary");
    CHECK(summary.at("pieces_new") == 3);
    CHECK(summary.at("pieces_kept") == 0);
    CHECK(summary.at("piece_bytes").get<int>() > 0);

    // verify reads every pack; restore gives back each run's tree
    RealDocsEnv env(site.store, site.clock, packs_config(site.root, true));
    auto job = site.job(env);
    CHECK(job.verify("latest").ok());
    job::RestoreDocsOptions ro;
    ro.which = "20260301T020000Z";
    ro.target = site.dir / "restored-first";
    job.restore_docs(ro);
    CHECK(read_file(ro.target / "facture/FA2603-0001/doc3.pdf") == random_bytes(20'003, 3));
    CHECK_FALSE(fs::exists(ro.target / "facture/FA2603-0001/doc40.pdf"));
    ro.which = "latest";
    ro.target = site.dir / "restored-latest";
    job.restore_docs(ro);
    CHECK(read_file(ro.target / "facture/FA2603-0001/doc3.pdf") == random_bytes(9'000, 1003));
    CHECK(read_file(ro.target / "big.bin") == random_bytes(3'000'000, 99));

    // a damaged pack is a finding of verify (the largest: big.bin's, which the latest run
    // references; the first run's pack of pieces may hold none of the latest tree's pieces)
    const std::string victim = test::largest_object(site.mem, "packs/");
    auto bytes = site.mem.get_bytes(victim);
    bytes[bytes.size() / 3] ^= 1;
    site.mem.put_bytes(victim, bytes);
    const auto bad = job.verify("latest");
    CHECK_FALSE(bad.ok());
}

TEST_CASE("packs mode: prune collects the packs no kept run references") {
    Site site;
    site.backup(sim::at(2026, 3, 1));
    // Everything the first run stored (one pack) goes; the second run has new content only.
    fs::remove_all(site.root / "facture");
    fs::remove(site.root / "big.bin");
    write_file(site.root / "fresh.pdf", random_bytes(50'000, 5));
    site.backup(sim::at(2026, 3, 2));
    const auto before = site.packs().size();

    retention::Policy keep_one;
    keep_one.mode = retention::Policy::Mode::count;
    keep_one.count.last = 1;
    auto c = packs_config(site.root, true);
    c.retention = keep_one;
    RealDocsEnv env(site.store, site.clock, c);
    job::Job job(c, env);
    const auto report = job.prune();
    std::size_t packs_deleted = 0;
    for (const auto& k : report.deleted)
        if (k.rfind("packs/", 0) == 0) ++packs_deleted;
    CHECK(packs_deleted == 2);  // the first run's content and its pieces
    CHECK(site.packs().size() == before - packs_deleted);
    CHECK_FALSE(site.mem.head("docs/20260301T020000Z.index.zst"));
    CHECK(job.verify("latest").ok());
    job::RestoreDocsOptions ro;
    ro.target = site.dir / "restored";
    job.restore_docs(ro);
    CHECK(read_file(ro.target / "fresh.pdf") == random_bytes(50'000, 5));
    CHECK_FALSE(fs::exists(ro.target / "big.bin"));

    // a second prune finds nothing more to collect
    const auto again = job.prune();
    CHECK(site.packs().size() == before - packs_deleted);
    CHECK(again.failures.empty());
}

namespace {

/// Every object of the store and its bytes.
std::map<std::string, std::string> snapshot(store::MemoryStore& mem) {
    std::map<std::string, std::string> out;
    for (const auto& o : mem.list("")) out[o.key] = mem.get_bytes(o.key);
    return out;
}

std::set<std::string> keys_of(const std::vector<job::CollectedPack>& packs) {
    std::set<std::string> out;
    for (const auto& p : packs) out.insert(p.key);
    return out;
}

std::set<std::string> gone(const std::map<std::string, std::string>& before,
                           const std::map<std::string, std::string>& after,
                           const std::string& prefix) {
    std::set<std::string> out;
    for (const auto& [k, v] : before)
        if (k.starts_with(prefix) && !after.contains(k)) out.insert(k);
    return out;
}

}  // namespace

TEST_CASE("prune --dry-run previews exactly the packs the prune then deletes and repacks") {
    Site site;
    using Op = store::FaultStore::Op;
    const auto prune = [&](unsigned keep_last, bool dry_run) {
        retention::Policy p;
        p.mode = retention::Policy::Mode::count;
        p.count.last = keep_last;
        auto c = packs_config(site.root, true);
        c.retention = p;
        RealDocsEnv env(site.store, site.clock, c);
        return job::Job(c, env).prune(dry_run);
    };
    // A dry run changes nothing (and takes no lock: no put, no deletion at all); the prune
    // that follows deletes exactly the packs and records it named, and repacks the others.
    const auto dry_then_real = [&](unsigned keep_last) {
        const auto before = snapshot(site.mem);
        site.store.reset();
        const auto dry = prune(keep_last, true);
        CHECK(snapshot(site.mem) == before);
        for (const auto op : {Op::put, Op::remove, Op::remove_if, Op::remove_many})
            CHECK(site.store.calls(op) == 0);
        REQUIRE(dry.packs);
        CHECK(dry.packs_error.empty());
        CHECK(dry.deleted.empty());
        CHECK(dry.packs->written.empty());
        const auto real = prune(keep_last, false);
        REQUIRE(real.packs);
        CHECK(real.failures.empty());
        const auto& d = *dry.packs;
        const auto& r = *real.packs;
        CHECK(keys_of(d.deleted) == keys_of(r.deleted));
        CHECK(keys_of(d.repacked) == keys_of(r.repacked));
        CHECK(d.records_deleted == r.records_deleted);
        CHECK(d.deleted_bytes() == r.deleted_bytes());
        CHECK(d.repacked_bytes() == r.repacked_bytes());
        CHECK(d.repacked_live_bytes() == r.repacked_live_bytes());
        CHECK(d.kept_bytes == r.kept_bytes);
        CHECK(d.indexes == r.indexes);
        CHECK(dry.to_delete == real.to_delete);
        // What went from the store: the packs deleted and repacked, the records named.
        const auto after = snapshot(site.mem);
        auto packs_gone = keys_of(d.deleted);
        for (const auto& p : d.repacked) packs_gone.insert(p.key);
        std::set<std::string> records_gone(d.records_deleted.begin(), d.records_deleted.end());
        std::set<std::string> all_gone = gone(before, after, "packs/");
        std::set<std::string> packs_seen, records_seen;
        for (const auto& k : all_gone)
            (packs::is_moved_key(k) ? records_seen : packs_seen).insert(k);
        CHECK(packs_seen == packs_gone);
        CHECK(records_seen == records_gone);
        std::uint64_t bytes_gone = 0;
        for (const auto& k : keys_of(d.deleted)) bytes_gone += before.at(k).size();
        CHECK(d.deleted_bytes() == bytes_gone);
        return d;
    };

    // Day 1 stores everything in one pack of content; by day 3 big.bin and 35 of the 40
    // invoices are gone: once day 1 goes, its pack of content is mostly garbage.
    site.backup(sim::at(2026, 3, 1));
    fs::remove(site.root / "big.bin");
    for (unsigned i = 5; i < 40; ++i)
        fs::remove(site.root / ("facture/FA2603-0001/doc" + std::to_string(i) + ".pdf"));
    write_file(site.root / "late.pdf", random_bytes(8'000, 41));
    site.backup(sim::at(2026, 3, 2));
    write_file(site.root / "later.pdf", random_bytes(9'000, 42));
    site.backup(sim::at(2026, 3, 3));
    const auto first = dry_then_real(2);
    CHECK_FALSE(first.deleted.empty());  // day 1's pack of pieces
    REQUIRE(first.repacked.size() == 1);
    CHECK(first.repacked.front().live * 2 < first.repacked.front().bytes);
    CHECK(first.records_deleted.empty());

    // Day 4 drops the invoices day 1 stored: once days 2 and 3 go, no index goes through the
    // move record any more, and the pack the repack wrote is garbage.
    fs::remove_all(site.root / "facture");
    site.backup(sim::at(2026, 3, 4));
    const auto second = dry_then_real(1);
    CHECK_FALSE(second.deleted.empty());
    CHECK(second.repacked.empty());
    CHECK(second.records_deleted.size() == 1);

    // Nothing left to collect: the preview says so.
    const auto third = dry_then_real(1);
    CHECK(third.deleted.empty());
    CHECK(third.repacked.empty());
    CHECK(third.records_deleted.empty());
    CHECK(third.indexes == 1);
}

TEST_CASE("a store switches from tar to packs and back without losing its history") {
    Site site;
    const auto tar = site.backup(sim::at(2026, 3, 1), false);
    CHECK(docs_half(tar).key == "docs/20260301T020000Z.tar.zst");
    write_file(site.root / "new.pdf", "new");
    const auto packs = site.backup(sim::at(2026, 3, 2), true);
    CHECK(docs_half(packs).key == "docs/20260302T020000Z.index.zst");
    write_file(site.root / "newer.pdf", "newer");
    const auto tar2 = site.backup(sim::at(2026, 3, 3), false);
    CHECK(docs_half(tar2).key == "docs/20260303T020000Z.tar.zst");

    RealDocsEnv env(site.store, site.clock, packs_config(site.root, false));
    auto job = site.job(env, false);
    for (const char* run : {"20260301T020000Z", "20260302T020000Z", "20260303T020000Z"}) {
        job::RestoreDocsOptions ro;
        ro.which = run;
        ro.target = site.dir / (std::string("restored-") + run);
        job.restore_docs(ro);
        CHECK(read_file(ro.target / "big.bin") == random_bytes(3'000'000, 99));
        CHECK(fs::exists(ro.target / "new.pdf") == (std::string(run) != "20260301T020000Z"));
    }
    CHECK(job.verify("20260302T020000Z").ok());
}

TEST_CASE("packs mode: a failure at any step of backup or prune leaves every run verifiable") {
    Site site;
    retention::Policy keep_three;
    keep_three.mode = retention::Policy::Mode::count;
    keep_three.count.last = 3;
    auto c = packs_config(site.root, true);
    c.retention = keep_three;
    fs::remove(site.root / "big.bin");
    using Op = store::FaultStore::Op;
    using Fault = store::FaultStore::Fault;
    std::size_t failed_steps = 0;
    for (int day = 1; day <= 12; ++day) {
        // each day: a new document and one rewritten, so each run uploads a pack
        write_file(site.root / ("facture/new" + std::to_string(day) + ".pdf"),
                   random_bytes(30'000, 1000 + day));
        write_file(site.root / ("facture/FA2603-0001/doc" + std::to_string(day) + ".pdf"),
                   random_bytes(25'000, 2000 + day));
        site.clock.set(sim::at(2026, 3, day));
        RealDocsEnv env(site.store, site.clock, c);
        job::Job job(c, env);
        // the n-th put of the backup fails (a pack, the index, the fingerprint, the
        // manifest...), or the answer to it is lost; then the n-th deletion of the prune
        site.store.reset();
        site.store.fail(Op::put, 1 + day % 5, day % 2 ? Fault::transient : Fault::lose_response);
        try {
            const auto r = job.backup({});
            if (docs_half(r).outcome == job::HalfReport::Outcome::failed) ++failed_steps;
        } catch (const Error&) {
            ++failed_steps;
        }
        site.store.reset();
        site.store.fail(Op::remove_many, 1 + day % 3, Fault::transient);
        try {
            job.prune();
        } catch (const Error&) {
            ++failed_steps;
        }
        site.store.reset();
        // every listed run that succeeded verifies: its index and every blob it references
        for (const auto& run : job.list().runs) {
            if (!run.loaded || !run.manifest.succeeded()) continue;
            const auto v = job.verify(format_timestamp(run.time));
            CHECK_MESSAGE(v.ok(), "day ", day, ": run ", format_timestamp(run.time));
        }
    }
    CHECK(failed_steps >= 6);
    // and a clean day afterwards backs up, prunes and restores the newest run
    site.clock.set(sim::at(2026, 3, 20));
    RealDocsEnv env(site.store, site.clock, c);
    job::Job job(c, env);
    job.backup({});
    job.prune();
    // the failed runs' packs are gone too: nothing unreferenced is left
    CHECK(packs::collect_garbage(site.mem, true).plan.remove.empty());
    CHECK(job.list().runs.size() <= 4);
    job::RestoreDocsOptions ro;
    ro.target = site.dir / "restored";
    job.restore_docs(ro);
    CHECK(read_file(ro.target / "facture/new12.pdf") == random_bytes(30'000, 1012));
    CHECK(read_file(ro.target / "facture/FA2603-0001/doc12.pdf") == random_bytes(25'000, 2012));
}

TEST_CASE("verify --quick: presence and sizes only, no pack read, nothing recorded") {
    Site site;
    site.backup(sim::at(2026, 3, 1));
    RealDocsEnv env(site.store, site.clock, packs_config(site.root, true));
    auto job = site.job(env);
    job::VerifyOptions quick;
    quick.quick = true;
    const auto q = job.verify("latest", quick);
    CHECK(q.ok());
    CHECK(q.quick);
    CHECK(q.record_key.empty());
    CHECK(site.mem.list("verified/").empty());

    // a flipped byte (same size) in a pack of content passes the quick verify, not the full
    // one: no such pack was read (the index's pieces are, in their own pack)
    const std::string victim = test::largest_object(site.mem, "packs/");
    auto bytes = site.mem.get_bytes(victim);
    bytes[bytes.size() / 2] ^= 1;
    site.mem.put_bytes(victim, bytes);
    CHECK(job.verify("latest", quick).ok());
    CHECK_FALSE(job.verify("latest").ok());
    CHECK_FALSE(site.mem.list("verified/").empty());  // the full one is recorded

    // a pack that is gone fails it, naming the pack
    site.mem.remove(victim);
    const auto gone = job.verify("latest", quick);
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.objects.front().problem.find(victim + ": missing") != std::string::npos);
}

TEST_CASE("verify --quick of a tar-mode run compares each object's size with its manifest") {
    Site site;
    const auto r = site.backup(sim::at(2026, 3, 1), false);
    const auto key = docs_half(r).key;
    RealDocsEnv env(site.store, site.clock, packs_config(site.root, false));
    auto job = site.job(env, false);
    job::VerifyOptions quick;
    quick.quick = true;
    REQUIRE(job.verify("latest", quick).ok());
    auto bytes = site.mem.get_bytes(key);
    bytes.pop_back();
    site.mem.put_bytes(key, bytes);
    const auto shorter = job.verify("latest", quick);
    REQUIRE_FALSE(shorter.ok());
    CHECK(shorter.objects.front().problem.find("differs from the manifest's") != std::string::npos);
}

TEST_CASE("a run killed after publishing its index does not block the next run in that second") {
    Site site;
    const auto t = sim::at(2026, 3, 2, 2);
    // what a backup killed between its index and its manifest leaves under <ts>
    site.mem.put_bytes("docs/20260302T020000Z.index.zst", "left by a killed run");
    const auto r = site.backup(t);
    CHECK(r.ok());
    CHECK(r.time > t);  // it waited for the next second instead of failing on the index key
    CHECK(site.mem.get_bytes("docs/20260302T020000Z.index.zst") == "left by a killed run");
}
