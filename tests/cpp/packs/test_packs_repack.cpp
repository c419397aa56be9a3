// Repacking (docs/packs.md, "Repacking"): the live frames of packs that are mostly garbage go
// to new packs, a move record per old pack is the commit point, then the old pack goes. Every
// reader (restore, verify, the next run's writer, the collection) follows the records, through
// chains of them; a failure or a kill at any store operation of a collection leaves every
// remaining run restorable, and a clean collection afterwards leaves nothing unreferenced.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/packs/gc.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/packs/pack_names.hpp>
#include <dolibak/packs/reader.hpp>
#include <dolibak/packs/relocation.hpp>
#include <dolibak/packs/writer.hpp>
#include <dolibak/store/fault_store.hpp>
#include <dolibak/store/memory_store.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>

using namespace dolibak;
using dolibak::test::random_bytes;
using dolibak::test::read_file;
using dolibak::test::TempDir;
using dolibak::test::write_file;
namespace fs = std::filesystem;
using Op = store::FaultStore::Op;
using Fault = store::FaultStore::Fault;

namespace {

constexpr const char* t1 = "20261201T020000Z";
constexpr const char* t2 = "20261202T020000Z";
constexpr const char* t3 = "20261203T020000Z";
constexpr const char* t4 = "20261204T020000Z";

std::string file_name(int i) {
    return "facture/f" + std::to_string(i) + ".pdf";
}
std::string content(int i) {
    return random_bytes(6'000 + static_cast<std::size_t>(i) * 10, 100 + static_cast<unsigned>(i));
}

packs::WriterOptions one_pack() {
    packs::WriterOptions o;
    o.pack_size = 1024 * 1024;  // every run's new content in one pack
    // Indexes written whole (version 1), as stores written before the pieces hold them: one
    // pack per run, whose repacking these tests follow; test_packs_pieces.cpp repacks pieces.
    o.index_version = 1;
    return o;
}

packs::WriterSummary run(store::Store& store, const fs::path& root, const std::string& ts,
                         const std::string& previous_ts = {}) {
    store::PutOptions po;
    po.no_overwrite = true;
    auto sink = store.put(packs::index_key(ts), po);
    std::unique_ptr<io::Source> prev;
    if (!previous_ts.empty()) prev = store.get(packs::index_key(previous_ts));
    return packs::write_tree(store, root, *sink, ts, prev.get(), one_pack());
}

std::map<std::string, std::string> files_of(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = read_file(e.path());
    return out;
}

std::vector<std::string> pack_keys(store::Store& store) {
    std::vector<std::string> out;
    for (const auto& o : store.list("packs/"))
        if (packs::is_pack_key(o.key)) out.push_back(o.key);
    return out;
}

/// Three runs over one pack P of twenty files: t1 all of them, t2 two of them (f0, f1), t3
/// seven (f0..f6, the same content again: known, not uploaded). `trees` holds each run's files.
struct Scenario {
    TempDir dir;
    fs::path root = dir / "documents";
    std::map<std::string, std::map<std::string, std::string>> trees;
    std::string first_pack;

    explicit Scenario(store::Store& store) {
        fs::create_directories(root / "facture");
        for (int i = 0; i < 20; ++i) write_file(root / file_name(i), content(i));
        run(store, root, t1);
        trees[t1] = files_of(root);
        first_pack = pack_keys(store).at(0);
        for (int i = 2; i < 20; ++i) fs::remove(root / file_name(i));
        write_file(root / "new2.pdf", "new in the second run");
        run(store, root, t2, t1);
        trees[t2] = files_of(root);
        fs::remove(root / "new2.pdf");
        for (int i = 2; i < 7; ++i) write_file(root / file_name(i), content(i));
        run(store, root, t3, t1);
        trees[t3] = files_of(root);
    }

    /// Every remaining index verifies in full and restores its tree byte for byte.
    void check_all(store::Store& store) {
        for (const auto& [ts, files] : trees) {
            if (!store.head(packs::index_key(ts))) continue;
            INFO(ts);
            auto index = store.get(packs::index_key(ts));
            const auto v = packs::verify_run(store, *index, true);
            CHECK(v.problems.empty());
            for (const auto& p : v.problems) MESSAGE(p);
            auto quick = store.get(packs::index_key(ts));
            CHECK(packs::verify_run(store, *quick, false).problems.empty());
            const auto target = dir / ("restored-" + ts + std::to_string(++restores));
            auto again = store.get(packs::index_key(ts));
            packs::restore_tree(store, *again, target);
            CHECK(files_of(target) == files);
        }
    }
    int restores = 0;
};

packs::GcResult collect(store::Store& store) {
    packs::GcOptions o;
    o.pack_size = 1024 * 1024;
    return packs::collect_garbage(store, o);
}

void check_nothing_left(store::Store& store) {
    const auto plan = packs::collect_garbage(store, true).plan;
    CHECK(plan.remove.empty());
    CHECK(plan.repack.empty());
    CHECK(plan.records_remove.empty());
}

}  // namespace

TEST_CASE("move records: keys, encoding, and refusals") {
    const std::string sha(64, 'a');
    const auto pack = packs::pack_key(sha);
    CHECK(packs::moved_key(pack) == "packs/moved/" + sha + ".json");
    CHECK(packs::is_moved_key(packs::moved_key(pack)));
    CHECK_FALSE(packs::is_moved_key(pack));
    CHECK_FALSE(packs::is_pack_key(packs::moved_key(pack)));
    CHECK_THROWS_AS(packs::moved_key("docs/x.index.zst"), ConfigError);

    packs::MoveRecord r{pack,
                        {{0, 10, packs::pack_key(std::string(64, 'b')), 100},
                         {50, 5, packs::pack_key(std::string(64, 'c')), 0}}};
    const auto text = packs::encode_move_record(r);
    const auto back = packs::decode_move_record(text, packs::moved_key(pack));
    CHECK(back.from == pack);
    REQUIRE(back.frames.size() == 2);
    CHECK(back.frames[1].offset == 50);
    CHECK(back.frames[1].to == 0);
    CHECK(back.frames[0].pack == packs::pack_key(std::string(64, 'b')));

    // under another pack's name, out of order, to itself, not JSON
    CHECK_THROWS_AS(
        packs::decode_move_record(text, packs::moved_key(packs::pack_key(std::string(64, 'd')))),
        FormatError);
    auto swapped = r;
    std::swap(swapped.frames[0], swapped.frames[1]);
    CHECK_THROWS_AS(
        packs::decode_move_record(packs::encode_move_record(swapped), packs::moved_key(pack)),
        FormatError);
    auto self = r;
    self.frames[0].pack = pack;
    CHECK_THROWS_AS(
        packs::decode_move_record(packs::encode_move_record(self), packs::moved_key(pack)),
        FormatError);
    CHECK_THROWS_AS(packs::decode_move_record("{", packs::moved_key(pack)), FormatError);

    // following: a frame the record holds moves, one it does not stays; a length that
    // disagrees is an error; a loop is an error
    store::MemoryStore store;
    store.put_bytes(packs::moved_key(pack), text);
    packs::Relocations moved(store);
    packs::BlobRef in{std::string(64, '0'), pack, 50, 5, 9};
    CHECK(moved.follow(in) == 1);
    CHECK(in.pack == packs::pack_key(std::string(64, 'c')));
    CHECK(in.offset == 0);
    packs::BlobRef stays{std::string(64, '0'), pack, 20, 5, 9};
    CHECK(moved.follow(stays) == 0);
    CHECK(stays.pack == pack);
    packs::BlobRef wrong{std::string(64, '0'), pack, 0, 11, 9};
    CHECK_THROWS_AS(moved.follow(wrong), FormatError);
    const auto other = packs::pack_key(std::string(64, 'c'));
    store.put_bytes(packs::moved_key(other),
                    packs::encode_move_record({other, {{0, 5, pack, 50}}}));
    packs::Relocations looping(store);
    packs::BlobRef round{std::string(64, '0'), pack, 50, 5, 9};
    CHECK_THROWS_AS(looping.follow(round), FormatError);
}

TEST_CASE("the planner: records no reference goes through are forgotten, only when asked") {
    const std::vector<store::ObjectInfo> listing{
        {"packs/aa/a.pack", 1000, {}, {}},
        {"packs/moved/old.json", 50, {}, {}},
        {"packs/moved/needed.json", 50, {}, {}},
        {"packs/bb/b.pack", 1000, {}, {}},
    };
    const std::map<std::string, std::uint64_t> live{{"packs/aa/a.pack", 499},
                                                    {"packs/bb/b.pack", 500}};
    const std::set<std::string> needed{"packs/moved/needed.json"};
    const auto plan = packs::plan_gc(listing, live, 0.5, &needed);
    CHECK(plan.remove.empty());
    CHECK(plan.repack == std::vector<std::string>{"packs/aa/a.pack"});  // 499 < 500, 500 is not
    CHECK(plan.records_remove == std::vector<std::string>{"packs/moved/old.json"});
    CHECK(plan.garbage_in_repack == 501);
    // without the needed set, no record is planned for removal
    CHECK(packs::plan_gc(listing, live).records_remove.empty());
}

TEST_CASE("repacking: live frames move, old packs go, chains of records are followed") {
    store::MemoryStore store;
    Scenario s(store);
    const auto p = s.first_pack;
    CHECK(packs::collect_garbage(store, true).plan.repack.empty());  // t1 keeps P whole

    // t1 goes: P holds 7 live files of 20: it is repacked into N, its record names N
    store.remove(packs::index_key(t1));
    s.trees.erase(t1);
    const auto gc = collect(store);
    REQUIRE(gc.plan.repack == std::vector<std::string>{p});
    CHECK(gc.repacked.problems.empty());
    CHECK(gc.repacked.removed == std::vector<std::string>{p});
    CHECK(gc.repacked.records == std::vector<std::string>{packs::moved_key(p)});
    REQUIRE(gc.repacked.written.size() == 1);
    const auto n = gc.repacked.written[0];
    CHECK_FALSE(store.head(p));
    CHECK(gc.repacked.bytes_written < gc.repacked.bytes_read / 2);
    CHECK(packs::pack_key(io::sha256_hex(store.get_bytes(n))) == n);
    s.check_all(store);
    check_nothing_left(store);
    // the live set goes through the record
    packs::Relocations moved(store);
    const auto live = packs::live_set(store, moved);
    CHECK(live.records == std::set<std::string>{packs::moved_key(p)});
    CHECK(live.frames.count(n) == 1);
    CHECK(live.frames.count(p) == 0);

    // t3 goes: N holds 2 live files of 7 (t2's): repacked into M. t2 names P: P -> N -> M.
    store.remove(packs::index_key(t3));
    s.trees.erase(t3);
    const auto gc2 = collect(store);
    REQUIRE(gc2.plan.repack == std::vector<std::string>{n});
    CHECK(gc2.repacked.removed == std::vector<std::string>{n});
    CHECK(gc2.records_removed.empty());  // P's record is still needed, by t2
    CHECK(store.head(packs::moved_key(p)));
    CHECK(store.head(packs::moved_key(n)));
    s.check_all(store);
    check_nothing_left(store);

    // the next run over t2's tree takes f0 and f1 where they are now (not read again, not
    // uploaded: its index names the newest pack directly); new2.pdf, written again, is read
    // and found stored
    for (int i = 2; i < 7; ++i) fs::remove(s.root / file_name(i));
    write_file(s.root / "new2.pdf", "new in the second run");
    const auto next = run(store, s.root, t4, t2);
    CHECK(next.files_read == 1);
    CHECK(next.packs_uploaded == 0);
    s.trees[t4] = files_of(s.root);
    CHECK(s.trees[t4] == s.trees[t2]);
    const auto m = gc2.repacked.written.at(0);
    auto index = store.get(packs::index_key(t4));
    packs::TreeAccess tree;
    tree.store = &store;
    packs::IndexReader reader(*index, &tree);
    int in_m = 0;
    while (auto e = reader.next())
        for (const auto& b : e->blobs) in_m += b.pack == m;
    CHECK(in_m == 2);

    // t2 goes: no index goes through the records any more; they are forgotten
    store.remove(packs::index_key(t2));
    s.trees.erase(t2);
    const auto gc3 = collect(store);
    CHECK(std::set<std::string>(gc3.records_removed.begin(), gc3.records_removed.end()) ==
          std::set<std::string>{packs::moved_key(p), packs::moved_key(n)});
    CHECK(gc3.removed.empty());
    s.check_all(store);
    check_nothing_left(store);
}

TEST_CASE("a pack whose bytes no longer match its name is not repacked") {
    store::MemoryStore store;
    Scenario s(store);
    store.remove(packs::index_key(t1));
    auto bytes = store.get_bytes(s.first_pack);
    bytes[bytes.size() - 1] ^= 1;
    store.put_bytes(s.first_pack, bytes);
    const auto gc = collect(store);
    REQUIRE(gc.repacked.problems.size() == 1);
    CHECK(gc.repacked.problems[0].find("does not match its name") != std::string::npos);
    CHECK(store.head(s.first_pack));
    CHECK(gc.repacked.records.empty());
    CHECK_FALSE(store.head(packs::moved_key(s.first_pack)));
}

TEST_CASE("a failure or a kill at any store operation of a collection loses no run") {
    // Each store operation of the collection after t1 went, in turn: fails, loses its answer,
    // or kills the process (nothing after it runs). Afterwards every remaining run verifies
    // and restores; then t3 goes (P's copy is repacked again: a chain) and one clean
    // collection leaves nothing behind, every run still whole.
    struct Killed {};
    constexpr Op ops[] = {Op::put, Op::get, Op::head, Op::list, Op::remove_many};
    // the operations of a clean collection, in order
    std::vector<Op> sequence;
    {
        store::MemoryStore mem;
        Scenario s(mem);
        mem.remove(packs::index_key(t1));
        store::FaultStore faults(mem);
        for (const auto op : ops)
            faults.hook(
                op, 1, [&, op] { sequence.push_back(op); }, true);
        const auto gc = collect(faults);
        REQUIRE(gc.repacked.records.size() == 1);
    }
    REQUIRE(sequence.size() >= 6);
    int killed = 0, failed = 0;
    for (const auto fault : {Fault::transient, Fault::lose_response, Fault::io_error}) {
        for (std::size_t i = 0; i < sequence.size(); ++i) {
            const auto op = sequence[i];
            const auto nth = static_cast<std::uint64_t>(std::count(
                sequence.begin(), sequence.begin() + static_cast<std::ptrdiff_t>(i) + 1, op));
            INFO("fault " << static_cast<int>(fault) << " at store operation " << i + 1 << " ("
                          << static_cast<int>(op) << " number " << nth << ")");
            store::MemoryStore mem;
            Scenario s(mem);
            mem.remove(packs::index_key(t1));
            s.trees.erase(t1);
            store::FaultStore faults(mem);
            if (fault == Fault::io_error)
                faults.hook(op, nth, [] { throw Killed{}; });
            else
                faults.fail(op, nth, fault);
            try {
                const auto gc = collect(faults);
                if (!gc.repacked.problems.empty() || !gc.failures.empty()) ++failed;
            } catch (const Killed&) {
                ++killed;
            } catch (const Error&) {
                ++failed;
            }
            s.check_all(mem);
            mem.remove(packs::index_key(t3));
            s.trees.erase(t3);
            collect(mem);
            check_nothing_left(mem);
            s.check_all(mem);
        }
    }
    MESSAGE(sequence.size() << " store operations in a collection; " << killed << " killed, "
                            << failed << " failed");
    CHECK(killed == static_cast<int>(sequence.size()));
    CHECK(failed == 2 * static_cast<int>(sequence.size()));
}

TEST_CASE(
    "a repack killed between two records and done again: a new pack that is one of the old "
    "ones, byte for byte, stays where it is") {
    // In the clear a pack is named by its bytes. A repack of F and S (in the listing's order)
    // writes N, F's live frames then S's, then F's record, and is killed before S's: N holds
    // F's frames (live, through the record) and a copy of S's (dead: S has no record). The next
    // collection repacks N (most of it is garbage) and S, and when N sorts before S, N's live
    // frames then S's are N's bytes again: the new pack is N itself. It must stay (no record
    // of N into N, and N not deleted); before this was handled, N was deleted under the
    // records that point into it (found by test_packs_killed.py's campaign in the clear).
    struct Killed {};
    for (unsigned salt = 0;; ++salt) {
        INFO("salt " << salt);
        REQUIRE(salt < 64);
        store::MemoryStore mem;
        TempDir dir;
        const auto root = dir / "documents";
        fs::create_directories(root / "facture");
        const auto a = [](int i) { return "facture/a" + std::to_string(i) + ".pdf"; };
        const auto b = [](int i) { return "facture/b" + std::to_string(i) + ".pdf"; };
        const auto bytes = [&](int i) { return content(static_cast<int>(salt) * 100 + i); };
        for (int i = 0; i < 10; ++i) write_file(root / a(i), bytes(i));
        run(mem, root, t1);
        const auto pack_a = pack_keys(mem).at(0);
        for (int i = 3; i < 10; ++i) fs::remove(root / a(i));
        for (int i = 0; i < 10; ++i) write_file(root / b(i), bytes(50 + i));
        run(mem, root, t2, t1);
        auto all = pack_keys(mem);
        REQUIRE(all.size() == 2);
        const auto pack_b = all[0] == pack_a ? all[1] : all[0];
        // t3 keeps one file of the first pack in the listing's order and three of the
        // second: once t1 and t2 go, both are mostly garbage
        const bool a_first = pack_a < pack_b;
        for (int i = 1; i < 10; ++i) fs::remove(root / (a_first ? a(i) : b(i)));
        for (int i = 3; i < 10; ++i) fs::remove(root / (a_first ? b(i) : a(i)));
        run(mem, root, t3, t2);
        const auto kept = files_of(root);
        REQUIRE(pack_keys(mem).size() == 2);
        mem.remove(packs::index_key(t1));
        mem.remove(packs::index_key(t2));
        const auto second = a_first ? pack_b : pack_a;

        // killed before its third put: the new pack and the first record are published
        store::FaultStore faults(mem);
        faults.hook(Op::put, 3, [] { throw Killed{}; });
        CHECK_THROWS_AS(collect(faults), Killed);
        REQUIRE(mem.list("packs/moved/").size() == 1);
        std::string n;
        for (const auto& k : pack_keys(mem))
            if (k != pack_a && k != pack_b) n = k;
        REQUIRE_FALSE(n.empty());
        if (n > second) continue;  // the next repack writes S's frames first: another pack

        const auto gc = collect(mem);
        CHECK(gc.repacked.problems.empty());
        CHECK(gc.repacked.written == std::vector<std::string>{n});
        CHECK(gc.repacked.records == std::vector<std::string>{packs::moved_key(second)});
        CHECK(gc.repacked.removed == std::vector<std::string>{second});
        CHECK(mem.head(n));
        CHECK_FALSE(mem.head(packs::moved_key(n)));
        auto index = mem.get(packs::index_key(t3));
        const auto v = packs::verify_run(mem, *index, true);
        CHECK(v.problems.empty());
        for (const auto& p : v.problems) MESSAGE(p);
        auto again = mem.get(packs::index_key(t3));
        packs::restore_tree(mem, *again, dir / "restored");
        CHECK(files_of(dir / "restored") == kept);
        check_nothing_left(mem);
        break;
    }
}

TEST_CASE(
    "encrypted packs: repacked only with the identity and the recipients, into an "
    "encrypted pack and an encrypted record") {
    // Packs encrypted to A (the index left in the clear here: the layer does not encrypt
    // indexes); t1 stores twenty files, t2 keeps two of them. Once t1 goes, its pack is
    // mostly garbage.
    const auto a = io::age_generate_key();
    const auto b = io::age_generate_key();
    io::AgeIdentities ids_a, ids_b;
    ids_a.x25519.push_back(a.identity);
    ids_b.x25519.push_back(b.identity);
    io::AgeRecipients to_a;
    to_a.x25519.push_back(a.recipient);
    store::MemoryStore store;
    TempDir dir;
    const auto root = dir / "documents";
    fs::create_directories(root / "facture");
    for (int i = 0; i < 20; ++i) write_file(root / file_name(i), content(i));
    auto o = one_pack();
    o.encrypt_to = to_a;
    const auto write = [&](const std::string& ts, const std::string& previous) {
        store::PutOptions po;
        po.no_overwrite = true;
        auto sink = store.put(packs::index_key(ts), po);
        std::unique_ptr<io::Source> prev;
        if (!previous.empty()) prev = store.get(packs::index_key(previous));
        packs::write_tree(store, root, *sink, ts, prev.get(), o);
    };
    write(t1, {});
    const auto old_pack = pack_keys(store).at(0);
    REQUIRE(packs::is_encrypted_pack(old_pack));
    for (int i = 2; i < 20; ++i) fs::remove(root / file_name(i));
    write(t2, t1);
    const auto kept = files_of(root);
    store.remove(packs::index_key(t1));
    const auto restores = [&](const io::AgeIdentities* ids) {
        auto index = store.get(packs::index_key(t2));
        const auto target = dir / ("restored" + std::to_string(store.list("").size()) +
                                   std::to_string(ids ? ids->x25519.size() : 0));
        packs::restore_tree(store, *index, target, {}, ids);
        return files_of(target) == kept;
    };

    // Without the recipients, or with an identity that does not open the pack: left alone.
    packs::GcOptions g;
    g.pack_size = 1024 * 1024;
    g.identities = &ids_a;
    auto gc = packs::collect_garbage(store, g);
    REQUIRE(gc.plan.repack == std::vector<std::string>{old_pack});
    REQUIRE(gc.repacked.problems.size() == 1);
    CHECK(gc.repacked.problems[0].find("age_recipients") != std::string::npos);
    g.identities = &ids_b;
    g.encrypt_to = to_a;
    gc = packs::collect_garbage(store, g);
    REQUIRE(gc.repacked.problems.size() == 1);
    CHECK(gc.repacked.problems[0].find("cannot be decrypted") != std::string::npos);
    CHECK(gc.repacked.written.empty());
    CHECK(store.head(old_pack));
    CHECK(store.list("packs/moved/").empty());
    CHECK(restores(&ids_a));

    // With both: one new encrypted pack, named by its ciphertext, and an encrypted record.
    g.identities = &ids_a;
    gc = packs::collect_garbage(store, g);
    CHECK(gc.repacked.problems.empty());
    REQUIRE(gc.repacked.written.size() == 1);
    const auto new_pack = gc.repacked.written[0];
    const auto bytes = store.get_bytes(new_pack);
    CHECK(bytes.rfind("age-encryption.org/v1\n", 0) == 0);
    CHECK(new_pack == packs::pack_key(io::sha256_hex(bytes), true));
    CHECK_FALSE(store.head(old_pack));
    const auto record = packs::moved_key(old_pack);
    CHECK(record.ends_with(".json.age"));
    CHECK(gc.repacked.records == std::vector<std::string>{record});
    const auto sealed = store.get_bytes(record);
    CHECK(sealed.rfind("age-encryption.org/v1\n", 0) == 0);
    CHECK(sealed.find(new_pack) == std::string::npos);
    CHECK(restores(&ids_a));
    {
        auto index = store.get(packs::index_key(t2));
        CHECK(packs::verify_run(store, *index, true, &ids_a).problems.empty());
    }
    CHECK(packs::check_pack_names(store, true).problems.empty());

    // The record needs the identity: without it a ConfigError, with another a FormatError.
    packs::BlobRef ref;
    {
        auto index = store.get(packs::index_key(t2));
        packs::TreeAccess tree;
        tree.store = &store;
        tree.identities = &ids_a;
        packs::IndexReader reader(*index, &tree);
        while (auto e = reader.next())
            if (!e->blobs.empty()) ref = e->blobs.front();
    }
    REQUIRE(ref.pack == old_pack);
    packs::Relocations without(store);
    auto r1 = ref;
    CHECK_THROWS_AS(without.follow(r1), ConfigError);
    packs::Relocations other(store, &ids_b);
    auto r2 = ref;
    CHECK_THROWS_AS(other.follow(r2), FormatError);
    packs::Relocations with(store, &ids_a);
    auto r3 = ref;
    CHECK(with.follow(r3) == 1);
    CHECK(r3.pack == new_pack);
    CHECK_THROWS_AS(restores(nullptr), ConfigError);

    // The next run over t2's tree takes both files where they are now: nothing uploaded.
    o.identities = &ids_a;
    write(t3, t2);
    CHECK(pack_keys(store) == std::vector<std::string>{new_pack});
    // ... and, after t2 (which names the old pack), without the identity the record cannot be
    // followed: the run fails rather than storing everything again (docs_mode packs with
    // recipients requires the identity).
    o.identities = nullptr;
    CHECK_THROWS_AS(write(t4, t2), ConfigError);
    CHECK_FALSE(store.head(packs::index_key(t4)));
}

TEST_CASE("move records of encrypted packs: written encrypted, never into a plain pack") {
    const auto sha = std::string(64, 'e');
    const auto pack = packs::pack_key(sha, true);
    CHECK(packs::is_pack_key(pack));
    CHECK(packs::moved_key(pack) == "packs/moved/" + sha + ".json.age");
    CHECK(packs::is_moved_key(packs::moved_key(pack)));
    CHECK_FALSE(packs::is_pack_key(packs::moved_key(pack)));
    CHECK_FALSE(packs::is_moved_key(pack));
    // A frame of an encrypted pack moved into a plain one, or the other way round: malformed.
    packs::MoveRecord mixed{pack, {{0, 10, packs::pack_key(std::string(64, 'f')), 0}}};
    CHECK_THROWS_WITH_AS(
        packs::decode_move_record(packs::encode_move_record(mixed), packs::moved_key(pack)),
        doctest::Contains("other kind"), FormatError);
    const auto plain = packs::pack_key(sha);
    packs::MoveRecord mixed2{plain, {{0, 10, packs::pack_key(std::string(64, 'f'), true), 0}}};
    CHECK_THROWS_AS(
        packs::decode_move_record(packs::encode_move_record(mixed2), packs::moved_key(plain)),
        FormatError);
    // An encrypted pack's record without recipients: refused before anything is written.
    store::MemoryStore store;
    packs::MoveRecord good{pack, {{0, 10, packs::pack_key(std::string(64, 'f'), true), 0}}};
    CHECK_THROWS_AS(packs::put_move_record(store, good, std::nullopt), ConfigError);
    CHECK(store.list("").empty());
    // A plain pack's record stays in the clear, whatever the recipients.
    io::AgeRecipients to;
    to.x25519.push_back(io::age_generate_key().recipient);
    packs::MoveRecord clear{plain, {{0, 10, packs::pack_key(std::string(64, 'f')), 0}}};
    const auto key = packs::put_move_record(store, clear, to);
    CHECK(key == "packs/moved/" + sha + ".json");
    CHECK(packs::decode_move_record(store.get_bytes(key), key).frames.size() == 1);
}
