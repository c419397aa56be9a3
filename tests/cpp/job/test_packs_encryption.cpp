// docs_mode packs with age_recipients (docs/packs.md, "Encrypted stores"): the real documents
// driver over a memory store behind a fault store, no database. Every pack and index is an
// age object, named without any plaintext digest; a second day reuses what is stored; restore
// and verify with the identity, verify without it; a tampered pack; the configuration errors;
// prune's collection refusing without an identity that opens the indexes; switching between
// runs in the clear and encrypted runs; prune repacking a mostly-garbage encrypted pack.
#include "job/real_drivers.hpp"
#include "support/real_docs_env.hpp"
#include "support/sim_env.hpp"
#include "support/testsupport.hpp"

#include <dolibak/io/age.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/packs/index.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

using namespace dolibak;
using dolibak::test::random_bytes;
using dolibak::test::read_file;
using dolibak::test::RealDocsEnv;
using dolibak::test::TempDir;
using dolibak::test::write_file;
namespace fs = std::filesystem;

namespace {

struct Site {
    TempDir dir;
    fs::path root = dir / "documents";
    store::MemoryStore mem{"packs-age"};
    store::FaultStore store{mem};
    sim::ManualClock clock{sim::at(2026, 3, 1)};
    io::AgeKeyPair operational = io::age_generate_key();
    io::AgeKeyPair recovery = io::age_generate_key();

    Site() {
        fs::create_directories(root / "facture/FA2603-0001");
        write_file(root / "install.lock", "");
        for (unsigned i = 0; i < 30; ++i)
            write_file(root / ("facture/FA2603-0001/doc" + std::to_string(i) + ".pdf"),
                       random_bytes(20'000 + i, i));
        write_file(root / "big.bin", random_bytes(3'000'000, 99));
    }
    /// Encrypted to both keys; the operational identity given (as the CronJob has it).
    job::Config config(bool encrypted = true, std::vector<Secret> ids = {}) {
        job::Config c;
        c.store_url = "mem://packs-age";
        job::DocumentsSettings d;
        d.root = root;
        d.mode = job::DocsMode::packs;
        c.docs = d;
        if (encrypted) {
            c.encryption.recipients = {operational.recipient, recovery.recipient};
            c.encryption.identities = {operational.identity};
        }
        if (!ids.empty()) c.encryption.identities = std::move(ids);
        return c;
    }
    job::BackupReport backup(TimePoint t, const job::Config& c) {
        clock.set(t);
        RealDocsEnv env(store, clock, c);
        job::Job job(c, env);
        return job.backup({});
    }
    std::vector<std::string> keys(const std::string& prefix) {
        std::vector<std::string> out;
        for (const auto& o : mem.list(prefix)) out.push_back(o.key);
        return out;
    }
    /// The entries of an encrypted index, opened with `identity`.
    std::vector<packs::IndexEntry> index(const std::string& key, const Secret& identity) {
        auto raw = mem.get(key);
        io::AgeIdentities ids;
        ids.x25519.push_back(identity);
        io::AgeDecryptSource plain(*raw, ids);
        packs::TreeAccess tree;
        tree.store = &mem;
        tree.identities = &ids;
        packs::IndexReader reader(plain, &tree);
        std::vector<packs::IndexEntry> out;
        while (auto e = reader.next()) out.push_back(std::move(*e));
        return out;
    }
};

const job::HalfReport& docs_half(const job::BackupReport& r) {
    for (const auto& h : r.halves)
        if (h.half == "docs") return h;
    FAIL("no documents half in the report");
    return r.halves.front();
}

bool is_age(const std::string& bytes) {
    return bytes.rfind("age-encryption.org/v1\n", 0) == 0;
}

}  // namespace

TEST_CASE("encrypted packs: age objects named without plaintext digests, reused the next day") {
    Site site;
    const auto first = site.backup(sim::at(2026, 3, 1), site.config());
    REQUIRE(first.ok());
    CHECK(docs_half(first).key == "docs/20260301T020000Z.index.zst.age");
    CHECK(is_age(site.mem.get_bytes(docs_half(first).key)));
    const auto packs_first = site.keys("packs/");
    REQUIRE_FALSE(packs_first.empty());
    for (const auto& k : packs_first) {
        CAPTURE(k);
        const auto bytes = site.mem.get_bytes(k);
        CHECK(is_age(bytes));
        CHECK(k == packs::pack_key(io::sha256_hex(bytes), true));  // the stored bytes' digest
    }
    // No plaintext digest in a key or the manifest: the blob of big.bin is known by its
    // SHA-256 only inside the encrypted index (which the recovery key opens too).
    const auto big_sha = io::sha256_hex(random_bytes(3'000'000, 99));
    for (const auto& o : site.mem.list("")) CHECK(o.key.find(big_sha) == std::string::npos);
    for (const auto& m : site.keys("manifests/"))
        CHECK(site.mem.get_bytes(m).find(big_sha) == std::string::npos);
    bool seen = false;
    for (const auto& e : site.index(docs_half(first).key, site.recovery.identity)) {
        for (const auto& b : e.blobs) CHECK(packs::is_encrypted_pack(b.pack));
        if (e.path == "big.bin") seen = e.blobs.size() == 1 && e.blobs[0].sha256 == big_sha;
    }
    CHECK(seen);

    // A changed day: the previous (encrypted) index read with the operational identity, only
    // the new content uploaded, in one new pack.
    write_file(site.root / "facture/FA2603-0001/doc30.pdf", random_bytes(7'000, 30));
    write_file(site.root / "facture/FA2603-0001/doc3.pdf", random_bytes(9'000, 1003));
    const auto puts = site.store.calls(store::FaultStore::Op::put);
    const auto second = site.backup(sim::at(2026, 3, 2), site.config());
    REQUIRE(second.ok());
    CHECK(site.keys("packs/").size() == packs_first.size() + 2);
    // a pack of content and one of pieces, the index, the fingerprint, the manifest and the
    // lock (taken and renewed)
    CHECK(site.store.calls(store::FaultStore::Op::put) - puts <= 7);
    std::uint64_t new_bytes = 0;
    for (const auto& o : site.mem.list("packs/"))
        if (std::find(packs_first.begin(), packs_first.end(), o.key) == packs_first.end())
            new_bytes += o.size;
    // the new content, the changed folders' pieces, and age's headers and tags
    CHECK(new_bytes < 16'000 * 12 / 10 + 3'000);

    // Restore with the recovery identity alone, byte for byte.
    auto rc = site.config(true, {site.recovery.identity});
    RealDocsEnv env(site.store, site.clock, rc);
    job::Job job(rc, env);
    job::RestoreDocsOptions ro;
    ro.which = "20260301T020000Z";
    ro.target = site.dir / "restored-first";
    job.restore_docs(ro);
    CHECK(read_file(ro.target / "facture/FA2603-0001/doc3.pdf") == random_bytes(20'003, 3));
    CHECK(read_file(ro.target / "big.bin") == random_bytes(3'000'000, 99));
    CHECK_FALSE(fs::exists(ro.target / "facture/FA2603-0001/doc30.pdf"));
    ro.which = "latest";
    ro.target = site.dir / "restored-latest";
    job.restore_docs(ro);
    CHECK(read_file(ro.target / "facture/FA2603-0001/doc3.pdf") == random_bytes(9'000, 1003));
    CHECK(read_file(ro.target / "facture/FA2603-0001/doc30.pdf") == random_bytes(7'000, 30));
    CHECK(read_file(ro.target / "big.bin") == random_bytes(3'000'000, 99));

    // verify: with the identity every pack decrypted and every blob checked; without, the
    // index's ciphertext against the manifest and every encrypted pack against its name.
    std::vector<std::string> said;
    auto vc = site.config(true, {site.recovery.identity});
    vc.on_event = [&said](const job::Event& e) { said.push_back(e.message); };
    RealDocsEnv venv(site.store, site.clock, vc);
    job::Job verifier(vc, venv);
    CHECK(verifier.verify("latest").ok());
    const auto has = [&said](const std::string& what) {
        for (const auto& m : said)
            if (m.find(what) != std::string::npos) return true;
        return false;
    };
    CHECK(has("decrypted and checked"));
    auto nc = site.config();
    nc.encryption.identities.clear();
    said.clear();
    nc.on_event = vc.on_event;
    RealDocsEnv nenv(site.store, site.clock, nc);
    job::Job blind(nc, nenv);
    CHECK(blind.verify("latest").ok());
    CHECK(has("every encrypted pack in the store (" +
              std::to_string(site.mem.list("packs/").size()) + ","));
    // ... and a flipped byte of the index is found without the identity.
    const auto index_key = docs_half(second).key;
    auto index_bytes = site.mem.get_bytes(index_key);
    const auto index_good = index_bytes;
    index_bytes[index_bytes.size() - 5] ^= 0x01;
    site.mem.put_bytes(index_key, index_bytes);
    CHECK_FALSE(blind.verify("latest").ok());
    site.mem.put_bytes(index_key, index_good);

    // A flipped byte in a pack: verify with the identity finds it, restore refuses and
    // leaves the target as it was.
    const auto victim = packs_first.front();  // the first run uses it
    auto bytes = site.mem.get_bytes(victim);
    bytes[bytes.size() / 2] ^= 0x01;
    site.mem.put_bytes(victim, bytes);
    CHECK_FALSE(verifier.verify("20260301T020000Z").ok());
    // Without the identity too: the pack's bytes no longer match its name (whichever run of
    // the store is verified: which runs use it is inside the encrypted indexes).
    const auto blind_report = blind.verify("latest");
    CHECK_FALSE(blind_report.ok());
    bool named = false;
    for (const auto& o : blind_report.objects)
        if (o.problem.find(victim + ": SHA-256 of its") != std::string::npos) named = true;
    CHECK(named);
    ro.which = "20260301T020000Z";
    ro.target = site.dir / "restored-damaged";
    CHECK_THROWS_AS(job.restore_docs(ro), Error);
    CHECK_FALSE(fs::exists(ro.target / "big.bin"));
}

TEST_CASE("encrypted packs: a backup without an identity for one of the recipients is refused") {
    Site site;
    auto none = site.config();
    none.encryption.identities.clear();
    RealDocsEnv env(site.store, site.clock, none);
    CHECK_NOTHROW(job::Job(none, env));  // verify without the identity needs such a Job
    CHECK_THROWS_WITH_AS(site.backup(sim::at(2026, 3, 1), none),
                         doctest::Contains("age_identity_file"), ConfigError);
    // An identity whose recipient is not among the recipients: the next run could not read
    // this run's index.
    const auto stranger = io::age_generate_key();
    CHECK_THROWS_WITH_AS(site.backup(sim::at(2026, 3, 1), site.config(true, {stranger.identity})),
                         doctest::Contains("age_identity_file"), ConfigError);
    CHECK(site.mem.list("").empty());  // refused before the lock: nothing written
    // The recovery identity is one of them: accepted.
    CHECK(site.backup(sim::at(2026, 3, 1), site.config(true, {site.recovery.identity})).ok());
}

TEST_CASE(
    "encrypted packs: the collection deletes nothing without an identity opening the indexes") {
    Site site;
    site.backup(sim::at(2026, 3, 1), site.config());
    // The second run has new content only: the first run's packs become garbage once it goes.
    fs::remove_all(site.root / "facture");
    fs::remove(site.root / "big.bin");
    write_file(site.root / "fresh.pdf", random_bytes(50'000, 5));
    site.backup(sim::at(2026, 3, 2), site.config());
    const auto before = site.keys("");
    const auto packs_before = site.keys("packs/");

    retention::Policy keep_one;
    keep_one.mode = retention::Policy::Mode::count;
    keep_one.count.last = 1;
    auto prune_with = [&](job::Config c) {
        c.retention = keep_one;
        RealDocsEnv env(site.store, site.clock, c);
        job::Job job(c, env);
        return job.prune();
    };
    auto none = site.config();
    none.encryption.identities.clear();
    // A dry run without an identity still shows the plan of the runs: that the collection
    // cannot be previewed is a warning, not an error.
    {
        auto c = none;
        c.retention = keep_one;
        std::vector<std::string> warnings;
        c.on_event = [&warnings](const job::Event& e) {
            if (e.kind == job::Event::Kind::warning) warnings.push_back(e.message);
        };
        RealDocsEnv env(site.store, site.clock, c);
        const auto dry = job::Job(c, env).prune(true);
        CHECK(dry.plan.dropped() == 1);  // the first run's documents half
        CHECK_FALSE(dry.packs);
        CHECK(dry.packs_error.find("age_identity_file") != std::string::npos);
        REQUIRE(warnings.size() == 1);
        CHECK(warnings.front().find("not previewed") != std::string::npos);
        CHECK(site.keys("") == before);
        // with the identity, it is previewed: the first run's packs would go
        auto with_id = site.config();
        with_id.retention = keep_one;
        RealDocsEnv env2(site.store, site.clock, with_id);
        const auto seen = job::Job(with_id, env2).prune(true);
        REQUIRE(seen.packs);
        CHECK_FALSE(seen.packs->deleted.empty());
        CHECK(seen.packs->indexes == 1);
        CHECK(site.keys("") == before);
    }
    // No identity at all: refused before anything is deleted.
    CHECK_THROWS_WITH_AS(prune_with(none), doctest::Contains("age_identity_file"), ConfigError);
    CHECK(site.keys("") == before);
    // An identity that opens no index: the runs may go, no pack does.
    CHECK_THROWS_AS(prune_with(site.config(true, {io::age_generate_key().identity})), Error);
    CHECK(site.keys("packs/") == packs_before);
    // With the operational identity the first run's packs are collected.
    const auto report = prune_with(site.config());
    CHECK(report.failures.empty());
    const auto left = site.keys("packs/");
    CHECK(left.size() < packs_before.size());
    CHECK_FALSE(left.empty());
    auto c = site.config();
    RealDocsEnv env(site.store, site.clock, c);
    job::Job job(c, env);
    CHECK(job.verify("latest").ok());
    job::RestoreDocsOptions ro;
    ro.target = site.dir / "restored";
    job.restore_docs(ro);
    CHECK(read_file(ro.target / "fresh.pdf") == random_bytes(50'000, 5));
}

TEST_CASE(
    "packs runs switch between the clear and encrypted: neither references the other's packs") {
    Site site;
    const auto plain = site.backup(sim::at(2026, 3, 1), site.config(false));
    CHECK(docs_half(plain).key == "docs/20260301T020000Z.index.zst");
    const auto plain_packs = site.keys("packs/");
    // Encryption on, nothing changed: everything uploaded again, encrypted.
    const auto enc = site.backup(sim::at(2026, 3, 2), site.config());
    REQUIRE(docs_half(enc).outcome == job::HalfReport::Outcome::uploaded);
    CHECK(docs_half(enc).key == "docs/20260302T020000Z.index.zst.age");
    for (const auto& e : site.index(docs_half(enc).key, site.operational.identity))
        for (const auto& b : e.blobs) CHECK(packs::is_encrypted_pack(b.pack));
    // Off again with one new file: the plain packs of the first run are reused.
    write_file(site.root / "new.pdf", random_bytes(5'000, 7));
    const auto packs_before = site.keys("packs/").size();
    const auto back = site.backup(sim::at(2026, 3, 3), site.config(false));
    CHECK(docs_half(back).key == "docs/20260303T020000Z.index.zst");
    CHECK(site.keys("packs/").size() == packs_before + 2);  // content, pieces
    {
        auto raw = site.mem.get(docs_half(back).key);
        packs::TreeAccess tree;
        tree.store = &site.mem;
        packs::IndexReader reader(*raw, &tree);
        while (auto e = reader.next())
            for (const auto& b : e->blobs) CHECK_FALSE(packs::is_encrypted_pack(b.pack));
    }
    // Encrypted again: reuses the second run's encrypted packs, not the plain ones.
    write_file(site.root / "newer.pdf", random_bytes(6'000, 8));
    const auto again = site.backup(sim::at(2026, 3, 4), site.config());
    CHECK(site.keys("packs/").size() == packs_before + 4);
    for (const auto& e : site.index(docs_half(again).key, site.operational.identity))
        for (const auto& b : e.blobs) CHECK(packs::is_encrypted_pack(b.pack));

    // Every run restores and verifies; a prune keeping them all deletes no pack.
    auto c = site.config();
    RealDocsEnv env(site.store, site.clock, c);
    job::Job job(c, env);
    for (const char* run :
         {"20260301T020000Z", "20260302T020000Z", "20260303T020000Z", "20260304T020000Z"}) {
        CAPTURE(run);
        CHECK(job.verify(run).ok());
        job::RestoreDocsOptions ro;
        ro.which = run;
        ro.target = site.dir / (std::string("restored-") + run);
        job.restore_docs(ro);
        CHECK(read_file(ro.target / "big.bin") == random_bytes(3'000'000, 99));
    }
    const auto packs_now = site.keys("packs/");
    auto keep_all = site.config();
    keep_all.retention.mode = retention::Policy::Mode::count;
    keep_all.retention.count.last = 10;
    RealDocsEnv penv(site.store, site.clock, keep_all);
    job::Job(keep_all, penv).prune();
    CHECK(site.keys("packs/") == packs_now);
    for (const auto& k : plain_packs)
        CHECK(std::find(packs_now.begin(), packs_now.end(), k) != packs_now.end());
}

TEST_CASE(
    "encrypted packs: prune repacks a mostly-garbage pack, encrypted; every kept run "
    "restores byte for byte") {
    Site site;
    const auto files_of = [](const fs::path& root) {
        std::map<std::string, std::string> out;
        for (const auto& e : fs::recursive_directory_iterator(root))
            if (e.is_regular_file())
                out[fs::relative(e.path(), root).string()] = read_file(e.path());
        return out;
    };
    // The first run's one pack holds everything; then big.bin and 25 of the 30 invoices go,
    // so once the first run is pruned, that pack is mostly garbage.
    REQUIRE(site.backup(sim::at(2026, 3, 1), site.config()).ok());
    const auto first_packs = site.keys("packs/");
    REQUIRE(first_packs.size() == 2);  // the content, and the index's pieces
    const std::string old_pack = test::largest_object(site.mem, "packs/");
    fs::remove(site.root / "big.bin");
    for (unsigned i = 5; i < 30; ++i)
        fs::remove(site.root / ("facture/FA2603-0001/doc" + std::to_string(i) + ".pdf"));
    write_file(site.root / "late.pdf", random_bytes(8'000, 41));
    REQUIRE(site.backup(sim::at(2026, 3, 2), site.config()).ok());
    std::map<std::string, std::map<std::string, std::string>> trees;
    trees["20260302T020000Z"] = files_of(site.root);
    write_file(site.root / "later.pdf", random_bytes(9'000, 42));
    REQUIRE(site.backup(sim::at(2026, 3, 3), site.config()).ok());
    trees["20260303T020000Z"] = files_of(site.root);

    retention::Policy keep_two;
    keep_two.mode = retention::Policy::Mode::count;
    keep_two.count.last = 2;
    auto pc = site.config();
    pc.retention = keep_two;
    std::vector<std::string> said;
    pc.on_event = [&said](const job::Event& e) { said.push_back(e.message); };
    // With the identity but not the recipients, a dry run predicts that the encrypted pack
    // would be left as it is (its live frames could not be written again), and changes
    // nothing.
    {
        auto no_recipients = pc;
        no_recipients.encryption.recipients.clear();
        no_recipients.on_event = nullptr;
        const auto before = site.keys("");
        RealDocsEnv env(site.store, site.clock, no_recipients);
        const auto preview = job::Job(no_recipients, env).prune(true);
        REQUIRE(preview.packs);
        CHECK(preview.packs->repacked.empty());
        REQUIRE(preview.packs->problems.size() == 1);
        CHECK(preview.packs->problems[0] ==
              old_pack +
                  ": encrypted, and repacking it needs the age identity and the recipients "
                  "(age_identity_file, age_recipients): would not be repacked");
        CHECK(site.keys("") == before);
    }
    {
        RealDocsEnv env(site.store, site.clock, pc);
        const auto report = job::Job(pc, env).prune();
        CHECK(report.failures.empty());
    }
    bool repacked = false;
    for (const auto& m : said)
        repacked = repacked || m.find("repacked into 1") != std::string::npos;
    CHECK(repacked);

    // The old pack is gone; its move record is an age file; the new pack is an encrypted pack
    // named by the SHA-256 of its stored bytes.
    CHECK_FALSE(site.mem.head(old_pack));
    const auto sha = old_pack.substr(old_pack.rfind('/') + 1, 64);
    const auto record = "packs/moved/" + sha + ".json.age";
    REQUIRE(site.mem.head(record));
    CHECK(is_age(site.mem.get_bytes(record)));
    std::vector<std::string> added;
    for (const auto& k : site.keys("packs/"))
        if (k.rfind("packs/moved/", 0) != 0) added.push_back(k);
    // the repacked one, and the second and third runs' packs (content, and pieces)
    REQUIRE(added.size() == 5);
    for (const auto& k : added) {
        CAPTURE(k);
        CHECK(k.ends_with(".pack.age"));
        const auto bytes = site.mem.get_bytes(k);
        CHECK(is_age(bytes));
        CHECK(k == packs::pack_key(io::sha256_hex(bytes), true));
    }
    // The kept runs still name the old pack (indexes are never rewritten): their blob digests
    // appear in no key and in no object stored in the clear.
    std::set<std::string> digests;
    bool names_old_pack = false;
    for (const auto& [ts, files] : trees)
        for (const auto& e : site.index("docs/" + ts + ".index.zst.age", site.operational.identity))
            for (const auto& b : e.blobs) {
                digests.insert(b.sha256);
                names_old_pack = names_old_pack || b.pack == old_pack;
            }
    CHECK(names_old_pack);
    REQUIRE(digests.size() >= 7);
    for (const auto& o : site.mem.list("")) {
        CAPTURE(o.key);
        const bool encrypted = o.key.ends_with(".age");
        const auto bytes = encrypted ? std::string() : site.mem.get_bytes(o.key);
        for (const auto& d : digests) {
            CHECK(o.key.find(d) == std::string::npos);
            if (!encrypted) CHECK(bytes.find(d) == std::string::npos);
        }
    }

    // Each kept run restores byte for byte with the recovery identity alone (the repacked pack
    // and its record are encrypted to every recipient), and verifies with and without it.
    auto rc = site.config(true, {site.recovery.identity});
    RealDocsEnv renv(site.store, site.clock, rc);
    job::Job restorer(rc, renv);
    for (const auto& [ts, files] : trees) {
        CAPTURE(ts);
        job::RestoreDocsOptions ro;
        ro.which = ts;
        ro.target = site.dir / ("restored-" + ts);
        restorer.restore_docs(ro);
        CHECK(files_of(ro.target) == files);
        CHECK(restorer.verify(ts).ok());
    }
    auto nc = site.config();
    nc.encryption.identities.clear();
    RealDocsEnv nenv(site.store, site.clock, nc);
    job::Job blind(nc, nenv);
    CHECK(blind.verify("20260302T020000Z").ok());  // the packs against their names
    // A quick verify without the identity reads no pack (which ones the run uses is in its
    // encrypted index): a damaged pack passes it, not the full one.
    const auto victim = added.front();
    const auto good = site.mem.get_bytes(victim);
    auto bad = good;
    bad[bad.size() / 2] ^= 0x01;
    site.mem.put_bytes(victim, bad);
    job::VerifyOptions quick;
    quick.quick = true;
    const auto q = blind.verify("latest", quick);
    CHECK(q.ok());
    CHECK_FALSE(blind.verify("latest").ok());
    site.mem.put_bytes(victim, good);

    // The next backup finds the five invoices through the encrypted record (opened with the
    // operational identity): only the new file is uploaded, in one small pack.
    write_file(site.root / "fourth.pdf", random_bytes(7'000, 43));
    const auto before = site.keys("packs/");
    const auto fourth = site.backup(sim::at(2026, 3, 4), site.config());
    REQUIRE(fourth.ok());
    const auto after = site.keys("packs/");
    REQUIRE(after.size() == before.size() + 2);  // the new file, the changed pieces
    for (const auto& o : site.mem.list("packs/"))
        if (std::find(before.begin(), before.end(), o.key) == before.end())
            CHECK(o.size < 7'000 + 1'000);
    job::RestoreDocsOptions ro;
    ro.target = site.dir / "restored-fourth";
    restorer.restore_docs(ro);
    CHECK(files_of(ro.target) == files_of(site.root));
}
