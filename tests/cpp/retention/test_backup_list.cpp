// retention::BackupList (keys in one arena, what a plan holds) and the order plan() puts it in:
// by half, newest first, keys descending on equal times, whichever sort it takes.
#include <dolibak/catalog/backup_list.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/retention/planner.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

using namespace dolibak;
using namespace dolibak::retention;
using namespace std::chrono;

namespace {

// The decisions' order, checked against a sort of the given backups' copies.
void check_plan_order(std::vector<Backup> given, TimePoint now) {
    const Plan p = plan(given, now, Policy{});
    std::sort(given.begin(), given.end(), [](const Backup& a, const Backup& b) {
        return std::tie(a.half, b.time, b.key) < std::tie(b.half, a.time, a.key);
    });
    REQUIRE(p.decisions.size() == given.size());
    for (std::size_t k = 0; k < given.size(); ++k) {
        CAPTURE(k);
        const BackupView b = p.backup(p.decisions[k]);
        CHECK(b.key == given[k].key);
        CHECK(b.half == given[k].half);
        CHECK(b.time == given[k].time);
    }
}

}  // namespace

TEST_CASE("a BackupList holds copies or parts of its arena, and gives them back") {
    const TimePoint t = parse_timestamp("20261123T020000Z");
    BackupList l(std::string("xx keyA keyB"));
    l.add_from_arena(3, 4, t, "db", true, Verification::good);
    l.add_from_arena(8, 4, t - hours{1}, "docs", false, Verification::failed);
    l.add(Backup{"copied", t - hours{2}, "db", true, Verification::unknown});
    REQUIRE(l.size() == 3);
    CHECK(l[0].key == "keyA");
    CHECK(l[1].key == "keyB");
    CHECK(l[1].half == "docs");
    CHECK_FALSE(l[1].ok);
    CHECK(l[1].verified == Verification::failed);
    CHECK(l[2].key == "copied");
    CHECK(l.halves() == std::vector<std::string>{"db", "docs"});
    CHECK(l.half_index(2) == 0);
    const auto owned = l.to_backups();
    REQUIRE(owned.size() == 3);
    CHECK(owned[2].key == "copied");
    CHECK(owned[0].verified == Verification::good);
    CHECK(owned[1].time == t - hours{1});

    // A key outside the text is refused, not read past its end.
    CHECK(l.arena() == "xx keyA keyBcopied");
    CHECK_THROWS_AS(l.add_from_arena(l.arena().size() - 1, 2, t, "db"), ConfigError);
    CHECK_THROWS_AS(l.add_from_arena(std::numeric_limits<std::size_t>::max(), 1, t, "db"),
                    ConfigError);
    CHECK(l.size() == 3);
}

TEST_CASE("a plan's views stay valid when the plan is moved, however short its keys") {
    const TimePoint now = parse_timestamp("20261123T020000Z");
    for (const std::string& text : {std::string("20261123T010000Z"), std::string("")}) {
        BackupList l(text);
        if (text.empty())
            l.add(Backup{"k", now - hours{1}, "db", true});
        else
            l.add_from_arena(0, text.size(), now - hours{1}, "db");
        Plan p = plan(std::move(l), now);
        const BackupView before = p.backup(p.decisions[0]);
        const Plan moved = std::move(p);
        CHECK(before.key.data() == moved.backup(moved.decisions[0]).key.data());
        CHECK(before.key == (text.empty() ? "k" : text));
        CHECK(before.half == "db");
    }
}

TEST_CASE("read_backup_list keeps the text it read: keys are parts of it") {
    std::size_t manifests = 9;
    const auto l = catalog::read_backup_list(
        "p/db/20261120T020000Z.dump ok\n# a comment\n20261121T020000Z failed verified-ok\n"
        "p/manifests/20261120T020000Z.json\n",
        "docs", &manifests);
    REQUIRE(l.size() == 2);
    CHECK(manifests == 1);
    CHECK(l[0].key == "p/db/20261120T020000Z.dump");
    CHECK(l[0].key.data() == l.arena().data());
    CHECK(l[1].key == "20261121T020000Z");
    CHECK(l[1].half == "docs");
    CHECK_FALSE(l[1].ok);
    CHECK(l[1].verified == Verification::good);
}

TEST_CASE("read_backup_list splits fields at spaces, tabs and CRs, before and after 16 bytes") {
    const auto l = catalog::read_backup_list(
                       "a/long/prefix/db/20261120T020000Z.dump\tfailed \t verified-failed\r\n"
                       "  \t20261121T020000Z\r\n"
                       "p/docs/20261122T020000Z.tar.zst\r\n",
                       "db")
                       .to_backups();
    REQUIRE(l.size() == 3);
    CHECK(l[0].key == "a/long/prefix/db/20261120T020000Z.dump");
    CHECK_FALSE(l[0].ok);
    CHECK(l[0].verified == Verification::failed);
    CHECK(l[1].key == "20261121T020000Z");
    CHECK(l[2].key == "p/docs/20261122T020000Z.tar.zst");
    CHECK(l[2].half == "docs");
    // A control character other than tab and CR belongs to its field (and is refused here).
    CHECK_THROWS_WITH_AS(catalog::read_backup_list("db/20261123T020000Z.dump ok\x01"),
                         doctest::Contains("none of ok, failed"), ConfigError);
}

TEST_CASE("plan() orders by half, newest first, keys descending on equal times") {
    const TimePoint now = parse_timestamp("20261123T020000Z");
    std::mt19937 rng(7);
    std::vector<Backup> v;
    // Runs of equal times (keys decide), two halves whose names are not in first-seen order.
    for (int i = 0; i < 300; ++i) {
        const TimePoint t = now - minutes{10 * (i / 4)};
        v.push_back({"k" + std::to_string(i * 7919 % 1000), t, i % 3 ? "docs" : "db", true});
    }
    std::shuffle(v.begin(), v.end(), rng);
    check_plan_order(v, now);

    // Times too far apart for the radix sort's number (the comparison sort then).
    std::vector<Backup> wide = {
        {"old", TimePoint{seconds{std::numeric_limits<std::int64_t>::min() / 2}}, "db", true},
        {"b", now, "db", true},
        {"a", now, "db", true},
        {"new", TimePoint{seconds{std::numeric_limits<std::int64_t>::max() / 2}}, "db", true},
        {"mid", now - hours{1}, "docs", true}};
    check_plan_order(wide, now + hours{1});

    // Already in order: kept as it is.
    std::vector<Backup> ordered = {{"c", now, "db", true}, {"b", now - hours{1}, "db", true}};
    check_plan_order(ordered, now);
}
