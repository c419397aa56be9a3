// The Store contract, run against every backend: a directory, S3 (the moto fixture) and the
// MemoryStore shipped for tests (which must behave exactly like the others).
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/store/memory_store.hpp>
#include <dolibak/store/store.hpp>

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <atomic>
#include <random>
#include <thread>

using namespace dolibak;
using dolibak::test::random_bytes;
namespace fs = std::filesystem;

namespace {

store::StoreOptions s3_options() {
    const auto& info = test::s3();
    store::StoreOptions o;
    o.use_environment = false;
    o.s3.endpoint = info.at("endpoint").get<std::string>();
    o.s3.region = info.at("region").get<std::string>();
    o.s3.part_size = 5 * 1024 * 1024;
    o.s3.parallel_parts = 2;
    o.s3.retry.base_delay = std::chrono::milliseconds(20);
    s3::Credentials c;
    c.access_key_id = info.at("access_key").get<std::string>();
    c.secret_access_key = Secret(info.at("secret_key").get<std::string>());
    o.credentials = c;
    return o;
}

struct Backend {
    std::string name;
    std::unique_ptr<test::TempDir> dir;
    std::unique_ptr<store::Store> store;
};

std::vector<Backend> backends() {
    std::vector<Backend> out;
    Backend f{"file", std::make_unique<test::TempDir>("dolibak-store"), nullptr};
    f.store = store::open("file://" + f.dir->path().string());
    out.push_back(std::move(f));
    static std::mt19937_64 rng(std::random_device{}());
    const std::string url = "s3://" + test::s3().at("bucket").get<std::string>() + "/store-" +
                            std::to_string(rng() % 1000000000) + "/backups";
    out.push_back({"s3", nullptr, store::open(url, s3_options())});
    out.push_back({"memory", nullptr, std::make_unique<store::MemoryStore>("contract")});
    return out;
}

std::vector<std::string> keys_of(const std::vector<store::ObjectInfo>& v) {
    std::vector<std::string> out;
    for (const auto& o : v) out.push_back(o.key);
    return out;
}

}  // namespace

TEST_CASE("store keys are validated") {
    for (const char* bad :
         {"", "/abs", "a//b", "a/./b", "../x", "a/..", "x\n", ".dolibak-tmp/x", ".dolibak-tmp"})
        CHECK_THROWS_AS(store::validate_key(bad), ConfigError);
    for (const char* good : {"db/20261123T010000Z.dump", ".fp-db", "a/.dolibak-tmp",
                             "dump-2026-11-23T01:00:00Z.pgdump", "\xc3\xbc/x y+z"})
        CHECK_NOTHROW(store::validate_key(good));
}

TEST_CASE("store URLs") {
    CHECK_THROWS_AS(store::open("ftp://x"), ConfigError);
    CHECK_THROWS_AS(store::open("s3://"), ConfigError);
    CHECK_THROWS_AS(store::open("file://relative/dir"), ConfigError);
    CHECK_THROWS_AS(store::open("file:///nonexistent/dolibak/dir"), ConfigError);
    test::TempDir t;
    store::StoreOptions o;
    o.create_directory = true;
    auto s = store::open("file://" + (t.path() / "new%20dir").string(), o);
    CHECK(fs::is_directory(t.path() / "new dir"));
    CHECK(s->url() == "file://" + (t.path() / "new dir").string() + "/");
    auto s3 =
        store::open("s3://" + test::s3().at("bucket").get<std::string>() + "//a/b/", s3_options());
    CHECK(s3->url() == "s3://" + test::s3().at("bucket").get<std::string>() + "/a/b/");
}

TEST_CASE("the store contract holds for every backend") {
    for (auto& b : backends()) {
        CAPTURE(b.name);
        auto& s = *b.store;

        // Round trip, overwrite, head, get of a range.
        s.put_bytes(".fp-db", "{\"fp\":1}");
        CHECK(s.get_bytes(".fp-db") == "{\"fp\":1}");
        s.put_bytes(".fp-db", "{\"fp\":2}");
        CHECK(s.get_bytes(".fp-db") == "{\"fp\":2}");
        auto info = s.head(".fp-db");
        REQUIRE(info);
        CHECK(info->size == 8);
        CHECK(std::chrono::system_clock::now() - info->modified < std::chrono::hours(1));
        CHECK_FALSE(s.head("db/missing.dump"));
        CHECK_THROWS_AS(s.get("db/missing.dump"), store::ObjectNotFound);
        io::NullSink null;
        CHECK_THROWS_AS(s.get_to("db/missing.dump", null), store::ObjectNotFound);
        {
            auto src = s.get(".fp-db", {1, 4});
            CHECK(io::read_all(*src) == "\"fp\"");
        }
        s.put_bytes("empty", "");
        CHECK(s.get_bytes("empty").empty());
        CHECK(s.head("empty")->size == 0);

        // no_overwrite
        store::PutOptions once;
        once.no_overwrite = true;
        CHECK_THROWS_AS(s.put_bytes(".fp-db", "x", once), Error);
        CHECK(s.get_bytes(".fp-db") == "{\"fp\":2}");
        s.put_bytes("db/new.dump", "n", once);

        // Streaming put: nothing visible before finish(); nothing after abort or destruction.
        const auto big = random_bytes(11 * 1024 * 1024 + 77, 5);
        {
            auto sink = s.put("db/20261123T010000Z.dump");
            sink->write(io::as_bytes(std::string_view(big).substr(0, 6 * 1024 * 1024)));
            CHECK_FALSE(s.head("db/20261123T010000Z.dump"));
            CHECK(keys_of(s.list("db/")) == std::vector<std::string>{"db/new.dump"});
            sink->write(io::as_bytes(std::string_view(big).substr(6 * 1024 * 1024)));
            sink->finish();
        }
        CHECK(s.head("db/20261123T010000Z.dump")->size == big.size());
        {
            auto src = s.get("db/20261123T010000Z.dump");
            CHECK(io::read_all(*src) == big);
        }
        {
            io::MemorySink m;
            CHECK(s.get_to("db/20261123T010000Z.dump", m, {big.size() - 10, std::nullopt}) == 10);
            CHECK(m.data() == big.substr(big.size() - 10));
        }
        {
            auto sink = s.put("db/aborted.dump");
            sink->write(io::as_bytes(big));
            sink->abort();
        }
        {
            auto sink = s.put("db/dropped.dump");
            sink->write(io::as_bytes(big));
        }
        CHECK_FALSE(s.head("db/aborted.dump"));
        CHECK_FALSE(s.head("db/dropped.dump"));
        CHECK(s.cleanup(std::chrono::seconds(0)) == 0);  // nothing was left behind

        // Listing: relative keys, sorted, prefix filtering, sizes.
        s.put_bytes("docs/20261123T010000Z.tar.gz", "tgz");
        s.put_bytes("manifests/20261123T010000Z.json", "{}");
        s.put_bytes("dbx", "not in db/");
        const auto all = s.list();
        CHECK(keys_of(all) == std::vector<std::string>{".fp-db", "db/20261123T010000Z.dump",
                                                       "db/new.dump", "dbx",
                                                       "docs/20261123T010000Z.tar.gz", "empty",
                                                       "manifests/20261123T010000Z.json"});
        CHECK(all[1].size == big.size());
        CHECK(keys_of(s.list("db/")) ==
              std::vector<std::string>{"db/20261123T010000Z.dump", "db/new.dump"});
        CHECK(keys_of(s.list("db")) ==
              std::vector<std::string>{"db/20261123T010000Z.dump", "db/new.dump", "dbx"});
        CHECK(s.list("nothing/").empty());

        // Removal.
        s.remove("dbx");
        s.remove("dbx");  // again: fine
        CHECK_FALSE(s.head("dbx"));
        const auto failures =
            s.remove_many({"db/new.dump", "docs/20261123T010000Z.tar.gz", "never/was"});
        CHECK(failures.empty());
        CHECK(keys_of(s.list()) == std::vector<std::string>{".fp-db", "db/20261123T010000Z.dump",
                                                            "empty",
                                                            "manifests/20261123T010000Z.json"});
        CHECK_THROWS_AS(s.put("../escape"), ConfigError);
        CHECK_THROWS_AS(s.remove("a//b"), ConfigError);
    }
}

TEST_CASE("a directory store keeps temporary files out of sight and cleans them up") {
    test::TempDir t;
    auto s = store::open(t.path().string());
    auto sink = s->put("db/x.dump");
    io::write(*sink, "partial");
    CHECK(fs::is_directory(t.path() / ".dolibak-tmp"));
    CHECK(s->list().empty());
    // A crash leaves the temporary file; cleanup() removes it.
    test::write_file(t.path() / ".dolibak-tmp" / "old.part", "x");
    CHECK(s->cleanup(std::chrono::hours(1)) == 0);
    CHECK(s->cleanup(std::chrono::seconds(0)) >= 1);
    sink->abort();
    CHECK_THROWS_AS(s->put_file("docs/f.bin", t.path() / "missing"), IoError);
    test::write_file(t.path() / "src.bin", "file body");
    s->put_file("docs/f.bin", t.path() / "src.bin");
    CHECK(s->get_file("docs/f.bin", t.path() / "back.bin") == 9);
    CHECK(test::read_file(t.path() / "back.bin") == "file body");
    s->remove("docs/f.bin");
    CHECK_FALSE(fs::exists(t.path() / "docs"));  // emptied folders go too
    // The lock file of tree changes exists only while held: nothing is left at rest.
    const auto etag = s->put_bytes("lock", "x");
    s->remove_if("lock", etag);
    CHECK(fs::is_empty(t.path() / ".dolibak-tmp"));
}

TEST_CASE("a directory store's objects are 0600 and its folders 0700, whatever the umask") {
    test::TempDir t;
    auto mode = [](const fs::path& p) {
        struct stat st {};
        REQUIRE(::stat(p.c_str(), &st) == 0);
        return st.st_mode & 07777;
    };
    for (const mode_t mask : {mode_t(0), mode_t(022), mode_t(0277)}) {
        CAPTURE(mask);
        const auto root = t.path() / ("store-" + std::to_string(mask)) / "sub";
        const mode_t old = ::umask(mask);
        store::StoreOptions o;
        o.create_directory = true;
        auto s = store::open("file://" + root.string(), o);
        s->put_bytes("db/2026/full.dump", "every customer's data");
        test::write_file(t.path() / "src.bin", "file body");
        s->put_file("docs/f.bin", t.path() / "src.bin");
        ::umask(old);
        CHECK(mode(root / "db/2026/full.dump") == 0600);
        CHECK(mode(root / "docs/f.bin") == 0600);
        for (const auto* dir : {"", "db", "db/2026", "docs", ".dolibak-tmp"})
            CHECK_MESSAGE(mode(root / dir) == 0700, dir);
        CHECK(mode(root.parent_path()) == 0700);  // created for the store too
    }
}

TEST_CASE("sinks and sources outlive the store that made them") {
    static std::mt19937_64 rng(std::random_device{}());
    const std::string url = "s3://" + test::s3().at("bucket").get<std::string>() + "/alive-" +
                            std::to_string(rng() % 1000000000);
    auto sink = store::open(url, s3_options())->put("k");
    io::write(*sink, "still here");
    sink->finish();
    auto src = store::open(url, s3_options())->get("k");
    CHECK(io::read_all(*src) == "still here");
}

TEST_CASE("conditional writes and removes hold for every backend") {
    for (auto& b : backends()) {
        CAPTURE(b.name);
        auto& s = *b.store;
        store::PutOptions once;
        once.no_overwrite = true;

        // put_bytes returns the etag of what it published; head and list agree.
        const auto e1 = s.put_bytes("lock", "holder 1", once);
        CHECK_FALSE(e1.empty());
        CHECK(s.head("lock")->etag == e1);
        CHECK(s.list("lock").at(0).etag == e1);

        // no_overwrite, one part: a typed AlreadyExists, the object untouched.
        try {
            s.put_bytes("lock", "holder 2", once);
            FAIL("no AlreadyExists");
        } catch (const store::AlreadyExists& e) {
            CHECK(e.key() == "lock");
        }
        CHECK(s.get_bytes("lock") == "holder 1");
        CHECK(s.head("lock")->etag == e1);

        // no_overwrite, several parts (S3: a multipart upload, 5 MiB parts): write-once too.
        const auto first = random_bytes(11 * 1024 * 1024, 1);
        const auto second = random_bytes(11 * 1024 * 1024, 2);
        std::string big_etag;
        {
            auto sink = s.put("db/once.dump", once);
            sink->write(io::as_bytes(first));
            CHECK(sink->etag().empty());
            sink->finish();
            big_etag = sink->etag();
        }
        CHECK_FALSE(big_etag.empty());
        CHECK(s.head("db/once.dump")->etag == big_etag);
        {
            auto sink = s.put("db/once.dump", once);
            sink->write(io::as_bytes(second));
            CHECK_THROWS_AS(sink->finish(), store::AlreadyExists);
            CHECK(sink->etag().empty());
        }
        CHECK(s.get_bytes("db/once.dump") == first);
        CHECK(s.cleanup(std::chrono::seconds(0)) == 0);  // the refused upload left nothing

        // if_match: replace only the version we know; the etag changes.
        store::PutOptions cas;
        cas.if_match = e1;
        const auto e2 = s.put_bytes("lock", "holder 1, renewed", cas);
        CHECK_FALSE(e2.empty());
        CHECK(e2 != e1);
        CHECK(s.head("lock")->etag == e2);
        try {
            s.put_bytes("lock", "holder 3", cas);  // e1 is stale now
            FAIL("no PreconditionFailed");
        } catch (const store::PreconditionFailed& e) {
            CHECK(e.key() == "lock");
        }
        CHECK(s.get_bytes("lock") == "holder 1, renewed");
        store::PutOptions on_missing;
        on_missing.if_match = e2;
        CHECK_THROWS_AS(s.put_bytes("no/such/lock", "x", on_missing), store::PreconditionFailed);
        CHECK_FALSE(s.head("no/such/lock"));
        store::PutOptions both = once;
        both.if_match = e2;
        CHECK_THROWS_AS(s.put_bytes("lock", "x", both), ConfigError);

        // remove_if: only the version we know.
        CHECK_THROWS_AS(s.remove_if("lock", e1), store::PreconditionFailed);
        CHECK(s.head("lock"));
        s.remove_if("lock", e2);
        CHECK_FALSE(s.head("lock"));
        CHECK_THROWS_AS(s.remove_if("lock", e2), store::PreconditionFailed);  // gone
        CHECK_THROWS_AS(s.remove_if("lock", ""), ConfigError);

        // Both conflicts are dolibak::Errors (callers that catch Error keep working).
        CHECK_THROWS_AS(s.put_bytes("db/once.dump", "x", once), Error);

        if (b.name == "s3") {
            // A conditional replace is for objects of one part: a larger one is refused, and
            // nothing is published.
            const auto e = s.put_bytes("small", "v1");
            store::PutOptions o;
            o.if_match = e;
            auto sink = s.put("small", o);
            CHECK_THROWS_AS(sink->write(io::as_bytes(first)), ConfigError);
            sink->abort();
            CHECK(s.get_bytes("small") == "v1");
        } else {
            // Directory and memory: a replace changes the etag even with the same bytes.
            const auto a = s.put_bytes("same", "same bytes");
            const auto b2 = s.put_bytes("same", "same bytes");
            CHECK(a != b2);
        }
        s.remove_many({"db/once.dump", "small", "same"});
        CHECK(s.cleanup(std::chrono::seconds(0)) == 0);
    }
}

TEST_CASE("concurrent conditional writes: exactly one wins") {
    auto racers = backends();
    racers.erase(racers.begin() + 1);  // moto does not make its check-and-write atomic
    for (auto& b : racers) {
        CAPTURE(b.name);
        auto& s = *b.store;
        store::PutOptions once;
        once.no_overwrite = true;
        const auto e0 = s.put_bytes("lease", "initial");
        for (int round = 0; round < 2; ++round) {
            std::atomic<int> won{0}, lost{0};
            std::vector<std::thread> threads;
            for (int i = 0; i < 8; ++i)
                threads.emplace_back([&, i] {
                    try {
                        if (round == 0) {
                            store::PutOptions cas;
                            cas.if_match = e0;
                            s.put_bytes("lease", "taken by " + std::to_string(i), cas);
                        } else {
                            s.put_bytes("fresh", "created by " + std::to_string(i), once);
                        }
                        ++won;
                    } catch (const store::PreconditionFailed&) {
                        ++lost;
                    } catch (const store::AlreadyExists&) {
                        ++lost;
                    }
                });
            for (auto& t : threads) t.join();
            CHECK(won == 1);
            CHECK(lost == 7);
        }
    }
}
