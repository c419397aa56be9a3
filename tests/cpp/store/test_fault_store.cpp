// The test stores shipped with the library: MemoryStore (its contract is also run with the
// real backends in test_store.cpp) and FaultStore.
#include <dolibak/core/error.hpp>
#include <dolibak/store/fault_store.hpp>
#include <dolibak/store/memory_store.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace dolibak;
using store::FaultStore;
using Op = FaultStore::Op;
using Fault = FaultStore::Fault;

TEST_CASE("MemoryStore: url, pinned reads, publish on finish only") {
    store::MemoryStore m("unit");
    CHECK(m.url() == "mem://unit/");
    m.put_bytes("k", "version 1");
    auto src = m.get("k", {8, std::nullopt});
    m.put_bytes("k", "version 2, longer");
    CHECK(io::read_all(*src) == "1");  // a reader keeps the version it opened
    CHECK(io::read_all(*m.get("k", {100, std::nullopt})).empty());
    CHECK(io::read_all(*m.get("k", {8, 1})) == "2");
    {
        auto sink = m.put("new");
        io::write(*sink, "data");
        CHECK_FALSE(m.head("new"));
        CHECK(m.list("n").empty());
    }
    CHECK_FALSE(m.head("new"));  // destroyed unfinished: nothing
    CHECK_THROWS_AS(m.put("../x"), ConfigError);
    CHECK_THROWS_AS(m.get("missing"), store::ObjectNotFound);
    CHECK(m.cleanup(std::chrono::seconds(0)) == 0);
}

TEST_CASE("FaultStore fails the Nth call, or every call from N on") {
    store::MemoryStore inner;
    FaultStore f(inner);
    inner.put_bytes("a", "x");
    f.fail(Op::head, 2, Fault::transient);
    f.fail(Op::get, 2, Fault::io_error, true);
    CHECK(f.head("a"));
    try {
        (void)f.head("a");
        FAIL("no fault");
    } catch (const RemoteError& e) {
        CHECK(e.details().retryable);
        CHECK(e.details().http_status == 503);
        CHECK(std::string(e.what()).find("injected fault: head of 'a'") != std::string::npos);
    }
    CHECK(f.head("a"));
    CHECK(f.calls(Op::head) == 3);
    f.fail(Op::head, 4, Fault::server_error);
    try {
        (void)f.head("a");
        FAIL("no fault");
    } catch (const RemoteError& e) {
        CHECK(e.details().http_status == 500);
        CHECK(e.details().code == "InternalError");
    }

    CHECK(f.get_bytes("a") == "x");
    CHECK_THROWS_AS(f.get_bytes("a"), IoError);
    io::NullSink null;
    CHECK_THROWS_AS(f.get_to("a", null), IoError);  // get_to counts as a get
    CHECK(f.calls(Op::get) == 3);

    // Conflicts: typed, and a refused put publishes nothing.
    f.fail(Op::put, 1, Fault::already_exists);
    f.fail(Op::put, 2, Fault::precondition_failed);
    f.fail(Op::remove_if, 1, Fault::precondition_failed);
    CHECK_THROWS_AS(f.put_bytes("b", "1"), store::AlreadyExists);
    CHECK_THROWS_AS(f.put_bytes("b", "2"), store::PreconditionFailed);
    CHECK_FALSE(inner.head("b"));
    const auto etag = f.put_bytes("b", "3");
    CHECK(etag == inner.head("b")->etag);
    CHECK_THROWS_AS(f.remove_if("b", etag), store::PreconditionFailed);
    CHECK(inner.head("b"));
    f.remove_if("b", etag);
    CHECK_FALSE(inner.head("b"));

    // Counters: a put is counted when it publishes (finish), not when opened or aborted.
    {
        auto sink = f.put("c");
        io::write(*sink, "never");
        sink->abort();
    }
    CHECK(f.calls(Op::put) == 3);
    f.reset();
    CHECK(f.calls(Op::put) == 0);
    CHECK(f.calls(Op::head) == 0);
    CHECK(f.get_bytes("a") == "x");  // rules are gone too
    CHECK_THROWS_AS(f.fail(Op::list, 0, Fault::transient), ConfigError);
}

TEST_CASE("FaultStore can lose the answer of a call that was performed") {
    auto inner = std::make_shared<store::MemoryStore>();
    FaultStore f(inner);  // keeps the inner store alive
    f.fail(Op::put, 1, Fault::lose_response);
    f.fail(Op::remove, 1, Fault::lose_response);
    f.fail(Op::remove_many, 1, Fault::lose_response);
    store::PutOptions once;
    once.no_overwrite = true;
    CHECK_THROWS_AS(f.put_bytes("lock", "ours", once), RemoteError);
    REQUIRE(inner->head("lock"));  // it was published all the same
    CHECK(inner->get_bytes("lock") == "ours");
    // A naive retry now meets its own object.
    CHECK_THROWS_AS(f.put_bytes("lock", "ours", once), store::AlreadyExists);
    CHECK_THROWS_AS(f.remove("lock"), RemoteError);
    CHECK_FALSE(inner->head("lock"));
    inner->put_bytes("x", "1");
    CHECK_THROWS_AS(f.remove_many({"x"}), RemoteError);
    CHECK(inner->list().empty());
    CHECK(f.calls(Op::put) == 2);
    CHECK(f.calls(Op::remove) == 1);
}

TEST_CASE("FaultStore hooks run before their call, may use the store, and see the count") {
    store::MemoryStore inner;
    FaultStore f(inner);
    std::vector<std::string> events;
    f.hook(Op::head, 2, [&] { events.push_back("hook " + std::to_string(f.calls(Op::head))); });
    f.hook(
        Op::list, 2, [&] { events.push_back("every list from the 2nd"); }, true);
    for (int i = 0; i < 3; ++i) {
        (void)f.head("k");
        events.push_back("head");
    }
    for (int i = 0; i < 3; ++i) (void)f.list();
    CHECK(events == std::vector<std::string>{"head", "hook 2", "head", "head",
                                             "every list from the 2nd", "every list from the 2nd"});

    // Interleave another run: it takes the lock between our read and our write.
    store::PutOptions once;
    once.no_overwrite = true;
    f.hook(Op::put, 1, [&] { f.put_bytes("lock", "other run", once); });
    CHECK_THROWS_AS(f.put_bytes("lock", "this run", once), store::AlreadyExists);
    CHECK(inner.get_bytes("lock") == "other run");
    CHECK(f.calls(Op::put) == 2);

    // A hook runs even when its call then fails (e.g. to advance a test clock).
    int ticks = 0;
    f.hook(Op::cleanup, 1, [&] { ++ticks; });
    f.fail(Op::cleanup, 1, Fault::transient);
    CHECK_THROWS_AS(f.cleanup(std::chrono::seconds(0)), RemoteError);
    CHECK(ticks == 1);
    CHECK(f.cleanup(std::chrono::seconds(0)) == 0);
}
