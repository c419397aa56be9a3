// The packs-mode documents store: write, incremental runs, restore through the safe
// extractor, verify (full and quick), failures that publish no index, and the garbage
// collection of packs after runs are removed. Everything runs on the memory store.
#include "support/packs_testing.hpp"
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/io/zstd.hpp>
#include <dolibak/packs/gc.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/packs/reader.hpp>
#include <dolibak/packs/writer.hpp>
#include <dolibak/store/fault_store.hpp>
#include <dolibak/store/memory_store.hpp>
#include <dolibak/tarball/excludes.hpp>

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>

using namespace dolibak;
using dolibak::test::random_bytes;
using dolibak::test::TempDir;
using dolibak::test::write_file;
namespace fs = std::filesystem;

namespace {

void make_tree(const fs::path& root) {
    fs::create_directories(root / "facture/FA2401-0001");
    fs::create_directories(root / "facture/temp");
    fs::create_directories(root / "empty");
    write_file(root / "install.lock", "locked\n");
    ::chmod((root / "install.lock").c_str(), 0444);
    write_file(root / "facture/FA2401-0001/FA2401-0001.pdf", random_bytes(300'000, 1));
    write_file(root / "facture/FA2401-0001/copy.pdf", random_bytes(300'000, 1));  // same bytes
    write_file(root / "facture/FA2401-0001/empty.txt", "");
    write_file(root / "facture/temp/scratch.bin", "regenerated");
    write_file(root / "big.bin", random_bytes(1'000'000, 2) + std::string(500'000, 'z'));
    write_file(root / std::string("caf\xe9-latin1.txt"), "not utf-8 name");
    fs::create_symlink("FA2401-0001/FA2401-0001.pdf", root / "facture/link.pdf");
}

// path -> description of each entry (type, mode, content or target)
std::map<std::string, std::string> snapshot(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        const auto rel = fs::relative(it->path(), root).string();
        struct stat st {};
        REQUIRE(::lstat(it->path().c_str(), &st) == 0);
        std::string d = std::to_string(st.st_mode & 07777) + ":";
        if (S_ISLNK(st.st_mode))
            d += "link:" + fs::read_symlink(it->path()).string();
        else if (S_ISDIR(st.st_mode))
            d += "dir";
        else
            d += "file:" + io::sha256_file_hex(it->path()) + ":" + std::to_string(st.st_mtime);
        out[rel] = d;
    }
    return out;
}

packs::WriterOptions small_options() {
    packs::WriterOptions o;
    o.excludes = tarball::default_excludes();
    o.blob_size = 256 * 1024;
    o.pack_size = 400 * 1024;
    return o;
}

packs::WriterSummary run(store::Store& store, const fs::path& root, const std::string& ts,
                         const std::string& previous_ts = {},
                         const packs::WriterOptions& options = small_options()) {
    return test::write_packs_run(store, root, ts, previous_ts, options);
}

std::size_t count_packs(store::Store& store) {
    return store.list("packs/").size();
}

}  // namespace

TEST_CASE("a run stores each content once and restores the tree byte for byte") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root);
    store::MemoryStore store;
    const auto s = run(store, root, "20261201T020000Z");
    CHECK(s.totals.files == 6);  // the temp folder is excluded
    // install.lock 1 blob, the two equal PDFs 2 blobs stored once, big.bin 6 blobs of
    // 256 KiB, the Latin-1 name 1 blob, the empty file none
    CHECK(s.blobs_new == 1 + 2 + 6 + 1);
    CHECK(s.packs_uploaded >= 3);
    CHECK(count_packs(store) == s.packs_uploaded);
    for (const auto& o : store.list("packs/")) {
        const auto bytes = store.get_bytes(o.key);
        CHECK(packs::pack_key(io::sha256_hex(bytes)) == o.key);  // named by content
    }
    auto index = store.get(packs::index_key("20261201T020000Z"));
    const auto target = dir / "restored";
    packs::restore_tree(store, *index, target);
    auto expected = snapshot(root);
    expected.erase("facture/temp");
    expected.erase("facture/temp/scratch.bin");
    CHECK(snapshot(target) == expected);

    auto again = store.get(packs::index_key("20261201T020000Z"));
    const auto full = packs::verify_run(store, *again, true);
    CHECK(full.problems.empty());
    CHECK(full.packs == s.packs_uploaded);
    CHECK(full.totals.files == 6);
}

TEST_CASE("the next run uploads only new content; an unchanged tree uploads no pack") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root);
    store::MemoryStore store;
    run(store, root, "20261201T020000Z");
    const auto before = count_packs(store);

    const auto same = run(store, root, "20261202T020000Z", "20261201T020000Z");
    CHECK(same.packs_uploaded == 0);
    CHECK(same.files_read == 0);  // size, mtime, ctime and inode unchanged: not even read
    CHECK(count_packs(store) == before);

    write_file(root / "facture/FA2401-0001/FA2401-0002.pdf", random_bytes(5'000, 7));
    write_file(root / "facture/FA2401-0001/copy2.pdf", random_bytes(300'000, 1));  // known
    const auto changed = run(store, root, "20261203T020000Z", "20261202T020000Z");
    CHECK(changed.files_read == 2);
    CHECK(changed.blobs_new == 1);
    CHECK(changed.bytes_new == 5'000);
    // The new content's pack, then a pack of the changed directories' pieces: the file's
    // folder, facture/ and the root; the other directories keep their pieces.
    CHECK(changed.packs_uploaded == 2);
    CHECK(changed.pieces_new == 3);
    CHECK(changed.pieces_kept == 1);  // empty/ (facture/temp is excluded)
    CHECK(changed.pack_bytes - changed.piece_bytes < 6'000);
    CHECK(changed.piece_bytes < 2'000);
    CHECK(count_packs(store) == before + 2);

    const auto target = dir / "restored";
    auto index = store.get(packs::index_key("20261203T020000Z"));
    packs::restore_tree(store, *index, target);
    CHECK(test::read_file(target / "facture/FA2401-0001/copy2.pdf") == random_bytes(300'000, 1));
    CHECK(test::read_file(target / "facture/FA2401-0001/FA2401-0002.pdf") ==
          random_bytes(5'000, 7));
}

TEST_CASE("a damaged or missing pack fails verify and the restore, which leaves the target") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root);
    store::MemoryStore store;
    run(store, root, "20261201T020000Z");
    const auto target = dir / "restored";
    fs::create_directories(target);
    write_file(target / "keep.txt", "previous content");

    // Flip one byte inside the largest pack (content, not the index's pieces: same size,
    // quick verify passes; test_packs_pieces.cpp damages pieces).
    auto listing = store.list("packs/");
    const auto first =
        *std::max_element(listing.begin(), listing.end(),
                          [](const auto& a, const auto& b) { return a.size < b.size; });
    auto bytes = store.get_bytes(first.key);
    bytes[bytes.size() / 2] ^= 0x5a;
    store.put_bytes(first.key, bytes);

    auto quick_index = store.get(packs::index_key("20261201T020000Z"));
    CHECK(packs::verify_run(store, *quick_index, false).problems.empty());
    auto full_index = store.get(packs::index_key("20261201T020000Z"));
    const auto full = packs::verify_run(store, *full_index, true);
    REQUIRE_FALSE(full.problems.empty());
    CHECK(full.problems.front().find(first.key) != std::string::npos);

    auto index = store.get(packs::index_key("20261201T020000Z"));
    CHECK_THROWS_AS(packs::restore_tree(store, *index, target), FormatError);
    CHECK(test::read_file(target / "keep.txt") == "previous content");
    CHECK_FALSE(fs::exists(target / "install.lock"));

    store.remove(first.key);
    auto quick2 = store.get(packs::index_key("20261201T020000Z"));
    const auto missing = packs::verify_run(store, *quick2, false);
    REQUIRE(missing.problems.size() == 1);
    CHECK(missing.problems[0] == first.key + ": missing");
}

TEST_CASE("a failed pack upload publishes no index; the next run still works") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root);
    store::MemoryStore memory;
    store::FaultStore store(memory);
    store.fail(store::FaultStore::Op::put, 2, store::FaultStore::Fault::transient);
    CHECK_THROWS_AS(run(store, root, "20261201T020000Z"), RemoteError);
    CHECK_FALSE(memory.head(packs::index_key("20261201T020000Z")));
    CHECK(count_packs(memory) == 1);  // the first pack stays for the garbage collection

    const auto ok = run(store, root, "20261201T030000Z");
    CHECK(ok.totals.files == 6);
    // the leftover pack is garbage only if no index names it; here the same content gives
    // the same pack, which the new index references
    const auto gc = packs::collect_garbage(memory);
    CHECK(gc.plan.remove.empty());
}

TEST_CASE("an index that is truncated, not an index, or names an escaping path is refused") {
    store::MemoryStore store;
    // truncated: header and one entry, no trailer
    {
        io::MemorySink raw;
        {
            io::ZstdSink z(raw);
            io::write(z, R"({"format":"dolibak-docs-index","version":1,"run":"x"})"
                         "\n"
                         R"({"path":"a","type":"dir","mode":493})"
                         "\n");
            z.finish();
        }
        io::MemorySource src(raw.data());
        packs::IndexReader reader(src);
        CHECK(reader.next().has_value());
        CHECK_THROWS_AS(reader.next(), FormatError);
    }
    {
        io::MemorySink raw;
        {
            io::ZstdSink z(raw);
            io::write(z, "{\"format\":\"something-else\",\"version\":1,\"run\":\"x\"}\n");
            z.finish();
        }
        io::MemorySource src(raw.data());
        CHECK_THROWS_AS(packs::IndexReader{src}, FormatError);
    }
    // a hand-made index naming "../escape": the extractor refuses it, nothing is written
    {
        io::MemorySink raw;
        {
            packs::IndexWriter w(raw, "20261201T020000Z");
            packs::IndexEntry e;
            e.path = "../escape";
            e.type = packs::EntryType::directory;
            e.mode = 0755;
            w.add(e);
            w.finish();
        }
        TempDir dir;
        io::MemorySource src(raw.data());
        CHECK_THROWS_AS(packs::restore_tree(store, src, dir / "target"), FormatError);
        CHECK_FALSE(fs::exists(dir / "escape"));
    }
}

TEST_CASE("garbage collection deletes only the packs no remaining index references") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root);
    store::MemoryStore store;
    run(store, root, "20261201T020000Z");
    fs::remove(root / "big.bin");
    write_file(root / "new.pdf", random_bytes(100'000, 9));
    run(store, root, "20261202T020000Z", "20261201T020000Z");
    const auto all = count_packs(store);

    // both runs kept: nothing to delete
    CHECK(packs::collect_garbage(store, true).plan.remove.empty());

    // the first run's index treated as deleted (a dry run of the prune): the plan that
    // follows its deletion, and nothing read of it
    packs::GcOptions ahead;
    ahead.dry_run = true;
    ahead.deleted = {packs::index_key("20261201T020000Z"), "manifests/20261201T020000Z.json"};
    const auto preview = packs::collect_garbage(store, ahead);
    CHECK(preview.indexes == 1);

    // the prune removed the first run's index: big.bin's packs go, the rest stays
    store.remove(packs::index_key("20261201T020000Z"));
    const auto dry = packs::collect_garbage(store, true);
    CHECK(preview.plan.remove == dry.plan.remove);
    CHECK(preview.plan.repack == dry.plan.repack);
    CHECK(preview.plan.bytes_removed == dry.plan.bytes_removed);
    CHECK(preview.plan.bytes_kept == dry.plan.bytes_kept);
    REQUIRE_FALSE(dry.plan.remove.empty());
    CHECK(count_packs(store) == all);
    const auto gc = packs::collect_garbage(store);
    CHECK(gc.removed == dry.plan.remove);
    CHECK(gc.bytes_removed == dry.plan.bytes_removed);
    CHECK(gc.repacked.moved == dry.plan.repack);
    // The first run's pack of pieces holds the pieces the second kept (mostly garbage now:
    // repacked, its record written).
    const auto left = all - gc.removed.size() - gc.repacked.removed.size() +
                      gc.repacked.written.size() + gc.repacked.records.size();
    CHECK(count_packs(store) == left);

    auto index = store.get(packs::index_key("20261202T020000Z"));
    CHECK(packs::verify_run(store, *index, true).problems.empty());
    auto index2 = store.get(packs::index_key("20261202T020000Z"));
    packs::restore_tree(store, *index2, dir / "restored");
    CHECK(test::read_file(dir / "restored/new.pdf") == random_bytes(100'000, 9));

    // an unreadable index: nothing is deleted
    store.put_bytes("docs/20261203T020000Z.index.zst", "garbage");
    CHECK_THROWS_AS(packs::collect_garbage(store), FormatError);
    CHECK(count_packs(store) == left);
}

TEST_CASE("the planner: unreferenced packs go, mostly-dead packs are repack candidates") {
    std::vector<store::ObjectInfo> packs{{"packs/aa/a.pack", 1000, {}, {}},
                                         {"packs/bb/b.pack", 1000, {}, {}},
                                         {"packs/cc/c.pack", 1000, {}, {}},
                                         {"docs/x.index.zst", 10, {}, {}}};
    const std::map<std::string, std::uint64_t> live{{"packs/bb/b.pack", 900},
                                                    {"packs/cc/c.pack", 100}};
    const auto plan = packs::plan_gc(packs, live);
    CHECK(plan.remove == std::vector<std::string>{"packs/aa/a.pack"});
    CHECK(plan.repack == std::vector<std::string>{"packs/cc/c.pack"});
    CHECK(plan.bytes_removed == 1000);
    CHECK(plan.bytes_kept == 2000);
    CHECK(plan.garbage_in_repack == 900);
}

TEST_CASE("an unreadable previous index costs a full upload, with a warning, and loses nothing") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root);
    store::MemoryStore store;
    run(store, root, "20261201T020000Z");
    store.put_bytes(packs::index_key("20261202T020000Z"), "not an index");
    auto options = small_options();
    std::vector<std::string> warnings;
    options.on_warning = [&](const std::string& w) { warnings.push_back(w); };
    const auto s = run(store, root, "20261203T020000Z", "20261202T020000Z", options);
    CHECK(s.files_read == 6);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("previous index cannot be read") != std::string::npos);
    auto index = store.get(packs::index_key("20261203T020000Z"));
    CHECK(packs::verify_run(store, *index, true).problems.empty());
}

TEST_CASE("encrypted packs: age objects read blob by blob with the identity, refused without") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root);
    store::MemoryStore store;
    const auto key = io::age_generate_key();
    io::AgeIdentities ids;
    ids.x25519.push_back(key.identity);
    auto options = small_options();
    options.encrypt_to = io::AgeRecipients{};
    options.encrypt_to->x25519 = {key.recipient};
    // The index sink's encryption is the caller's: kept plain here.
    const auto s = run(store, root, "20261201T020000Z", {}, options);
    CHECK(s.packs_uploaded >= 3);
    for (const auto& o : store.list("packs/")) {
        const auto bytes = store.get_bytes(o.key);
        CHECK(packs::is_encrypted_pack(o.key));
        CHECK(packs::pack_key(io::sha256_hex(bytes), true) == o.key);  // the stored bytes
        CHECK(bytes.rfind("age-encryption.org/v1\n", 0) == 0);
    }
    const auto index = [&] { return store.get(packs::index_key("20261201T020000Z")); };
    auto expected = snapshot(root);
    expected.erase("facture/temp");
    expected.erase("facture/temp/scratch.bin");
    packs::restore_tree(store, *index(), dir / "restored", {}, &ids);
    CHECK(snapshot(dir / "restored") == expected);
    CHECK(packs::verify_run(store, *index(), true, &ids).problems.empty());
    CHECK(packs::verify_run(store, *index(), false, &ids).problems.empty());  // presence, sizes
    // The index's pieces are in the encrypted packs: even a quick verify reads them.
    CHECK_FALSE(packs::verify_run(store, *index(), false).problems.empty());

    // Without an identity, or with another one: nothing restored, the packs not checked.
    CHECK_THROWS_AS(packs::restore_tree(store, *index(), dir / "none"), ConfigError);
    CHECK_FALSE(fs::exists(dir / "none"));
    io::AgeIdentities other;
    other.x25519.push_back(io::age_generate_key().identity);
    CHECK_THROWS_AS(packs::restore_tree(store, *index(), dir / "other", {}, &other), FormatError);
    CHECK_FALSE(fs::exists(dir / "other"));
    CHECK_FALSE(packs::verify_run(store, *index(), true).problems.empty());

    // A flipped byte inside a pack's payload: the blob whose chunk holds it fails.
    const auto victim = store.list("packs/").front().key;
    auto bytes = store.get_bytes(victim);
    bytes[bytes.size() - 40] ^= 0x01;
    store.put_bytes(victim, bytes);
    CHECK_THROWS_AS(packs::restore_tree(store, *index(), dir / "damaged", {}, &ids), FormatError);
    CHECK_FALSE(fs::exists(dir / "damaged"));
    CHECK_FALSE(packs::verify_run(store, *index(), true, &ids).problems.empty());

    // A plain run after it references none of the encrypted packs: all stored again (the
    // identity reads the previous index's pieces, in encrypted packs).
    auto plain_options = small_options();
    plain_options.identities = &ids;
    const auto plain = run(store, root, "20261202T020000Z", "20261201T020000Z", plain_options);
    CHECK(plain.blobs_new == s.blobs_new);
    auto plain_index = store.get(packs::index_key("20261202T020000Z"));
    packs::TreeAccess tree;
    tree.store = &store;
    packs::IndexReader reader(*plain_index, &tree);
    while (auto e = reader.next())
        for (const auto& b : e->blobs) CHECK_FALSE(packs::is_encrypted_pack(b.pack));
}
