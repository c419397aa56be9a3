// The index as a tree of pieces (version 2, docs/packs.md "Objects"): a changed day stores the
// changed folders' pieces (and their ancestors', a large folder's changed part only), not the
// tree; indexes written whole (version 1, what older stores hold) still restore, verify, are
// collected and serve as the previous run; the collection keeps the pieces a kept run needs,
// reads each once, and repacks them; encrypted packs hold encrypted pieces; the reader of the
// pieces keeps whole packs within its budget, also while it reads the next one.
#include "packs/blob.hpp"
#include "packs/blob_pool.hpp"
#include "packs/pack_store.hpp"
#include "support/packs_testing.hpp"
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/packs/gc.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/packs/reader.hpp>
#include <dolibak/packs/writer.hpp>
#include <dolibak/store/fault_store.hpp>
#include <dolibak/store/memory_store.hpp>

#include <doctest/doctest.h>

#include <fmt/format.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

using namespace dolibak;
using dolibak::test::random_bytes;
using dolibak::test::read_file;
using dolibak::test::TempDir;
using dolibak::test::write_file;
namespace fs = std::filesystem;

namespace {

constexpr const char* t1 = "20261201T020000Z";
constexpr const char* t2 = "20261202T020000Z";
constexpr const char* t3 = "20261203T020000Z";

/// Three modules of invoice folders, one small PDF each: facture/ has `folders` (more than
/// 256: it is cut into parts), the others a tenth.
void make_tree(const fs::path& root, int folders) {
    for (const char* module : {"facture", "commande", "propale"})
        for (int i = 0; i < (module[0] == 'f' ? folders : folders / 10); ++i) {
            const auto name = std::string(module).substr(0, 2) + std::to_string(10'000 + i);
            fs::create_directories(root / module / name);
            write_file(root / module / name / (name + ".pdf"),
                       random_bytes(200, static_cast<unsigned>(i) * 7 + module[0]));
        }
    write_file(root / "install.lock", "locked\n");
}

std::map<std::string, std::string> files_of(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root))
        out[fs::relative(e.path(), root).string()] =
            e.is_regular_file() ? read_file(e.path()) : std::string("dir");
    return out;
}

packs::WriterSummary run(store::Store& store, const fs::path& root, const std::string& ts,
                         const std::string& previous_ts, packs::WriterOptions o = {}) {
    o.pack_size = 4 * 1024 * 1024;
    return test::write_packs_run(store, root, ts, previous_ts, o);
}

std::map<std::string, std::string> restored(store::Store& store, const std::string& ts,
                                            const fs::path& target,
                                            const io::AgeIdentities* ids = nullptr) {
    auto index = store.get(packs::index_key(ts));
    packs::restore_tree(store, *index, target, {}, ids);
    return files_of(target);
}

bool verifies(store::Store& store, const std::string& ts, bool full,
              const io::AgeIdentities* ids = nullptr) {
    auto index = store.get(packs::index_key(ts));
    const auto r = packs::verify_run(store, *index, full, ids);
    for (const auto& p : r.problems) MESSAGE(p);
    return r.problems.empty();
}

int version_of(store::Store& store, const std::string& ts) {
    auto index = store.get(packs::index_key(ts));
    packs::TreeAccess tree;
    tree.store = &store;
    return packs::IndexReader(*index, &tree).version();
}

}  // namespace

TEST_CASE("a changed day stores the changed folders' pieces, not the whole tree's") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root, 400);  // 481 files, 483 folders
    store::MemoryStore store;
    const auto first = run(store, root, t1, {});
    CHECK(first.pieces_new > 480);
    CHECK(version_of(store, t1) == 2);
    const auto whole_tree = first.piece_bytes;

    // The same tree written whole (version 1), for comparison.
    store::MemoryStore v1_store;
    packs::WriterOptions v1;
    v1.index_version = 1;
    run(v1_store, root, t1, {}, v1);
    const auto whole_index = v1_store.head(packs::index_key(t1))->size;
    CHECK(whole_index > 25'000);

    // Six files in six folders: three new invoices, three edited; the store's request log
    // (the objects added) holds their content, the changed pieces and a small index.
    for (int i : {3, 150, 390}) {
        const auto name = "fa" + std::to_string(20'000 + i);
        fs::create_directories(root / "facture" / name);
        write_file(root / "facture" / name / (name + ".pdf"), random_bytes(5'000, 900 + i));
    }
    for (const char* module : {"commande/co10007/co10007.pdf", "propale/pr10030/pr10030.pdf",
                               "facture/fa10200/fa10200.pdf"})
        write_file(root / module, random_bytes(5'000, 77));
    std::map<std::string, std::uint64_t> before;
    for (const auto& o : store.list("")) before[o.key] = o.size;
    const auto changed = run(store, root, t2, t1);
    std::uint64_t added = 0;
    for (const auto& o : store.list(""))
        if (!before.contains(o.key)) added += o.size;
    CHECK(changed.files_read == 6);
    CHECK(changed.bytes_new == 5'000 * 4);  // the three edits are the same bytes
    // 6 folders, facture's parts that changed (3 at most) and its list, commande's and
    // propale's pieces, the root: 13 pieces at most, whatever the tree's size.
    CHECK(changed.pieces_new <= 13);
    CHECK(changed.pieces_kept > 470);
    CHECK(changed.piece_bytes * 10 < whole_tree);
    CHECK(changed.piece_bytes * 2 < whole_index);  // a small tree: a far larger one is no dearer
    const auto index_object = store.head(packs::index_key(t2))->size;
    CHECK(index_object < 400);
    CHECK(added <= changed.pack_bytes + index_object);
    CHECK(added - (changed.pack_bytes - changed.piece_bytes) < whole_index / 2);
    MESSAGE("first run's pieces ", whole_tree, " bytes (a whole index: ", whole_index,
            "); a changed day's ", changed.piece_bytes, " in ", changed.pieces_new,
            " pieces, index object ", index_object);

    // Reading the tree costs a request per pack of pieces, not one per folder (on S3, each a
    // round trip): the next run's read of the previous tree, a quick verify (which reads the
    // pieces only) and a restore.
    std::uint64_t packs_now = 0;
    for (const auto& o : store.list("packs/")) packs_now += o.size > 0;
    {
        store::FaultStore counted(store);
        TempDir scratch;
        CHECK(verifies(counted, t2, false));
        const auto quick_gets = counted.calls(store::FaultStore::Op::get);
        CHECK(quick_gets <= packs_now + 1);  // the index object, then each pack at most once
        restored(counted, t2, scratch / "r");
        const auto restore_gets = counted.calls(store::FaultStore::Op::get) - quick_gets;
        MESSAGE(restore_gets, " gets to restore, ", quick_gets, " for a quick verify of ",
                changed.pieces_kept + changed.pieces_new, " pieces in ", packs_now, " packs");
        // The content: one ranged read per file; the index and the pieces: twice at most.
        CHECK(restore_gets <= 481 + 2 * (packs_now + 1));
    }

    // Unchanged since: nothing stored, the root kept.
    const auto same = run(store, root, t3, t2);
    CHECK(same.packs_uploaded == 0);
    CHECK(same.pieces_new == 0);
    CHECK(files_of(root) == restored(store, t2, dir / "r2"));
    CHECK(files_of(root) == restored(store, t3, dir / "r3"));
    CHECK(verifies(store, t2, true));
    CHECK(verifies(store, t3, false));
}

TEST_CASE("indexes written whole restore, verify, are collected and serve as the previous run") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root, 30);
    store::MemoryStore store;
    packs::WriterOptions v1;
    v1.index_version = 1;
    run(store, root, t1, {}, v1);
    const auto tree1 = files_of(root);
    CHECK(version_of(store, t1) == 1);

    // The first tree run after an old one: nothing read again, the content referenced.
    write_file(root / "facture/fa10001/late.pdf", random_bytes(3'000, 5));
    const auto next = run(store, root, t2, t1);
    CHECK(version_of(store, t2) == 2);
    CHECK(next.files_read == 1);
    CHECK(next.blobs_new == 1);
    CHECK(next.pieces_kept == 0);  // no piece to keep yet
    const auto tree2 = files_of(root);
    // The next one keeps the pieces.
    const auto third = run(store, root, t3, t2);
    CHECK(third.pieces_new == 0);
    CHECK(third.pieces_kept > 0);

    CHECK(restored(store, t1, dir / "r1") == tree1);
    CHECK(restored(store, t2, dir / "r2") == tree2);
    CHECK(verifies(store, t1, true));
    CHECK(verifies(store, t2, true));
    CHECK(packs::collect_garbage(store, true).plan.remove.empty());
    // The old run goes: its content stays (the others reference it); nothing of theirs goes.
    store.remove(packs::index_key(t1));
    const auto gc = packs::collect_garbage(store);
    CHECK(gc.removed.empty());
    CHECK(restored(store, t3, dir / "r3") == tree2);
    CHECK(verifies(store, t3, true));
}

TEST_CASE("the collection keeps the pieces kept runs need, reads each once, and repacks them") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root, 260);
    store::MemoryStore memory;
    store::FaultStore store(memory);
    const auto first = run(store, root, t1, {});
    fs::remove_all(root / "propale");  // its pieces are needed by the first run only
    write_file(root / "facture/fa10001/new.pdf", random_bytes(4'000, 3));
    const auto second = run(store, root, t2, t1);
    const auto tree2 = files_of(root);
    CHECK(second.pieces_kept >= 280);  // commande's folders and most of facture's

    // Both runs kept: each distinct piece is read once (two roots, most pieces shared).
    const auto gets = store.calls(store::FaultStore::Op::get);
    CHECK(packs::collect_garbage(store, true).plan.remove.empty());
    const auto read = store.calls(store::FaultStore::Op::get) - gets;
    CHECK(read <= first.pieces_new + second.pieces_new + 2);

    // The first run goes: its pack of pieces is mostly garbage (propale's, the replaced
    // ones); repacked, its live pieces move, and the second run reads them through the record.
    std::set<std::string> first_packs;
    for (const auto& o : memory.list("packs/")) first_packs.insert(o.key);
    memory.remove(packs::index_key(t1));
    packs::GcOptions o;
    o.repack_below = 0.9;
    const auto gc = packs::collect_garbage(store, o);
    CHECK(gc.repacked.problems.empty());
    // The first run's pack of pieces (and of content, if mostly dead): gone, a record each.
    CHECK_FALSE(gc.repacked.removed.empty());
    for (const auto& p : gc.repacked.removed) {
        CAPTURE(p);
        CHECK(first_packs.contains(p));
        CHECK_FALSE(memory.head(p));
        CHECK(memory.head(packs::moved_key(p)));
    }
    REQUIRE_FALSE(gc.repacked.written.empty());
    CHECK(gc.repacked.bytes_written < gc.repacked.bytes_read * 9 / 10);
    CHECK(restored(store, t2, dir / "r2") == tree2);
    CHECK(verifies(store, t2, true));

    // The next run keeps the moved pieces (found through the record) and restores.
    const auto third = run(store, root, t3, t2);
    CHECK(third.pieces_new == 0);
    CHECK(restored(store, t3, dir / "r3") == tree2);
    // Nothing else is garbage now: a second collection deletes and repacks nothing.
    const auto again = packs::collect_garbage(store, true);
    CHECK(again.plan.remove.empty());
    CHECK(again.plan.repack.empty());

    // A damaged piece: verify (even quick: the pieces are read) and restore say so.
    const auto pieces_pack = gc.repacked.written.back();
    auto bytes = memory.get_bytes(pieces_pack);
    bytes[bytes.size() / 2] ^= 0x20;
    memory.put_bytes(pieces_pack, bytes);
    CHECK_FALSE(verifies(store, t3, false));
    CHECK_THROWS_AS(restored(store, t3, dir / "damaged"), FormatError);
    CHECK_FALSE(fs::exists(dir / "damaged"));
    // A truncated one (read whole, then its pieces sliced from memory): the pieces past its
    // end are missing, not read as garbage.
    memory.put_bytes(pieces_pack, bytes.substr(0, bytes.size() / 3));
    CHECK_FALSE(verifies(store, t3, false));
    try {
        restored(store, t3, dir / "truncated");
        FAIL("a truncated pack of pieces restored");
    } catch (const FormatError& e) {
        CHECK(std::string(e.what()).find("past its end") != std::string::npos);
    }
    CHECK_FALSE(fs::exists(dir / "truncated"));
}

TEST_CASE("encrypted packs hold the pieces too") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root, 30);
    store::MemoryStore store;
    const auto key = io::age_generate_key();
    io::AgeIdentities ids;
    ids.x25519.push_back(key.identity);
    packs::WriterOptions o;
    o.encrypt_to = io::AgeRecipients{};
    o.encrypt_to->x25519 = {key.recipient};
    o.identities = &ids;
    run(store, root, t1, {}, o);
    for (const auto& p : store.list("packs/")) CHECK(packs::is_encrypted_pack(p.key));
    write_file(root / "commande/co10003/more.pdf", random_bytes(2'000, 9));
    const auto second = run(store, root, t2, t1, o);
    CHECK(second.pieces_kept > 30);
    CHECK(second.pieces_new == 3);  // co10003, commande, the root
    CHECK(restored(store, t2, dir / "r2", &ids) == files_of(root));
    CHECK(verifies(store, t2, true, &ids));
    CHECK_FALSE(verifies(store, t2, false));  // the pieces cannot be read without it
    CHECK_THROWS_AS(restored(store, t2, dir / "none"), ConfigError);
}

TEST_CASE("a reader keeping whole packs makes room before it reads the next one") {
    // Three packs of four blobs, a budget of two packs and a half: the third pack is read
    // only once the first is dropped, so the budget bounds the peak, not only what stays.
    store::MemoryStore mem;
    store::FaultStore store(mem);
    std::vector<std::vector<std::pair<packs::BlobRef, std::string>>> packs_written;
    std::size_t pack_bytes = 0;
    for (unsigned p = 0; p < 3; ++p) {
        std::string bytes;
        auto& blobs = packs_written.emplace_back();
        for (unsigned b = 0; b < 4; ++b) {
            const auto data = random_bytes(4096, 100 * p + b);  // random: frames of equal size
            const auto frame = packs::detail::compress_frame(data, 3);
            packs::BlobRef ref;
            ref.sha256 = io::to_hex(io::as_bytes(io::sha256_bytes(data)));
            ref.offset = bytes.size();
            ref.length = frame.size();
            ref.size = data.size();
            bytes += frame;
            blobs.emplace_back(ref, data);
        }
        const auto key = packs::pack_key(io::sha256_hex(bytes));
        packs::detail::put_pack(mem, key, bytes);
        for (auto& [ref, data] : blobs) ref.pack = key;
        if (p == 0) pack_bytes = bytes.size();
        REQUIRE(bytes.size() == pack_bytes);
    }
    const std::size_t budget = pack_bytes * 5 / 2;
    packs::detail::BlobReader reader(store, nullptr);
    reader.keep_whole_packs(budget);
    // Before each of the three whole reads (the fourth read below is by range).
    for (std::uint64_t nth = 1; nth <= 3; ++nth)
        store.hook(store::FaultStore::Op::get, nth,
                   [&] { CHECK(reader.kept_bytes() + pack_bytes <= budget); });
    for (const auto& blobs : packs_written)
        for (const auto& [ref, data] : blobs) CHECK(reader.read(ref) == data);
    CHECK(store.calls(store::FaultStore::Op::get) == 3);  // one request per pack
    CHECK(reader.kept_bytes() == 2 * pack_bytes);
    // The dropped first pack is read by ranges from then on: one request per blob.
    CHECK(reader.read(packs_written[0][1].first) == packs_written[0][1].second);
    CHECK(store.calls(store::FaultStore::Op::get) == 4);
    CHECK(reader.kept_bytes() == 2 * pack_bytes);
}

TEST_CASE("a pack kept whole that is not the size listed is an error, longer or shorter") {
    store::MemoryStore mem;
    store::FaultStore store(mem);
    const auto data = random_bytes(4096, 7);
    const auto frame = packs::detail::compress_frame(data, 3);
    const auto key = packs::pack_key(io::sha256_hex(frame));
    packs::BlobRef ref;
    ref.sha256 = io::sha256_hex(data);
    ref.pack = key;
    ref.length = frame.size();
    ref.size = data.size();
    for (const bool longer : {true, false}) {
        CAPTURE(longer);
        packs::detail::put_pack(mem, key, frame);
        packs::detail::BlobReader reader(store, nullptr);
        reader.keep_whole_packs(1 << 20);
        // The pack changes between the size asked (HEAD) and its reading.
        store.reset();
        store.hook(store::FaultStore::Op::get, 1, [&] {
            mem.remove(key);
            packs::detail::put_pack(mem, key, longer ? frame + "x" : frame.substr(1));
        });
        const auto expected =
            longer ? fmt::format("more than {} bytes read, {} listed", frame.size(), frame.size())
                   : fmt::format("{} bytes read, {} listed", frame.size() - 1, frame.size());
        CHECK_THROWS_WITH_AS(reader.read(ref), doctest::Contains(expected.c_str()), FormatError);
        mem.remove(key);
    }
}
