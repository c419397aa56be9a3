// The retention planner: the fixed case of the original scripts, both modes, the invariants,
// time zones, and property tests over random histories (fixed seeds).
#include "support/testsupport.hpp"

#include <dolibak/catalog/backup_list.hpp>
#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/retention/planner.hpp>
#include <dolibak/retention/timezone.hpp>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <random>

using namespace dolibak;
using namespace dolibak::retention;
using namespace std::chrono;

namespace {

TimePoint ts(const char* s) {
    return parse_timestamp(s);
}

Backup db(TimePoint t, bool ok = true) {
    return Backup{catalog::make_store_key("p", catalog::ObjectKind::db_dump, t), t, "db", ok};
}

Backup db(TimePoint t, Verification v) {
    return Backup{catalog::make_store_key("p", catalog::ObjectKind::db_dump, t), t, "db", true, v};
}

std::vector<Backup> daily_history(TimePoint newest, int n, const std::string& half = "db") {
    std::vector<Backup> v;
    for (int i = 0; i < n; ++i) {
        const TimePoint t = newest - days{i};
        v.push_back(
            {catalog::make_store_key(
                 "p",
                 half == "db" ? catalog::ObjectKind::db_dump : catalog::ObjectKind::docs_tar_gz, t),
             t, half, true});
    }
    return v;
}

std::set<std::string> kept_keys(const Plan& p) {
    std::set<std::string> s;
    for (const auto& d : p.decisions)
        if (d.keep) s.insert(std::string(p.backup(d).key));
    return s;
}

Explained find(const Plan& p, const std::string& key) {
    for (const auto& d : p.decisions)
        if (p.backup(d).key == key) return p.explain(d);
    FAIL("no decision for " << key);
    throw std::logic_error("unreachable");
}

bool has(const Decision& d, Reason r) {
    return d.reasons.contains(r);
}

bool has(const Explained& d, Reason r) {
    return std::find(d.reasons.begin(), d.reasons.end(), r) != d.reasons.end();
}

Policy count_policy(int last, int hourly, int daily, int weekly, int monthly, int yearly) {
    Policy p;
    p.mode = Policy::Mode::count;
    p.count = {};
    p.count.last = last;
    p.count.hourly = hourly;
    p.count.daily = daily;
    p.count.weekly = weekly;
    p.count.monthly = monthly;
    p.count.yearly = yearly;
    return p;
}

}  // namespace

TEST_CASE("fixed case of the original scripts: 1100 daily backups keep 46 (31+12+3)") {
    const TimePoint newest = ts("20261123T020000Z");
    const auto backups = daily_history(newest, 1100);
    const Plan p = plan(backups, newest);
    CHECK(p.decisions.size() == 1100);
    CHECK(p.kept() == 46);
    CHECK(p.count(Reason::daily) == 31);
    CHECK(p.count(Reason::monthly) == 12);
    CHECK(p.count(Reason::yearly) == 3);
    CHECK(p.count(Reason::newest_success) == 1);
    // Every kept backup has exactly one tier reason.
    for (const auto& d : p.decisions) {
        if (!d.keep) continue;
        const int tiers = has(d, Reason::daily) + has(d, Reason::monthly) + has(d, Reason::yearly);
        CHECK(tiers == 1);
    }
    // The edges: 30 days old exactly is daily; 31 days is not.
    CHECK(has(find(p, "p/db/20261024T020000Z.dump"), Reason::daily));
    CHECK(has(find(p, "p/db/20261023T020000Z.dump"), Reason::monthly));  // newest of October
                                                                         // outside 30 days
    CHECK_FALSE(find(p, "p/db/20261022T020000Z.dump").keep);
    CHECK(has(find(p, "p/db/20251130T020000Z.dump"), Reason::monthly));  // 12th month
    CHECK(has(find(p, "p/db/20251122T020000Z.dump"), Reason::yearly));   // 2025 before window
    CHECK(has(find(p, "p/db/20241231T020000Z.dump"), Reason::yearly));
    CHECK(has(find(p, "p/db/20231231T020000Z.dump"), Reason::yearly));
    CHECK_FALSE(find(p, "p/db/20231120T020000Z.dump").keep);  // the oldest
    CHECK(find(p, "p/db/20231120T020000Z.dump").detail.find("not the newest of year 2023") !=
          std::string::npos);
    CHECK(p.drop_keys().size() == 1054);
    CHECK(p.drop_keys().front() == "p/db/20231120T020000Z.dump");
}

TEST_CASE("tiered daily tier keeps the newest backup of each calendar day") {
    const TimePoint newest = ts("20261123T020000Z");
    std::vector<Backup> hourly;
    for (int i = 0; i < 1100; ++i) hourly.push_back(db(newest - hours{i}));
    const Plan p = plan(hourly, newest);
    // The window (ages <= 720 h) spans 2026-10-24 02:00 .. 2026-11-23 02:00: 31 calendar
    // days, partly the first and the last. Older runs are all in October: one monthly.
    CHECK(p.count(Reason::daily) == 31);
    CHECK(p.count(Reason::monthly) == 1);
    CHECK(p.kept() == 32);
    CHECK(has(find(p, "p/db/20261123T020000Z.dump"), Reason::daily));
    CHECK(has(find(p, "p/db/20261024T230000Z.dump"), Reason::daily));
    CHECK(find(p, "p/db/20261024T230000Z.dump").detail.find("day 2026-10-24") != std::string::npos);
    CHECK_FALSE(find(p, "p/db/20261024T220000Z.dump").keep);
    CHECK(find(p, "p/db/20261024T220000Z.dump").detail ==
          "not the newest of day 2026-10-24 (kept: p/db/20261024T230000Z.dump)");
    CHECK(has(find(p, "p/db/20261024T010000Z.dump"), Reason::monthly));
    CHECK(has(find(p, "p/db/20261122T230000Z.dump"), Reason::daily));
    CHECK_FALSE(find(p, "p/db/20261122T220000Z.dump").keep);

    SUBCASE("days are those of the zone's wall clock, DST change days included") {
        // Every hour from 2026-10-23 22:00Z to 2026-10-27 22:00Z (97 runs). In Paris that is
        // 10-24 00:00 CEST to 10-27 23:00 CET: four whole days, 10-25 having 25 hours (CEST
        // -> CET at 01:00Z). In UTC: 10-23 (two runs) to 10-27, five days.
        std::vector<Backup> v;
        const TimePoint last = ts("20261027T220000Z");
        for (int i = 0; i <= 96; ++i) v.push_back(db(last - hours{i}));
        CHECK(plan(v, last).count(Reason::daily) == 5);
        Policy pol;
        pol.zone = retention::TimeZone::locate("Europe/Paris");
        const Plan q = plan(v, last, pol);
        CHECK(q.count(Reason::daily) == 4);
        CHECK(q.kept() == 4);
        CHECK(has(find(q, "p/db/20261024T210000Z.dump"), Reason::daily));  // 10-24 23:00 CEST
        CHECK(has(find(q, "p/db/20261025T220000Z.dump"), Reason::daily));  // 10-25 23:00 CET
        CHECK(find(q, "p/db/20261025T220000Z.dump").detail.find("day 2026-10-25") !=
              std::string::npos);
        CHECK(has(find(q, "p/db/20261026T220000Z.dump"), Reason::daily));
        CHECK(has(find(q, "p/db/20261027T220000Z.dump"), Reason::daily));
        // 10-23 22:00Z is 10-24 00:00 in Paris: not the newest of that day.
        CHECK(find(q, "p/db/20261023T220000Z.dump").detail ==
              "not the newest of day 2026-10-24 (kept: p/db/20261024T210000Z.dump)");
    }
}

TEST_CASE("tiered edges: exactly 30 days, the monthly and yearly window starts") {
    const TimePoint now = ts("20261123T020000Z");
    SUBCASE("daily edge is inclusive, measured in seconds") {
        const auto p = plan({db(now - days{30}), db(now - days{30} - seconds{1}), db(now)}, now);
        CHECK(has(p.decisions[1], Reason::daily));  // newest first: now, -30d, -30d-1s
        CHECK_FALSE(has(p.decisions[2], Reason::daily));
        CHECK(has(p.decisions[2], Reason::monthly));  // newest of October outside 30 days
    }
    SUBCASE("monthly window starts exactly 12 calendar months back") {
        const auto p = plan({db(now), db(ts("20251123T020000Z")), db(ts("20251123T015959Z"))}, now);
        CHECK(has(find(p, "p/db/20251123T020000Z.dump"), Reason::monthly));
        // One second older: outside the monthly window, so it competes for year 2025 and
        // wins it (nothing else of 2025 is outside the monthly window).
        CHECK(has(find(p, "p/db/20251123T015959Z.dump"), Reason::yearly));
    }
    SUBCASE("yearly window is 10 years back") {
        const auto p = plan({db(now), db(ts("20161123T020000Z")), db(ts("20161123T015959Z"))}, now);
        CHECK(has(find(p, "p/db/20161123T020000Z.dump"), Reason::yearly));
        CHECK_FALSE(find(p, "p/db/20161123T015959Z.dump").keep);
        CHECK(find(p, "p/db/20161123T015959Z.dump").detail.find("older than the yearly window") !=
              std::string::npos);
    }
    SUBCASE("month ends clamp: 12 months before 2024-02-29 is 2023-02-28") {
        const TimePoint n2 = ts("20240229T000000Z");
        const auto p = plan({db(n2), db(ts("20230228T000000Z")), db(ts("20230227T235959Z"))}, n2);
        CHECK(has(find(p, "p/db/20230228T000000Z.dump"), Reason::monthly));
        CHECK(has(find(p, "p/db/20230227T235959Z.dump"), Reason::yearly));
    }
    SUBCASE("windows are configurable; 0 disables a tier") {
        Policy pol;
        pol.tiered = {7, 0, 2};
        const auto p = plan(daily_history(now, 800), now, pol);
        CHECK(p.count(Reason::daily) == 8);
        CHECK(p.count(Reason::monthly) == 0);
        // Outside 7 days, back to 2024-11-23: years 2026 (newest is 2026-11-15), 2025, 2024.
        CHECK(p.count(Reason::yearly) == 3);
        CHECK(p.kept() == 11);
    }
}

TEST_CASE("invariants: newest success, protected keys, failed and future backups") {
    const TimePoint now = ts("20261123T020000Z");
    SUBCASE("the newest success is kept even outside every window") {
        Policy pol;
        pol.tiered = {1, 0, 0};
        const auto p = plan({db(ts("20200101T000000Z")), db(ts("20190101T000000Z"))}, now, pol);
        CHECK(p.kept() == 1);
        CHECK(has(find(p, "p/db/20200101T000000Z.dump"), Reason::newest_success));
    }
    SUBCASE("failed backups take no slot; older than the newest success they go") {
        auto backups = daily_history(ts("20260601T020000Z"), 3);  // successes
        backups.push_back(db(ts("20260602T020000Z"), false));     // failed, newer than success
        backups.push_back(db(ts("20260531T030000Z"), false));     // failed, older
        Policy pol;
        pol.tiered = {0, 12, 0};
        const auto p = plan(backups, now, pol);
        const auto& recent = find(p, "p/db/20260602T020000Z.dump");
        CHECK(recent.keep);
        CHECK(recent.reasons == std::vector<Reason>{Reason::failed_recent});
        CHECK_FALSE(find(p, "p/db/20260531T030000Z.dump").keep);
        // June's slot went to the newest success, May's to May 31 02:00 (the failed 03:00 one
        // is newer but failed).
        CHECK(has(find(p, "p/db/20260601T020000Z.dump"), Reason::monthly));
        CHECK(has(find(p, "p/db/20260531T020000Z.dump"), Reason::monthly));
    }
    SUBCASE("a half with only failed backups keeps them all") {
        const auto p =
            plan({db(ts("20200101T000000Z"), false), db(ts("20190101T000000Z"), false)}, now);
        CHECK(p.kept() == 2);
        CHECK(p.count(Reason::failed_recent) == 2);
    }
    SUBCASE("future-dated backups are kept and take no slot") {
        const auto p = plan({db(now + hours{5}), db(now - days{40}), db(now - days{41})}, now);
        CHECK(find(p, "p/db/20261123T070000Z.dump").reasons == std::vector<Reason>{Reason::future});
        CHECK(has(find(p, "p/db/20261014T020000Z.dump"), Reason::newest_success));
        CHECK(has(find(p, "p/db/20261014T020000Z.dump"), Reason::monthly));
        CHECK_FALSE(find(p, "p/db/20261013T020000Z.dump").keep);
    }
    SUBCASE("protected keys are kept") {
        const std::set<std::string> prot{"p/db/20200101T000000Z.dump"};
        const auto p =
            plan({db(now), db(ts("20200101T000000Z")), db(ts("20200102T000000Z"))}, now, {}, prot);
        CHECK(find(p, "p/db/20200101T000000Z.dump").reasons ==
              std::vector<Reason>{Reason::protected_key});
        CHECK(find(p, "p/db/20200102T000000Z.dump").reasons ==
              std::vector<Reason>{Reason::yearly});  // the newest of 2020
    }
    SUBCASE("halves are planned separately") {
        auto backups = daily_history(now, 40, "db");
        auto docs = daily_history(now - days{100}, 3, "docs");
        backups.insert(backups.end(), docs.begin(), docs.end());
        const auto p = plan(backups, now);
        std::map<std::string, int> newest;
        for (const auto& d : p.decisions)
            if (has(d, Reason::newest_success)) ++newest[std::string(p.backup(d).half)];
        CHECK(newest["db"] == 1);
        CHECK(newest["docs"] == 1);
        // Decisions are grouped by half, newest first.
        CHECK(p.backup(p.decisions.front()).half == "db");
        CHECK(p.backup(p.decisions.back()).half == "docs");
    }
    SUBCASE("a plan leaving a half empty is refused") {
        Plan edited = plan({db(now), db(now - days{1})}, now);
        for (auto& d : edited.decisions) d.keep = false;
        CHECK_THROWS_WITH_AS(check_keeps_every_half(edited),
                             doctest::Contains("would drop every backup of half 'db'"), Error);
    }
    SUBCASE("bad input") {
        CHECK_THROWS_AS(plan({db(now), db(now)}, now), ConfigError);
        CHECK_THROWS_AS(plan({Backup{"", now, "db", true}}, now), ConfigError);
        CHECK_THROWS_AS(plan({Backup{"k", now, "", true}}, now), ConfigError);
        Policy pol;
        pol.tiered.daily_days = -1;
        CHECK_THROWS_AS(plan({db(now)}, now, pol), ConfigError);
        auto c = count_policy(-2, 0, 0, 0, 0, 0);
        CHECK_THROWS_AS(plan({db(now)}, now, c), ConfigError);
    }
    SUBCASE("no backups: an empty plan") {
        CHECK(plan({}, now).decisions.empty());
    }
}

TEST_CASE("count mode follows restic's forget") {
    const TimePoint now = ts("20261123T020000Z");
    SUBCASE("keep-daily counts days that hold a backup, newest of each") {
        std::vector<Backup> v;
        // Two backups a day on 5 days, with a gap day.
        for (const char* s :
             {"20261123T010000Z", "20261123T020000Z", "20261122T010000Z", "20261122T230000Z",
              "20261120T120000Z", "20261120T130000Z", "20261119T000000Z", "20261118T000000Z"})
            v.push_back(db(ts(s)));
        auto pol = count_policy(0, 0, 3, 0, 0, 0);
        pol.count.keep_oldest_if_unfilled = false;
        const auto p = plan(v, now, pol);
        CHECK(kept_keys(p) == std::set<std::string>{"p/db/20261123T020000Z.dump",
                                                    "p/db/20261122T230000Z.dump",
                                                    "p/db/20261120T130000Z.dump"});
        CHECK(find(p, "p/db/20261122T230000Z.dump").detail.find("day 2026-11-22") !=
              std::string::npos);
    }
    SUBCASE("a second backup of a day goes when it is not the oldest") {
        const std::vector<Backup> v{db(ts("20261123T010000Z")), db(ts("20261123T000000Z")),
                                    db(ts("20261122T000000Z"))};
        const auto p = plan(v, now, count_policy(0, 0, 5, 0, 0, 0));
        CHECK(p.kept() == 2);  // the 23rd's newest and the 22nd; 23T00 is not the oldest
        CHECK_FALSE(find(p, "p/db/20261123T000000Z.dump").keep);
    }
    SUBCASE("oldest rule: same bucket as the previous kept one") {
        const std::vector<Backup> v{db(ts("20261123T010000Z")), db(ts("20261123T000000Z"))};
        auto pol = count_policy(0, 0, 5, 0, 0, 0);
        const auto p = plan(v, now, pol);
        CHECK(p.kept() == 2);
        CHECK(find(p, "p/db/20261123T000000Z.dump").reasons == std::vector<Reason>{Reason::oldest});
        pol.count.keep_oldest_if_unfilled = false;
        CHECK(plan(v, now, pol).kept() == 1);
        // When the rule's slots are used up, the oldest is not kept.
        const auto full = plan(v, now, count_policy(0, 0, 1, 0, 0, 0));
        CHECK(full.kept() == 1);
    }
    SUBCASE("keep-last and rules OR'ed") {
        const auto v = daily_history(now, 100);
        auto pol = count_policy(3, 0, 0, 0, 2, 0);
        pol.count.keep_oldest_if_unfilled = false;
        const auto p = plan(v, now, pol);
        // last: 23, 22, 21 Nov; monthly: Nov (23rd, already kept) and Oct 31.
        CHECK(p.kept() == 4);
        CHECK(p.count(Reason::last) == 3);
        CHECK(p.count(Reason::month) == 2);
        CHECK(has(find(p, "p/db/20261031T020000Z.dump"), Reason::month));
    }
    SUBCASE("ISO weeks") {
        // 2026-12-28 (Monday) is in ISO week 2026-W53; 2027-01-03 (Sunday) too; 2027-01-04
        // starts 2027-W01. 2021-01-03 belongs to 2020-W53.
        const TimePoint n2 = ts("20270105T000000Z");
        const std::vector<Backup> v{db(ts("20270104T000000Z")), db(ts("20270103T000000Z")),
                                    db(ts("20261228T000000Z")), db(ts("20261227T000000Z"))};
        auto pol = count_policy(0, 0, 0, 10, 0, 0);
        pol.count.keep_oldest_if_unfilled = false;
        const auto p = plan(v, n2, pol);
        CHECK(kept_keys(p) == std::set<std::string>{"p/db/20270104T000000Z.dump",
                                                    "p/db/20270103T000000Z.dump",
                                                    "p/db/20261227T000000Z.dump"});
        CHECK(find(p, "p/db/20270103T000000Z.dump").detail.find("week 2026-W53") !=
              std::string::npos);
        const auto p2 = plan({db(ts("20210103T120000Z"))}, n2, pol);
        CHECK(p2.detail(p2.decisions[0]).find("week 2020-W53") != std::string::npos);
    }
    SUBCASE("unlimited and hourly, yearly") {
        const auto v = daily_history(now, 800);
        auto pol = count_policy(0, 0, 0, 0, 0, CountPolicy::unlimited);
        const auto p = plan(v, now, pol);
        // Years 2026, 2025, 2024 (newest of each) plus the oldest (2024-09-15), kept as
        // "oldest" since the unlimited rule always has slots left.
        CHECK(p.count(Reason::year) == 3);
        CHECK(p.count(Reason::oldest) == 1);
        CHECK(p.kept() == 4);
        const auto h = plan(v, now, count_policy(0, 24, 0, 0, 0, 0));
        CHECK(h.count(Reason::hourly) == 24);
    }
    SUBCASE("the reason of last: a count, or unlimited in words (never -1)") {
        const auto v = daily_history(now, 5);
        const auto three = plan(v, now, count_policy(3, 0, 0, 0, 0, 0));
        CHECK(three.count(Reason::last) == 3);
        for (const auto& d : three.decisions)
            if (d.keep) CHECK(three.detail(d).find("one of the 3 newest") != std::string::npos);
        const auto all = plan(v, now, count_policy(CountPolicy::unlimited, 0, 0, 0, 0, 0));
        CHECK(all.count(Reason::last) == 5);
        for (const auto& d : all.decisions) {
            const auto detail = all.detail(d);
            CAPTURE(detail);
            CHECK(detail.find("the -1") == std::string::npos);
            CHECK(detail.find("unlimited last rule") != std::string::npos);
        }
    }
    SUBCASE("empty policy keeps everything") {
        const auto p = plan(daily_history(now, 10), now, count_policy(0, 0, 0, 0, 0, 0));
        CHECK(p.kept() == 10);
        CHECK(p.count(Reason::empty_policy) == 10);
    }
}

TEST_CASE("verification results: a backup that failed verification stands last in its bucket") {
    const TimePoint now = ts("20261123T020000Z");
    constexpr auto good = Verification::good, bad = Verification::failed,
                   unknown = Verification::unknown;
    SUBCASE("a month whose newest run failed verification keeps an older verified one") {
        // September 2026 is in the monthly window, outside the daily one.
        const std::vector<Backup> v{db(now, good), db(ts("20260930T020000Z"), bad),
                                    db(ts("20260920T020000Z"), good),
                                    db(ts("20260910T020000Z"), unknown)};
        const Plan p = plan(v, now);
        const auto& kept = find(p, "p/db/20260920T020000Z.dump");
        CHECK(kept.reasons == std::vector<Reason>{Reason::monthly});
        CHECK(kept.detail == "newest of month 2026-09 whose verification did not fail");
        const auto& failed = find(p, "p/db/20260930T020000Z.dump");
        CHECK_FALSE(failed.keep);
        CHECK(failed.detail ==
              "verification failed; month 2026-09 kept by p/db/20260920T020000Z.dump");
        CHECK(find(p, "p/db/20260910T020000Z.dump").detail ==
              "not the newest of month 2026-09 (kept: p/db/20260920T020000Z.dump)");
        CHECK(p.kept() == 2);
    }
    SUBCASE("an unknown verification did not fail: the newest unverified run stands") {
        const std::vector<Backup> v{db(now, unknown), db(ts("20260930T020000Z"), unknown),
                                    db(ts("20260920T020000Z"), good)};
        const Plan p = plan(v, now);
        CHECK(has(find(p, "p/db/20260930T020000Z.dump"), Reason::monthly));
        CHECK_FALSE(find(p, "p/db/20260920T020000Z.dump").keep);
    }
    SUBCASE("when every run of a bucket failed verification, the newest stands") {
        const std::vector<Backup> v{db(now, good), db(ts("20260930T020000Z"), bad),
                                    db(ts("20260920T020000Z"), bad)};
        const Plan p = plan(v, now);
        const auto& kept = find(p, "p/db/20260930T020000Z.dump");
        CHECK(has(kept, Reason::monthly));
        CHECK(kept.detail ==
              "newest of month 2026-09 (verification failed, as for every backup of it)");
        CHECK(find(p, "p/db/20260920T020000Z.dump").detail ==
              "not the newest of month 2026-09 (kept: p/db/20260930T020000Z.dump)");
    }
    SUBCASE("days and years too") {
        const std::vector<Backup> v{
            db(now, good),
            db(ts("20261120T230000Z"), bad),  // day 11-20: the newest failed verification
            db(ts("20261120T120000Z"), unknown),
            db(ts("20241231T020000Z"), bad),  // year 2024 (yearly window)
            db(ts("20240601T020000Z"), good),
        };
        const Plan p = plan(v, now);
        CHECK(find(p, "p/db/20261120T120000Z.dump")
                  .detail.find("newest of day 2026-11-20 whose "
                               "verification did not fail") == 0);
        CHECK(find(p, "p/db/20261120T230000Z.dump").detail ==
              "verification failed; day 2026-11-20 kept by p/db/20261120T120000Z.dump");
        CHECK(has(find(p, "p/db/20240601T020000Z.dump"), Reason::yearly));
        CHECK_FALSE(find(p, "p/db/20241231T020000Z.dump").keep);
    }
    SUBCASE("the newest success is kept, and so is the newest that did not fail verification") {
        const std::vector<Backup> v{db(now, bad), db(now - hours{1}, bad),
                                    db(now - hours{2}, unknown), db(now - hours{3}, good)};
        Policy pol;
        pol.tiered = {0, 0, 0};  // no tier: only the invariants keep anything
        const Plan p = plan(v, now, pol);
        CHECK(p.kept() == 2);
        CHECK(p.count(Reason::newest_success) == 2);
        CHECK(find(p, "p/db/20261123T020000Z.dump").detail.find("its verification failed") !=
              std::string::npos);
        CHECK(find(p, "p/db/20261123T000000Z.dump").detail ==
              "newest successful backup whose verification did not fail");
        // With the default policy, day 11-23 is kept by the 00:00 run; the 02:00 run stays as
        // the newest success, the 01:00 run goes.
        const Plan q = plan(v, now);
        CHECK(find(q, "p/db/20261123T000000Z.dump").reasons ==
              std::vector<Reason>{Reason::newest_success, Reason::daily});
        CHECK(find(q, "p/db/20261123T020000Z.dump").reasons ==
              std::vector<Reason>{Reason::newest_success});
        CHECK(find(q, "p/db/20261123T010000Z.dump").detail ==
              "verification failed; day 2026-11-23 kept by p/db/20261123T000000Z.dump");
        // Only failed verifications: the newest success alone.
        const Plan r = plan({db(now, bad), db(now - hours{1}, bad)}, now, pol);
        CHECK(r.kept() == 1);
    }
    SUBCASE("count mode: every rule's bucket, and keep-last") {
        const std::vector<Backup> v{
            db(ts("20261123T010000Z"), bad),  db(ts("20261123T000000Z"), good),
            db(ts("20261122T020000Z"), bad),  db(ts("20261121T020000Z"), unknown),
            db(ts("20261120T020000Z"), good), db(ts("20261119T020000Z"), bad),
        };
        auto pol = count_policy(0, 0, 3, 0, 0, 0);
        pol.count.keep_oldest_if_unfilled = false;
        const Plan p = plan(v, now, pol);
        // Day 11-23: the 00:00 run (the 01:00 one failed verification); 11-22: its only run,
        // which failed verification; 11-21.
        CHECK(kept_keys(p) == std::set<std::string>{"p/db/20261123T010000Z.dump",  // newest
                                                    "p/db/20261123T000000Z.dump",
                                                    "p/db/20261122T020000Z.dump",
                                                    "p/db/20261121T020000Z.dump"});
        CHECK(find(p, "p/db/20261123T010000Z.dump").reasons ==
              std::vector<Reason>{Reason::newest_success});
        CHECK(has(find(p, "p/db/20261123T000000Z.dump"), Reason::day));
        CHECK(find(p, "p/db/20261122T020000Z.dump").detail ==
              "newest of day 2026-11-22 (verification failed, as for every backup of it)");
        // keep-last 3: the three newest that did not fail verification.
        auto last = count_policy(3, 0, 0, 0, 0, 0);
        last.count.keep_oldest_if_unfilled = false;
        const Plan l = plan(v, now, last);
        CHECK(l.count(Reason::last) == 3);
        for (const char* k : {"p/db/20261123T000000Z.dump", "p/db/20261121T020000Z.dump",
                              "p/db/20261120T020000Z.dump"})
            CHECK(has(find(l, k), Reason::last));
        CHECK_FALSE(find(l, "p/db/20261122T020000Z.dump").keep);
        // More slots than backups that did not fail: the failed ones fill the rest.
        const Plan all = plan(v, now, count_policy(10, 0, 0, 0, 0, 0));
        CHECK(all.count(Reason::last) == 6);
        // Monthly over the lot: November's standing run is the 00:00 one.
        const Plan m = plan(v, now, count_policy(0, 0, 0, 0, 1, 0));
        CHECK(has(find(m, "p/db/20261123T000000Z.dump"), Reason::month));
        CHECK(find(m, "p/db/20261122T020000Z.dump").detail ==
              "verification failed; month 2026-11 kept by p/db/20261123T000000Z.dump");
    }
    SUBCASE("read from lines and written as JSON") {
        const auto v = catalog::backups_from_lines(
            "p/db/20261123T020000Z.dump verified-ok\n"
            "p/db/20261122T020000Z.dump failed verified-failed\n"
            "p/db/20261121T020000Z.dump verified-failed ok\n"
            "20261120T020000Z\n");
        REQUIRE(v.size() == 4);
        CHECK(v[0].verified == good);
        CHECK((!v[1].ok && v[1].verified == bad));
        CHECK((v[2].ok && v[2].verified == bad));
        CHECK(v[3].verified == unknown);
        CHECK_THROWS_WITH_AS(catalog::backups_from_lines("20261120T020000Z ok failed"),
                             doctest::Contains("given twice"), ConfigError);
        CHECK_THROWS_WITH_AS(
            catalog::backups_from_lines("20261120T020000Z verified-ok verified-failed"),
            doctest::Contains("given twice"), ConfigError);
        CHECK_THROWS_WITH_AS(catalog::backups_from_lines("20261120T020000Z verified"),
                             doctest::Contains("line 1"), ConfigError);
        CHECK_THROWS_AS(catalog::backups_from_lines("20261120T020000Z ok verified-ok extra"),
                        ConfigError);
        const auto j = nlohmann::json::parse(to_json(plan(v, now)));
        CHECK(j["decisions"][0]["verified"] == "good");
        CHECK(j["decisions"][2]["verified"] == "failed");
        CHECK(j["decisions"][3]["verified"] == "unknown");
        CHECK(to_string(Verification::failed) == "failed");
    }
}

TEST_CASE("time zones move calendar buckets") {
    // 2026-10-31T23:30Z is November 1 in Paris (UTC+1 after the October change).
    const TimePoint now = ts("20261201T000000Z");
    const std::vector<Backup> v{db(ts("20261031T233000Z")), db(ts("20261031T120000Z"))};
    Policy pol = count_policy(0, 0, 0, 0, 5, 0);
    pol.count.keep_oldest_if_unfilled = false;
    CHECK(plan(v, now, pol).kept() == 1);  // both in October (UTC)
    pol.zone = retention::TimeZone::locate("Europe/Paris");
    CHECK(plan(v, now, pol).kept() == 2);  // November and October in Paris
    pol.zone = retention::TimeZone::locate("+01:00");
    CHECK(plan(v, now, pol).kept() == 2);
    pol.zone = retention::TimeZone::locate("UTC-05:00");
    CHECK(plan(v, now, pol).kept() == 1);
}

TEST_CASE("time zone loading") {
    const auto paris = retention::TimeZone::locate("Europe/Paris");
    CHECK(paris.offset_at(ts("20260115T120000Z")) == hours{1});
    CHECK(paris.offset_at(ts("20260715T120000Z")) == hours{2});
    // Change days: 2026-03-29 01:00Z and 2026-10-25 01:00Z.
    CHECK(paris.offset_at(ts("20260329T005959Z")) == hours{1});
    CHECK(paris.offset_at(ts("20260329T010000Z")) == hours{2});
    CHECK(paris.offset_at(ts("20261025T005959Z")) == hours{2});
    CHECK(paris.offset_at(ts("20261025T010000Z")) == hours{1});
    // Far beyond the file's explicit transitions: the footer rule.
    CHECK(paris.offset_at(ts("20600715T120000Z")) == hours{2});
    CHECK(paris.offset_at(ts("20601215T120000Z")) == hours{1});
    const auto sydney = retention::TimeZone::locate("Australia/Sydney");  // southern hemisphere
    CHECK(sydney.offset_at(ts("20260115T000000Z")) == hours{11});
    CHECK(sydney.offset_at(ts("20260715T000000Z")) == hours{10});
    CHECK(sydney.offset_at(ts("20610115T000000Z")) == hours{11});
    CHECK(retention::TimeZone::locate("UTC").offset_at(ts("20260715T120000Z")) == seconds{0});
    CHECK(retention::TimeZone::locate("-0530").offset_at(ts("20260715T120000Z")) == -minutes{330});
    CHECK(retention::TimeZone::locate("+05:45").name() == "+05:45");

    const auto rule = retention::TimeZone::from_posix_rule("CET-1CEST,M3.5.0,M10.5.0/3");
    CHECK(rule.offset_at(ts("20990715T120000Z")) == hours{2});
    CHECK(rule.offset_at(ts("20991215T120000Z")) == hours{1});
    CHECK(retention::TimeZone::from_posix_rule("<+0330>-3:30").offset_at(ts("20260101T000000Z")) ==
          minutes{210});

    CHECK_THROWS_AS(retention::TimeZone::locate("Mars/Olympus"), ConfigError);
    CHECK_THROWS_AS(retention::TimeZone::locate("../etc/passwd"), ConfigError);
    CHECK_THROWS_AS(retention::TimeZone::locate(""), ConfigError);
    CHECK_THROWS_AS(retention::TimeZone::from_posix_rule("CET-1CEST"), ConfigError);
    CHECK_THROWS_AS(retention::TimeZone::from_posix_rule("X1"), ConfigError);
    CHECK_THROWS_AS(
        retention::TimeZone::from_tzif("junk", "not a tzif file at all, long enough to read"),
        FormatError);
    CHECK_THROWS_AS(retention::TimeZone::fixed(hours{24}), ConfigError);
}

TEST_CASE("plan as JSON") {
    const TimePoint now = ts("20261123T020000Z");
    const auto p = plan(daily_history(now, 40), now);
    const auto j = nlohmann::json::parse(to_json(p));
    CHECK(j["kept"] == p.kept());
    CHECK(j["dropped"] == p.dropped());
    CHECK(j["counts"]["daily"] == 31);
    CHECK(j["decisions"].size() == 40);
    CHECK(j["decisions"][0]["key"] == "p/db/20261123T020000Z.dump");
    CHECK(j["decisions"][0]["time"] == "2026-11-23T02:00:00Z");
    CHECK(j["decisions"][0]["reasons"] == nlohmann::json::array({"newest-success", "daily"}));
    CHECK(j["mode"] == "tiered");
}

// ---------------------------------------------------------------------------------------
// Properties over random histories.

namespace {

std::vector<Backup> random_history(std::mt19937& rng, TimePoint now, const std::string& half) {
    std::uniform_int_distribution<int> count(1, 120);
    std::uniform_int_distribution<int> span_days(1, 4000);
    std::uniform_int_distribution<int> chance(0, 99);
    const int n = count(rng);
    const int span = span_days(rng);
    std::uniform_int_distribution<long> offset(-3600L * 6, static_cast<long>(span) * 86400L);
    std::vector<Backup> v;
    std::set<std::string> seen;
    for (int i = 0; i < n; ++i) {
        const TimePoint t = now - seconds{offset(rng)};
        const auto key = catalog::make_store_key(
            half, half == "db" ? catalog::ObjectKind::db_dump : catalog::ObjectKind::docs_tar_gz,
            t);
        if (!seen.insert(key).second) continue;
        const int verified = chance(rng);
        v.push_back({key, t, half, chance(rng) >= 10,
                     verified < 50   ? Verification::unknown
                     : verified < 80 ? Verification::good
                                     : Verification::failed});
    }
    return v;
}

Policy random_policy(std::mt19937& rng) {
    std::uniform_int_distribution<int> pick(0, 9);
    std::uniform_int_distribution<int> small(0, 8);
    Policy pol;
    if (pick(rng) < 5) {
        pol.mode = Policy::Mode::tiered;
        if (pick(rng) < 5) pol.tiered = {small(rng) * 5, small(rng) * 2, small(rng)};
    } else {
        pol.mode = Policy::Mode::count;
        auto n = [&] { return pick(rng) < 2 ? CountPolicy::unlimited : small(rng); };
        pol.count.last = n();
        pol.count.hourly = n();
        pol.count.daily = n();
        pol.count.weekly = n();
        pol.count.monthly = n();
        pol.count.yearly = n();
        pol.count.keep_oldest_if_unfilled = pick(rng) < 5;
    }
    if (pick(rng) < 3)
        pol.zone = retention::TimeZone::locate(pick(rng) < 5 ? "Europe/Paris" : "+09:30");
    return pol;
}

}  // namespace

TEST_CASE("properties over random histories") {
    const TimePoint now = ts("20261123T020000Z");
    for (unsigned seed = 1; seed <= 400; ++seed) {
        CAPTURE(seed);
        std::mt19937 rng(seed);
        auto backups = random_history(rng, now, "db");
        auto docs = random_history(rng, now, "docs");
        backups.insert(backups.end(), docs.begin(), docs.end());
        const Policy pol = random_policy(rng);
        CAPTURE(describe(pol));
        const Plan p = plan(backups, now, pol);
        REQUIRE(p.decisions.size() == backups.size());
        const auto kept = kept_keys(p);

        // Never drops the newest successful backup of a half, nor a future or recent failure.
        std::map<std::string, const Backup*> newest;
        for (const auto& b : backups)
            if (b.ok && b.time <= now &&
                (!newest[b.half] || b.time > newest[b.half]->time ||
                 (b.time == newest[b.half]->time && b.key > newest[b.half]->key)))
                newest[b.half] = &b;
        for (const auto& [half, b] : newest) CHECK(kept.count(b->key) == 1);
        // Nor the newest successful one whose verification did not fail.
        std::map<std::string, const Backup*> newest_unfailed;
        for (const auto& b : backups) {
            auto& n = newest_unfailed[b.half];
            if (b.ok && b.time <= now && b.verified != Verification::failed &&
                (!n || b.time > n->time || (b.time == n->time && b.key > n->key)))
                n = &b;
        }
        for (const auto& [half, b] : newest_unfailed)
            if (b) CHECK(kept.count(b->key) == 1);
        for (const auto& b : backups)
            if (b.time > now) CHECK(kept.count(b.key) == 1);

        // Planning the kept set again drops nothing.
        std::vector<Backup> again;
        for (const auto& b : backups)
            if (kept.count(b.key)) again.push_back(b);
        const Plan p2 = plan(again, now, pol);
        CHECK(p2.dropped() == 0);

        // Adding an older backup never drops a newer kept one (count mode with restic 0.16's
        // "keep the oldest" rule excepted for the previous oldest, which is by design).
        std::uniform_int_distribution<long> older(1, 86400L * 30);
        Backup extra = backups[rng() % backups.size()];
        TimePoint oldest_time = extra.time;
        for (const auto& b : backups)
            if (b.half == extra.half) oldest_time = std::min(oldest_time, b.time);
        extra.time = oldest_time - seconds{older(rng)};
        extra.key = "extra/" + format_timestamp(extra.time);
        extra.ok = true;
        extra.verified = rng() % 2 ? Verification::failed : Verification::unknown;
        auto more = backups;
        more.push_back(extra);
        const Plan p3 = plan(more, now, pol);
        const auto kept3 = kept_keys(p3);
        const bool oldest_rule =
            pol.mode == Policy::Mode::count && pol.count.keep_oldest_if_unfilled;
        for (const auto& d : p.decisions) {
            const Backup b = p.backup(d).to_backup();
            if (!d.keep || b.half != extra.half || b.time <= extra.time) continue;
            if (oldest_rule && d.reasons == std::vector<Reason>{Reason::oldest}) continue;
            // A backup that failed verification gives its bucket to an older one that did not.
            if (b.verified == Verification::failed && extra.verified != Verification::failed)
                continue;
            CHECK_MESSAGE(kept3.count(b.key) == 1, b.key);
        }
    }
}
