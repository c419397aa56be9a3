// The plan's JSON written piece by piece (retention::write_json, what `dolibak plan --json`
// streams): byte for byte the text the nlohmann document of the same plan dumps (the way
// to_json made it before it streamed), in pieces of bounded size.
#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/retention/planner.hpp>
#include <dolibak/retention/timezone.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace dolibak;
using namespace dolibak::retention;

namespace {

// The plan as the nlohmann document it used to be built as: the reference text.
std::string reference_json(const Plan& p, TimePoint now, const Policy& policy) {
    using nlohmann::json;
    json j;
    j["schema"] = "dolibak.plan/1";
    j["now"] = format_rfc3339(now);
    j["policy"] = describe(policy);
    j["mode"] = policy.mode == Policy::Mode::tiered ? "tiered" : "count";
    j["time_zone"] = policy.zone.name();
    j["kept"] = p.kept();
    j["dropped"] = p.dropped();
    json counts = json::object();
    for (const auto& d : p.decisions)
        for (const auto r : d.reasons) {
            auto& c = counts[std::string(to_string(r))];
            c = c.is_null() ? 1 : c.get<int>() + 1;
        }
    j["counts"] = counts;
    json list = json::array();
    for (const auto& d : p.decisions) {
        const Backup b = p.backup(d).to_backup();
        json o;
        o["reasons"] = json::array();
        for (const auto r : d.reasons) o["reasons"].push_back(std::string(to_string(r)));
        o["key"] = b.key;
        o["time"] = format_rfc3339(b.time);
        o["half"] = b.half;
        o["ok"] = b.ok;
        o["verified"] = std::string(to_string(b.verified));
        o["keep"] = d.keep;
        o["detail"] = p.detail(d);
        list.push_back(std::move(o));
    }
    j["decisions"] = std::move(list);
    return j.dump(2);
}

std::vector<Backup> history(int n, unsigned seed) {
    const TimePoint now = parse_timestamp("20261123T020000Z");
    std::mt19937 rng(seed);
    std::uniform_int_distribution<long> spread(-7200, 3L * 366 * 86400);
    std::uniform_int_distribution<int> pct(0, 99);
    std::vector<Backup> v;
    for (int i = 0; i < n; ++i) {
        const TimePoint t = now - std::chrono::seconds{spread(rng)};
        const bool docs = pct(rng) < 40;
        Backup b{
            catalog::make_store_key(
                "p", docs ? catalog::ObjectKind::docs_tar_zst : catalog::ObjectKind::db_dump, t),
            t, docs ? "docs" : "db"};
        b.ok = pct(rng) >= 5;
        const int r = pct(rng);
        b.verified = r < 3    ? Verification::failed
                     : r < 33 ? Verification::good
                              : Verification::unknown;
        v.push_back(std::move(b));
    }
    std::sort(v.begin(), v.end(), [](const Backup& a, const Backup& b) { return a.key < b.key; });
    v.erase(std::unique(v.begin(), v.end(),
                        [](const Backup& a, const Backup& b) { return a.key == b.key; }),
            v.end());
    return v;
}

}  // namespace

TEST_CASE("the streamed plan JSON is the document's dump, byte for byte") {
    const TimePoint now = parse_timestamp("20261123T020000Z");
    Policy tiered;
    Policy count;
    count.mode = Policy::Mode::count;
    count.count = {10, 48, 30, 52, 120, CountPolicy::unlimited, true};
    count.zone = TimeZone::locate("+02:00");
    Policy empty_count;
    empty_count.mode = Policy::Mode::count;
    for (const Policy* policy : {&tiered, &count, &empty_count}) {
        for (const int n : {0, 1, 3000}) {
            CAPTURE(n);
            const auto backups = history(n, 7);
            const std::set<std::string> protect =
                backups.empty() ? std::set<std::string>{}
                                : std::set<std::string>{backups[backups.size() / 2].key};
            const Plan p = plan(backups, now, *policy, protect);
            const std::string expected = reference_json(p, now, *policy);
            CHECK(to_json(p) == expected);
            std::string streamed;
            std::size_t pieces = 0, largest = 0;
            write_json(p, [&](std::string_view piece) {
                ++pieces;
                largest = std::max(largest, piece.size());
                streamed += piece;
            });
            CHECK(streamed == expected);
            // 64 KiB and at most one decision more per piece: a large plan comes in many.
            CHECK(largest < 64 * 1024 + 4096);
            if (n == 3000) CHECK(pieces > expected.size() / (64 * 1024));
        }
    }
}

TEST_CASE("strings that need escaping, and ones that are not UTF-8") {
    const TimePoint now = parse_timestamp("20261123T020000Z");
    const std::string odd = "odd \"key\"\\\n\t caf\xc3\xa9";
    std::vector<Backup> backups = {{odd, now, "h\x01lf", true, Verification::good},
                                   {"second", now - std::chrono::hours{1}, "h\x01lf", true}};
    const Plan p = plan(backups, now, Policy{}, {odd});
    REQUIRE(p.decisions.size() == 2);
    CHECK(p.detail(p.decisions[0]) ==
          "newest successful backup; protected; newest of day "
          "2026-11-23, within 30 days (age 0d 0h)");
    CHECK(to_json(p) == reference_json(p, now, Policy{}));

    // A key that is not UTF-8 (and the detail naming it as the one kept instead).
    backups[0].key = "cut \xe2\x82";
    const Plan cut = plan(backups, now, Policy{});
    std::string streamed;
    CHECK_THROWS_WITH_AS(write_json(cut, [&](std::string_view piece) { streamed += piece; }),
                         doctest::Contains("invalid UTF-8"), Error);
    CHECK(streamed.empty());  // the failure came before a first piece was full: none handed out
}

TEST_CASE("a plan's backups come in its decisions' order; write_detail stays in its bound") {
    // What the CLI's text writer relies on: decision k is about backup k (so printing walks
    // the backups in order), and each detail fits in detail_size_bound(d), including the
    // key of the backup kept instead, however long.
    const TimePoint now = parse_timestamp("20261123T020000Z");
    Policy tiered;
    Policy one_day;
    one_day.tiered = {1, 0, 0};  // older than the daily window: the daily one is named
    Policy count;
    count.mode = Policy::Mode::count;
    count.count = {3, 48, 30, 52, 120, 5, true};
    count.zone = TimeZone::locate("-05:30");
    Policy every;
    every.mode = Policy::Mode::count;
    every.count.last = CountPolicy::unlimited;
    for (const Policy* policy : {&tiered, &one_day, &count, &every}) {
        for (const std::size_t prefix : {std::size_t{1}, std::size_t{3000}}) {
            CAPTURE(prefix);
            auto backups = history(2000, 11);
            const std::string long_prefix(prefix, 'x');
            for (auto& b : backups) b.key = long_prefix + b.key;
            std::shuffle(backups.begin(), backups.end(), std::mt19937(5));
            // One dated after now, for its note.
            backups.push_back({"future", now + std::chrono::hours{2}, "db", true});
            const auto given = backups;
            const Plan p = plan(backups, now, *policy, {given[7].key});
            REQUIRE(p.decisions.size() == given.size());
            REQUIRE(p.backups.size() == given.size());
            std::set<std::string> seen;
            std::vector<char> buf;
            for (std::size_t k = 0; k < p.decisions.size(); ++k) {
                const Decision& d = p.decisions[k];
                CHECK(d.backup == k);
                seen.insert(std::string(p.backups[k].key));
                const std::size_t bound = p.detail_size_bound(d);
                const std::string detail = p.detail(d);
                CHECK(detail.size() <= bound);
                buf.assign(bound + 16, '#');
                char* end = p.write_detail(buf.data(), d);
                CHECK(std::string(buf.data(), end) == detail);
                CHECK(std::all_of(buf.begin() + static_cast<std::ptrdiff_t>(bound), buf.end(),
                                  [](char c) { return c == '#'; }));
            }
            std::set<std::string> keys;
            for (const auto& b : given) keys.insert(b.key);
            CHECK(seen == keys);  // every backup once, moved and not lost
        }
    }
}
