// The packs writer's internals: the compact table of known blobs, the walk order the
// merge-join with the previous index relies on, the worker threads (same packs and index
// whatever their number; a failure or a cancel while they are busy ends the run cleanly and
// publishes no index) and the bound on entries waiting for their pack.
#include "packs/blob_pool.hpp"
#include "packs/known_blobs.hpp"
#include "packs/previous_index.hpp"
#include "support/packs_testing.hpp"
#include "support/testsupport.hpp"

#include <dolibak/core/cancel.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/packs/index.hpp>
#include <dolibak/packs/reader.hpp>
#include <dolibak/packs/writer.hpp>
#include <dolibak/store/fault_store.hpp>
#include <dolibak/store/memory_store.hpp>
#include <dolibak/tarball/excludes.hpp>
#include <dolibak/tarball/walk.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <map>

using namespace dolibak;
using dolibak::test::random_bytes;
using dolibak::test::TempDir;
using dolibak::test::write_file;
namespace fs = std::filesystem;

namespace {

packs::detail::Digest digest(std::uint64_t n) {
    return packs::detail::digest_of(io::sha256_bytes(std::to_string(n)));
}

// ~120 files: small and compressible, random, duplicates, a few multi-blob ones.
void make_tree(const fs::path& root) {
    for (int d = 0; d < 6; ++d) {
        const auto dir = root / ("dir" + std::to_string(d));
        fs::create_directories(dir);
        for (int f = 0; f < 20; ++f) {
            const auto seed = static_cast<unsigned>(d * 100 + f);
            std::string content = f % 3 == 0
                                      ? std::string(20'000 + f * 7, static_cast<char>('a' + f % 26))
                                      : random_bytes(5'000 + f * 1'000, seed);
            if (f == 7) content = random_bytes(700'000, seed);  // three blobs of 256 KiB
            if (f == 9) content = random_bytes(6'000, 42);      // the same in every folder
            write_file(dir / ("f" + std::to_string(f) + ".pdf"), content);
        }
    }
}

packs::WriterOptions options(unsigned threads) {
    packs::WriterOptions o;
    o.excludes = tarball::default_excludes();
    o.blob_size = 256 * 1024;
    o.pack_size = 400 * 1024;
    o.threads = threads;
    return o;
}

packs::WriterSummary run(store::Store& store, const fs::path& root, const std::string& ts,
                         const std::string& previous_ts, const packs::WriterOptions& o) {
    return test::write_packs_run(store, root, ts, previous_ts, o);
}

std::vector<std::string> keys(store::Store& store, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& o : store.list(prefix)) out.push_back(o.key);
    return out;
}

}  // namespace

TEST_CASE("known blobs: every inserted digest is found at its first location, others are not") {
    packs::detail::KnownBlobs known;
    constexpr std::uint32_t n = 50'000;  // several chunks, several table growths
    bool inserted = true;
    for (std::uint32_t i = 0; i < n; ++i)
        inserted = known.insert(digest(i), {i % 7, i, i + 1}) && inserted;
    CHECK(inserted);
    CHECK(known.size() == n);
    CHECK_FALSE(known.insert(digest(17), {99, 99, 99}));  // known: keeps its first location
    bool all = true;
    for (std::uint32_t i = 0; i < n; ++i) {
        const auto* at = known.find(digest(i));
        all = all && at && at->pack == i % 7 && at->offset == i && at->length == i + 1;
    }
    CHECK(all);
    bool none = true;
    for (std::uint32_t i = n; i < n + 5'000; ++i) none = none && !known.find(digest(i));
    CHECK(none);
    known.clear();
    CHECK(known.size() == 0);
    CHECK_FALSE(known.find(digest(1)));
}

TEST_CASE("walk_less is the order of the walk (and so of every index)") {
    TempDir dir;
    const auto root = dir / "t";
    for (const char* d : {"a", "a/b", "a-b", "ab", "a/b/c", "a.d", "B", "\xc3\xa9t\xc3\xa9"})
        fs::create_directories(root / d);
    for (const char* f : {"a.txt", "a/b.txt", "a/b/c/x", "a!", "a/ b", "a/b!", "z"})
        write_file(root / f, "x");
    std::vector<std::string> paths;
    tarball::ExcludeMatcher none({});
    tarball::WalkHandlers h;
    h.entry = [&](const tarball::WalkEntry& w) { paths.push_back(w.path); };
    tarball::walk(root, none, h);
    REQUIRE(paths.size() >= 15);  // 8 folders, 7 files (and the root, if the walk lists it)
    for (std::size_t i = 1; i < paths.size(); ++i) {
        INFO(paths[i - 1] << " then " << paths[i]);
        CHECK(packs::detail::walk_less(paths[i - 1], paths[i]));
        CHECK_FALSE(packs::detail::walk_less(paths[i], paths[i - 1]));
    }
    CHECK_FALSE(packs::detail::walk_less("a/b", "a/b"));
    // plain byte order would put "a.txt" before "a/b" ('.' < '/'): the walk does not
    CHECK(packs::detail::walk_less("a/b", "a.txt"));
}

TEST_CASE("the packs and the index are the same with and without worker threads") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root);
    store::MemoryStore inline_store, threaded_store;
    const auto a = run(inline_store, root, "20261201T020000Z", "", options(0));
    const auto b = run(threaded_store, root, "20261201T020000Z", "", options(2));
    CHECK(a.packs_uploaded >= 5);
    CHECK(a.blobs_new == b.blobs_new);
    CHECK(a.pack_bytes == b.pack_bytes);
    CHECK(keys(inline_store, "packs/") == keys(threaded_store, "packs/"));
    CHECK(inline_store.get_bytes(packs::index_key("20261201T020000Z")) ==
          threaded_store.get_bytes(packs::index_key("20261201T020000Z")));
    auto index = threaded_store.get(packs::index_key("20261201T020000Z"));
    CHECK(packs::verify_run(threaded_store, *index, true).problems.empty());
}

TEST_CASE(
    "the previous index is merged with the walk: unchanged files unread, moved content "
    "known wherever it was listed") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root);
    store::MemoryStore store;
    run(store, root, "20261201T020000Z", "", options(2));
    // content listed late in the previous index moves to a path walked first; files appear
    // and disappear between unchanged ones
    fs::create_directories(root / "aaa");
    fs::rename(root / "dir5/f7.pdf", root / "aaa/moved.pdf");
    fs::remove(root / "dir2/f4.pdf");
    write_file(root / "dir2/f4b.pdf", random_bytes(9'000, 77));
    write_file(root / "dir3/f10.pdf.new", random_bytes(3'000, 78));
    const auto s = run(store, root, "20261202T020000Z", "20261201T020000Z", options(2));
    CHECK(s.files_read == 3);  // the moved file (new path), and the two new ones
    CHECK(s.blobs_new == 2);   // the moved file's three blobs were known
    CHECK(s.bytes_new == 12'000);
    auto index = store.get(packs::index_key("20261202T020000Z"));
    const auto target = dir / "restored";
    packs::restore_tree(store, *index, target);
    CHECK(test::read_file(target / "aaa/moved.pdf") == random_bytes(700'000, 507));
    CHECK(test::read_file(target / "dir5/f8.pdf") == test::read_file(root / "dir5/f8.pdf"));
}

TEST_CASE("a failed upload while the workers are busy ends the run: error, no index, no hang") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root);
    store::MemoryStore memory;
    store::FaultStore store(memory);
    store.fail(store::FaultStore::Op::put, 3, store::FaultStore::Fault::transient);
    auto o = options(2);
    o.pack_size = 64 * 1024;  // many packs: the failure comes early, batches still queued
    CHECK_THROWS_AS(run(store, root, "20261201T020000Z", "", o), RemoteError);
    CHECK_FALSE(memory.head(packs::index_key("20261201T020000Z")));
    CHECK(keys(memory, "packs/").size() == 2);
    const auto ok = run(store, root, "20261201T030000Z", "", o);  // and the next run works
    auto index = memory.get(packs::index_key("20261201T030000Z"));
    CHECK(packs::verify_run(memory, *index, true).totals.files == ok.totals.files);
}

TEST_CASE("a cancel while the workers are busy ends the run with Cancelled and no index") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root);
    store::MemoryStore memory;
    store::FaultStore store(memory);
    auto o = options(2);
    o.cancel = std::make_shared<CancelToken>();
    store.hook(store::FaultStore::Op::put, 1, [&] { o.cancel->cancel(15); });
    CHECK_THROWS_AS(run(store, root, "20261201T020000Z", "", o), Cancelled);
    CHECK_FALSE(memory.head(packs::index_key("20261201T020000Z")));
    // the only pack, uploaded once the walk is over: the cancel is seen before the index
    store.reset();
    o.cancel = std::make_shared<CancelToken>();
    o.pack_size = 16 * 1024 * 1024;
    store.hook(store::FaultStore::Op::put, 1, [&] { o.cancel->cancel(15); });
    CHECK_THROWS_AS(run(store, root, "20261201T030000Z", "", o), Cancelled);
    CHECK_FALSE(memory.head(packs::index_key("20261201T030000Z")));
}

TEST_CASE("a worker's failure reaches the caller in order; a pool dropped busy stops") {
    std::atomic<int> calls{0};
    const auto poisoned = packs::detail::digest_of(io::sha256_bytes(random_bytes(50'000, 2)));
    {
        packs::detail::BlobPool pool(2, 3, [&](const packs::detail::Digest& sha) {
            ++calls;
            if (sha == poisoned) throw IoError("injected", "batch 2", 5);
            return false;
        });
        for (int b = 0; b < 4; ++b) {
            packs::detail::Batch batch(2);
            for (auto& w : batch) w.data = random_bytes(50'000, static_cast<unsigned>(b));
            pool.submit(std::move(batch));
        }
        auto first = pool.take(true);
        REQUIRE(first);
        CHECK(first->size() == 2);
        CHECK((*first)[0].frame.size() > 0);
        CHECK((*first)[0].size == 50'000);
        CHECK(io::to_hex(std::as_bytes(std::span((*first)[0].sha))) ==
              io::sha256_hex(random_bytes(50'000, 0)));
        CHECK(pool.take(true).has_value());
        CHECK_THROWS_AS(pool.take(true), IoError);  // the third batch holds the poisoned blob
        // the fourth batch is left in flight: the destructor stops and joins the workers
    }
    CHECK(calls >= 5);  // batches 0, 1 and the poisoned one were worked on
}

TEST_CASE("entries waiting for their pack are bounded: the pack goes early") {
    TempDir dir;
    const auto root = dir / "documents";
    fs::create_directories(root);
    for (int i = 0; i < 40; ++i)
        write_file(root / ("n" + std::to_string(100 + i)),
                   random_bytes(1'000, static_cast<unsigned>(i)));
    store::MemoryStore store;
    auto o = options(2);
    o.pack_size = 16 * 1024 * 1024;
    o.max_waiting = 8;
    const auto s = run(store, root, "20261201T020000Z", "", o);
    CHECK(s.packs_uploaded >= 5);  // 41 entries, at most 8 waiting
    CHECK(s.blobs_new == 40);
    auto index = store.get(packs::index_key("20261201T020000Z"));
    const auto target = dir / "restored";
    packs::restore_tree(store, *index, target);
    CHECK(test::read_file(target / "n139") == random_bytes(1'000, 39));
}

TEST_CASE("a temporary directory that cannot hold the previous index fails the run, naming it") {
    TempDir dir;
    const auto root = dir / "documents";
    make_tree(root);
    store::MemoryStore store;
    run(store, root, "20261201T020000Z", "", options(2));
    auto o = options(2);
    o.temp_dir = dir / "no-such-dir";
    try {
        run(store, root, "20261202T020000Z", "20261201T020000Z", o);
        FAIL("the run did not fail");
    } catch (const IoError& e) {
        CHECK(std::string(e.what()).find("no-such-dir") != std::string::npos);
    }
    CHECK_FALSE(store.head(packs::index_key("20261202T020000Z")));
}

TEST_CASE("a file read across several batches and packs is listed whole, with every blob") {
    for (const unsigned threads : {0u, 2u}) {
        CAPTURE(threads);
        TempDir dir;
        const auto root = dir / "documents";
        fs::create_directories(root);
        const auto big = random_bytes(40 * 64 * 1024 + 123, 11);  // 41 blobs, 3 batches
        write_file(root / "a.bin", big);
        write_file(root / "b.txt", "after");
        store::MemoryStore store;
        auto o = options(threads);
        o.blob_size = 64 * 1024;
        o.pack_size = 100 * 1024;  // a pack flushed every other blob, mid-file
        const auto s = run(store, root, "20261201T020000Z", "", o);
        CHECK(s.blobs_new == 42);
        auto index = store.get(packs::index_key("20261201T020000Z"));
        const auto target = dir / "restored";
        packs::restore_tree(store, *index, target);
        CHECK(test::read_file(target / "a.bin") == big);
        CHECK(test::read_file(target / "b.txt") == "after");
    }
}
