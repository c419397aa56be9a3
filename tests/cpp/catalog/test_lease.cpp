// The store's lock (catalog::Lease), one invariant at a time: one holder, a conditional
// takeover of a stale lease, an unreadable lock refused, a lost answer recognised, renewal
// and release that never touch another run's lease, and the store's own error reported. Then
// the race of the independent tests: a stale lock, two backups started together on S3, fifty
// times: exactly one run publishes, and every published object matches its manifest.
#include "support/job_ops_testing.hpp"
#include "support/sim_env.hpp"
#include "support/testsupport.hpp"

#include <dolibak/catalog/catalog.hpp>
#include <dolibak/catalog/lease.hpp>
#include <dolibak/store/fault_store.hpp>
#include <dolibak/store/memory_store.hpp>

#include <doctest/doctest.h>

#include <thread>

using namespace dolibak;
using catalog::Lease;
using catalog::LeaseOptions;
using catalog::LockHeld;
using store::FaultStore;

namespace {

const TimePoint t0 = TimePoint(std::chrono::sys_days{std::chrono::year{2026} / 3 / 1});

LeaseOptions opts(const std::string& host, long pid) {
    LeaseOptions o;
    o.ttl = std::chrono::hours(1);
    o.host = host;
    o.pid = pid;
    o.holder_gone = [](const std::string&, long) { return false; };
    return o;
}

std::string stale_lock(TimePoint now) {
    return R"({"host":"gone.example","pid":1,"token":"stale","since":")" +
           format_rfc3339(now - std::chrono::hours(3)) + R"(","expires":")" +
           format_rfc3339(now - std::chrono::hours(2)) + "\"}\n";
}

}  // namespace

TEST_CASE("one holder: a held lease refuses the next; release lets it in") {
    store::MemoryStore mem;
    {
        Lease a(mem, t0, opts("a", 1));
        CHECK(a.held());
        CHECK_THROWS_AS(Lease(mem, t0, opts("b", 2)), LockHeld);
        try {
            Lease b(mem, t0, opts("b", 2));
        } catch (const LockHeld& e) {
            CHECK(std::string(e.what()).find("pid 1 on a") != std::string::npos);
        }
    }
    CHECK_FALSE(mem.head(catalog::lock_key));
    Lease b(mem, t0, opts("b", 2));
    CHECK(b.held());
}

TEST_CASE("two runs taking over one stale lease: exactly one wins (memory and directory)") {
    test::TempDir dir;
    std::vector<std::unique_ptr<store::Store>> stores;
    stores.push_back(std::make_unique<store::MemoryStore>());
    stores.push_back(store::open("file://" + dir.path().string()));
    for (auto& s : stores) {
        INFO(s->url());
        for (int round = 0; round < 20; ++round) {
            s->put_bytes(catalog::lock_key, stale_lock(t0));
            FaultStore f1(*s), f2(*s);
            sim::Meeting meeting;
            // Both have read the stale lease before either takes it over.
            f1.hook(FaultStore::Op::get, 1, [&] { meeting.arrive_and_wait(); });
            f2.hook(FaultStore::Op::get, 1, [&] { meeting.arrive_and_wait(); });
            std::atomic<int> won{0}, refused{0};
            std::vector<std::unique_ptr<Lease>> held(2);
            std::atomic<int> other{0};
            auto go = [&](store::Store& st, int i) {
                try {
                    held[static_cast<std::size_t>(i)] =
                        std::make_unique<Lease>(st, t0, opts("h" + std::to_string(i), i + 10));
                    ++won;
                } catch (const LockHeld&) {
                    ++refused;
                } catch (const std::exception&) {
                    ++other;
                }
            };
            std::thread a([&] { go(f1, 0); });
            std::thread b([&] { go(f2, 1); });
            a.join();
            b.join();
            CHECK(won == 1);
            CHECK(refused == 1);
            CHECK(other == 0);
            held.clear();
            CHECK_FALSE(s->head(catalog::lock_key));
        }
    }
}

TEST_CASE("a lease taken in the future (a wrong clock) does not lock the store until then") {
    store::MemoryStore mem;
    std::vector<std::string> warnings;
    {
        Lease ahead(mem, t0 + std::chrono::days(400), opts("ahead", 1));
        auto o = opts("b", 2);
        o.warn = [&](const std::string& m) { warnings.push_back(m); };
        CHECK_THROWS_AS(Lease(mem, t0 + std::chrono::days(400), o), LockHeld);
        Lease b(mem, t0, o);  // the clock is right again: taken over
        CHECK(b.held());
        REQUIRE(warnings.size() == 1);
        CHECK(warnings[0].find("wrong clock") != std::string::npos);
        // The run of the wrong clock cannot renew: it publishes nothing.
        CHECK_THROWS_AS(ahead.renew(t0 + std::chrono::days(400)), LockHeld);
    }
    // Within the tolerance (a clock a few minutes fast) the lease holds.
    Lease fast(mem, t0 + std::chrono::minutes(10), opts("fast", 3));
    CHECK_THROWS_AS(Lease(mem, t0, opts("c", 4)), LockHeld);
}

TEST_CASE("an unreadable lock is not an expired one") {
    store::MemoryStore mem;
    mem.put_bytes(catalog::lock_key, "{not json");
    try {
        Lease l(mem, t0, opts("a", 1));
        FAIL("took an unreadable lock");
    } catch (const LockHeld& e) {
        CHECK(std::string(e.what()).find("cannot be read") != std::string::npos);
    }
    CHECK(mem.get_bytes(catalog::lock_key) == "{not json");
}

TEST_CASE("a lease whose creation answer was lost is held, not refused as another's") {
    store::MemoryStore mem;
    FaultStore f(mem);
    f.fail(FaultStore::Op::put, 1, FaultStore::Fault::lose_response);
    Lease l(f, t0, opts("a", 1));
    CHECK(l.held());
    l.release();
    CHECK_FALSE(mem.head(catalog::lock_key));
}

TEST_CASE("renewal and release never touch a lease another run has taken since") {
    store::MemoryStore mem;
    Lease a(mem, t0, opts("a", 1));
    a.renew(t0 + std::chrono::minutes(10));
    // a's lease expires; b takes it over.
    Lease b(mem, t0 + std::chrono::hours(2), opts("b", 2));
    CHECK_THROWS_AS(a.renew(t0 + std::chrono::hours(2)), LockHeld);
    a.release();
    REQUIRE(mem.head(catalog::lock_key));
    CHECK(mem.get_bytes(catalog::lock_key).find(b.token()) != std::string::npos);
    // renew_if_due writes only once a quarter of the TTL has passed.
    FaultStore f(mem);
    b.release();
    Lease c(f, t0, opts("c", 3));
    const auto puts = f.calls(FaultStore::Op::put);
    c.renew_if_due(t0 + std::chrono::minutes(10));
    CHECK(f.calls(FaultStore::Op::put) == puts);
    c.renew_if_due(t0 + std::chrono::minutes(16));
    CHECK(f.calls(FaultStore::Op::put) == puts + 1);
}

TEST_CASE("the store's own error is the one reported, not a later HEAD's") {
    store::MemoryStore mem;
    FaultStore f(mem);
    f.fail(FaultStore::Op::put, 1, FaultStore::Fault::transient);
    f.fail(FaultStore::Op::head, 1, FaultStore::Fault::io_error, true);
    try {
        Lease l(f, t0, opts("a", 1));
        FAIL("took the lock");
    } catch (const LockHeld&) {
        FAIL("a store failure reported as a held lock");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("SlowDown") != std::string::npos);
    }
}

TEST_CASE("S3: a stale lock and two backups started together, fifty times: one publishes") {
    const std::string url = jt::s3_url();
    auto s3 = store::open(url, jt::s3_options());
    sim::FakeHalf db("db"), docs("docs");
    sim::ManualClock clock(t0);
    int published_total = 0;
    for (int round = 0; round < 50; ++round) {
        INFO("round " << round);
        db.set_content("db " + std::to_string(round));
        docs.set_content("docs " + std::to_string(round));
        clock.set(t0 + std::chrono::hours(24 * round));
        s3->put_bytes(catalog::lock_key, stale_lock(clock.now()));
        FaultStore f1(*s3), f2(*s3);
        // Both read the stale lease before either takes it over; the winner holds the lock
        // until the other was refused.
        sim::Meeting read_stale, decided;
        for (auto* f : {&f1, &f2}) {
            f->hook(FaultStore::Op::get, 1, [&] { read_stale.arrive_and_wait(); });
            f->hook(FaultStore::Op::cleanup, 1, [&] { decided.arrive_and_wait(); });
        }
        sim::SimEnv e1(f1, clock, db, docs), e2(f2, clock, db, docs);
        auto config = sim::sim_config();
        config.store_url = url;
        job::Job j1(config, e1), j2(config, e2);
        std::atomic<int> published{0}, locked{0};
        std::mutex errors_mutex;
        std::vector<std::string> errors;
        auto go = [&](job::Job& j) {
            try {
                const auto r = j.backup();
                if (!r.manifest_key.empty() && r.ok()) ++published;
            } catch (const catalog::LockHeld&) {
                ++locked;
                decided.arrive();
            } catch (const std::exception& e) {
                decided.arrive();
                std::lock_guard lock(errors_mutex);
                errors.emplace_back(e.what());
            }
        };
        std::thread a([&] { go(j1); });
        std::thread b([&] { go(j2); });
        a.join();
        b.join();
        for (const auto& e : errors) FAIL_CHECK("a run failed: " << e);
        CHECK(published == 1);
        CHECK(locked == 1);
        published_total += published;
        CHECK_FALSE(s3->head(catalog::lock_key));
    }
    // Every published object matches its manifest, and restores the content of its run.
    catalog::Catalog cat(*s3, {});
    const auto listing = cat.scan(catalog::Catalog::Load::all);
    CHECK(static_cast<int>(listing.runs.size()) == published_total);
    for (const auto& run : listing.runs) {
        REQUIRE(run.loaded);
        for (const auto& [half, h] : run.manifest.halves) {
            INFO(h.key);
            const auto bytes = s3->get_bytes(h.key);
            CHECK(io::sha256_hex(bytes) == h.sha256);
            CHECK(bytes.size() == h.bytes);
        }
    }
}
