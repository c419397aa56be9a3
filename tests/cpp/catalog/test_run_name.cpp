// How a person names a run (verify, restore): "latest", the store's time stamp
// (20261206T172345Z) or the time as `dolibak list` prints it (2026-12-06T17:23:45Z); both
// forms name the same run, anything else is refused naming the forms.
#include "support/testsupport.hpp"

#include <dolibak/catalog/catalog.hpp>
#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/store/memory_store.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace dolibak;

namespace {

const TimePoint run_time = parse_timestamp("20261206T172345Z");

std::string refusal(const std::string& which) {
    try {
        (void)catalog::parse_run_name(which);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("a run is named by latest or by its time in either form") {
    CHECK_FALSE(catalog::parse_run_name("latest").has_value());
    CHECK_FALSE(catalog::parse_run_name("").has_value());
    CHECK(catalog::parse_run_name("20261206T172345Z") == run_time);
    CHECK(catalog::parse_run_name("2026-12-06T17:23:45Z") == run_time);
    CHECK(format_rfc3339(run_time) == "2026-12-06T17:23:45Z");  // what list prints

    for (const std::string bad :
         {"Latest", "2026-12-06 17:23:45Z", "2026-12-06T17:23:45", "20261206T172345",
          "2026-13-06T17:23:45Z", "20260230T000000Z", "2026-12-06T17:23:45+01:00", "yesterday"}) {
        CAPTURE(bad);
        const auto why = refusal(bad);
        CHECK(why.find("'" + bad + "'") != std::string::npos);
        CHECK(why.find("YYYYMMDDTHHMMSSZ") != std::string::npos);
        CHECK(why.find("YYYY-MM-DDTHH:MM:SSZ") != std::string::npos);
        CHECK(why.find("latest") != std::string::npos);
    }
    // The reason of the refusal is kept: a date that does not exist says so.
    CHECK(refusal("2026-02-30T00:00:00Z").find("2026-02-30") != std::string::npos);
}

TEST_CASE("find_backup resolves both forms to the same object") {
    store::MemoryStore mem;
    catalog::Catalog cat(mem, nullptr);
    mem.put_bytes("db/20261205T020000Z.dump", "older");
    mem.put_bytes("db/20261206T172345Z.dump", "newer");
    const auto listing = cat.scan(catalog::Catalog::Load::none);
    const auto now = run_time + std::chrono::hours(1);
    CHECK(cat.find_backup(listing, "db", "20261205T020000Z", now).key ==
          "db/20261205T020000Z.dump");
    CHECK(cat.find_backup(listing, "db", "2026-12-05T02:00:00Z", now).key ==
          "db/20261205T020000Z.dump");
    CHECK(cat.find_backup(listing, "db", "latest", now).key == "db/20261206T172345Z.dump");
    CHECK_THROWS_AS(cat.find_backup(listing, "db", "2026-12-05T02:00:01Z", now), ConfigError);
    CHECK_THROWS_AS(cat.find_backup(listing, "db", "2026-12-05", now), ConfigError);
}
