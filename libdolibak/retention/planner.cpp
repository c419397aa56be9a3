// The retention planner (see include/dolibak/retention/planner.hpp and docs/retention.md).
#include <dolibak/core/error.hpp>
#include <dolibak/core/json_text.hpp>
#include <dolibak/retention/planner.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <span>
#include <unordered_set>

namespace dolibak::retention {

using namespace std::chrono;

namespace {

constexpr seconds one_day{86400};

// The live WorkCounter's count, if any (see planner.hpp).
thread_local std::uint64_t* t_steps = nullptr;

void step(std::uint64_t n = 1) noexcept {
    if (t_steps) *t_steps += n;
}

// std::less for the bucket maps, counting its comparisons.
struct CountingLess {
    bool operator()(std::int64_t a, std::int64_t b) const noexcept {
        step();
        return a < b;
    }
};

// Calendar fields of a local wall time (expressed as a UTC-like time point).
struct Civil {
    int y;
    unsigned m, d;
    long h;
};

Civil civil(TimePoint local) {
    const auto dp = floor<days>(local);
    const year_month_day ymd{dp};
    return {static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
            static_cast<unsigned>(ymd.day()),
            static_cast<long>(duration_cast<hours>(local - dp).count())};
}

struct IsoWeek {
    int year;
    int week;
};

// ISO 8601 week: weeks start on Monday; week 1 holds the year's first Thursday.
IsoWeek iso_week(TimePoint local) {
    const sys_days dp = floor<days>(local);
    const unsigned iso_wd = weekday{dp}.iso_encoding();  // Monday 1 .. Sunday 7
    const sys_days thursday = dp + days{4 - static_cast<int>(iso_wd)};
    const year y = year_month_day{thursday}.year();
    const sys_days jan1{y / January / 1};
    return {static_cast<int>(y), static_cast<int>((thursday - jan1).count() / 7 + 1)};
}

// Two digits (v < 100); called for every label, so no snprintf.
std::string two(unsigned v) {
    return {static_cast<char>('0' + v / 10 % 10), static_cast<char>('0' + v % 10)};
}

// `local` minus `n` calendar months, the day clamped to the target month's length.
TimePoint minus_months(TimePoint local, int n) {
    const auto dp = floor<days>(local);
    const auto tod = local - dp;
    const year_month_day ymd{dp};
    const year_month ym = year_month{ymd.year(), ymd.month()} - months{n};
    const day last = year_month_day_last{ym.year(), month_day_last{ym.month()}}.day();
    const day d = std::min(ymd.day(), last);
    return TimePoint{sys_days{ym / d}} + tod;
}

std::string age_text(seconds age) {
    const auto d = age.count() / 86400;
    const auto h = age.count() % 86400 / 3600;
    return std::to_string(d) + "d " + std::to_string(h) + "h";
}

enum class Rule { last, hourly, daily, weekly, monthly, yearly };

// The bucket of a local time for a calendar rule (not `last`), as a number that orders like
// the buckets; its label is made only when a detail needs it.
std::int64_t bucket_id(Rule r, TimePoint local) {
    const Civil c = civil(local);
    switch (r) {
        case Rule::hourly:
            return ((std::int64_t{c.y} * 100 + c.m) * 100 + c.d) * 100 + c.h;
        case Rule::daily:
            return (std::int64_t{c.y} * 100 + c.m) * 100 + c.d;
        case Rule::weekly: {
            const auto w = iso_week(local);
            return std::int64_t{w.year} * 100 + w.week;
        }
        case Rule::monthly:
            return std::int64_t{c.y} * 100 + c.m;
        case Rule::yearly:
            return std::int64_t{c.y};
        case Rule::last:
            break;
    }
    return 0;
}

std::string bucket_label(Rule r, TimePoint local) {
    const Civil c = civil(local);
    const auto ymd = [&] { return std::to_string(c.y) + "-" + two(c.m) + "-" + two(c.d); };
    switch (r) {
        case Rule::hourly:
            return "hour " + ymd() + "T" + two(static_cast<unsigned>(c.h));
        case Rule::daily:
            return "day " + ymd();
        case Rule::weekly: {
            const auto w = iso_week(local);
            return "week " + std::to_string(w.year) + "-W" + two(static_cast<unsigned>(w.week));
        }
        case Rule::monthly:
            return "month " + std::to_string(c.y) + "-" + two(c.m);
        case Rule::yearly:
            return "year " + std::to_string(c.y);
        case Rule::last:
            break;
    }
    return "";
}

Reason reason_of(Rule r) {
    switch (r) {
        case Rule::last:
            return Reason::last;
        case Rule::hourly:
            return Reason::hourly;
        case Rule::daily:
            return Reason::day;
        case Rule::weekly:
            return Reason::week;
        case Rule::monthly:
            return Reason::month;
        case Rule::yearly:
            return Reason::year;
    }
    return Reason::last;
}

// The first detail is moved in (most backups have one): no copy, no second allocation.
void add_detail(Decision& d, std::string text) {
    if (d.detail.empty()) {
        d.detail = std::move(text);
        return;
    }
    d.detail += "; ";
    d.detail += text;
}

void add_reason(Decision& d, Reason r, std::string text) {
    d.keep = true;
    if (std::find(d.reasons.begin(), d.reasons.end(), r) == d.reasons.end()) d.reasons.push_back(r);
    if (!text.empty()) add_detail(d, std::move(text));
}

bool verification_failed(const Decision& d) {
    return d.backup.verified == Verification::failed;
}

// The backup standing for a bucket, among its members (newest first): the newest whose
// verification did not fail, else the newest.
struct Standing {
    std::size_t first = 0;  ///< the newest member
    std::size_t item = 0;   ///< the one standing for the bucket
    bool good = false;      ///< `item` did not fail verification
    void offer(std::size_t i, bool failed) {
        if (!good && !failed) {
            item = i;
            good = true;
        }
    }
    static Standing start(std::size_t i, bool failed) { return {i, i, !failed}; }
};

// The detail of the backup standing for a bucket.
std::string standing_text(const std::string& label, const Standing& s) {
    if (!s.good) return "newest of " + label + " (verification failed, as for every backup of it)";
    if (s.item != s.first) return "newest of " + label + " whose verification did not fail";
    return "newest of " + label;
}

// Why a member of a bucket does not stand for it.
std::string not_standing_text(const Decision& d, const std::string& label, const Decision& rep) {
    if (verification_failed(d) && !verification_failed(rep))
        return "verification failed; " + label + " kept by " + rep.backup.key;
    return "not the newest of " + label + " (kept: " + rep.backup.key + ")";
}

void validate(const std::vector<Backup>& backups, const Policy& policy) {
    const auto& t = policy.tiered;
    if (t.daily_days < 0 || t.monthly_months < 0 || t.yearly_years < 0)
        throw ConfigError("retention windows must be 0 (off) or positive");
    if (t.daily_days > 100000 || t.monthly_months > 12000 || t.yearly_years > 1000)
        throw ConfigError("retention window too large");
    const auto& c = policy.count;
    for (int v : {c.last, c.hourly, c.daily, c.weekly, c.monthly, c.yearly})
        if (v < CountPolicy::unlimited)
            throw ConfigError("retention counts must be 0 (off), positive, or unlimited");
    std::unordered_set<std::string_view> keys;
    keys.reserve(backups.size());
    for (const auto& b : backups) {
        step();
        if (b.key.empty()) throw ConfigError("a backup has an empty key");
        if (b.half.empty()) throw ConfigError("backup '" + b.key + "' has no half");
        if (!keys.insert(b.key).second)
            throw ConfigError("backup key '" + b.key + "' is listed twice");
    }
}

// Tiered mode over the eligible backups (newest first). Each backup is examined by the first
// window it falls in; each window's buckets (day, month, year) keep their standing backup.
void plan_tiered(std::span<Decision> items, const std::vector<std::size_t>& eligible, TimePoint now,
                 const Policy& policy) {
    const auto& t = policy.tiered;
    const TimeZone& zone = policy.zone;
    const TimePoint local_now = zone.to_local(now);
    const seconds daily_window = one_day * t.daily_days;
    // Window starts; a tier that is off has none.
    const bool monthly_on = t.monthly_months > 0, yearly_on = t.yearly_years > 0;
    const TimePoint month_start =
        monthly_on ? minus_months(local_now, t.monthly_months) : TimePoint::max();
    const TimePoint year_start =
        yearly_on ? minus_months(local_now, 12 * t.yearly_years) : TimePoint::max();
    struct Tier {
        Rule rule;
        Reason reason;
        std::map<std::int64_t, Standing, CountingLess> buckets;
    };
    Tier tiers[3] = {{Rule::daily, Reason::daily, {}},
                     {Rule::monthly, Reason::monthly, {}},
                     {Rule::yearly, Reason::yearly, {}}};
    struct Place {
        int tier;  // -1: older than every window
        std::int64_t bucket;
        TimePoint local;
    };
    std::vector<Place> places(eligible.size());
    for (std::size_t n = 0; n < eligible.size(); ++n) {
        step();
        const std::size_t i = eligible[n];
        const auto& d = items[i];
        const TimePoint local = zone.to_local(d.backup.time);
        int tier = -1;
        if (t.daily_days > 0 && now - d.backup.time <= daily_window)
            tier = 0;
        else if (monthly_on && local >= month_start)
            tier = 1;
        else if (yearly_on && local >= year_start)
            tier = 2;
        places[n] = {tier, 0, local};
        if (tier < 0) continue;
        auto& tr = tiers[tier];
        places[n].bucket = bucket_id(tr.rule, local);
        const bool failed = verification_failed(d);
        const auto [it, fresh] =
            tr.buckets.try_emplace(places[n].bucket, Standing::start(i, failed));
        if (!fresh) it->second.offer(i, failed);
    }
    for (std::size_t n = 0; n < eligible.size(); ++n) {
        step();
        auto& d = items[eligible[n]];
        const Place& pl = places[n];
        if (pl.tier < 0) {
            if (d.keep) continue;
            if (yearly_on)
                add_detail(d, "older than the yearly window (" + std::to_string(t.yearly_years) +
                                  " years)");
            else if (monthly_on)
                add_detail(d, "older than the monthly window (" + std::to_string(t.monthly_months) +
                                  " months)");
            else
                add_detail(
                    d, "older than the daily window (" + std::to_string(t.daily_days) + " days)");
            continue;
        }
        const auto& tr = tiers[pl.tier];
        const Standing& s = tr.buckets.at(pl.bucket);
        const std::string label = bucket_label(tr.rule, pl.local);
        if (s.item == eligible[n]) {
            std::string text = standing_text(label, s);
            if (pl.tier == 0)
                text += ", within " + std::to_string(t.daily_days) + " days (age " +
                        age_text(now - d.backup.time) + ")";
            add_reason(d, tr.reason, std::move(text));
        } else if (!d.keep) {
            add_detail(d, not_standing_text(d, label, items[s.item]));
        }
    }
}

// Count mode (restic's forget) over the eligible backups (newest first).
void plan_count(std::span<Decision> items, const std::vector<std::size_t>& eligible,
                const Policy& policy) {
    const auto& c = policy.count;
    if (c.empty()) {
        for (const std::size_t i : eligible)
            add_reason(items[i], Reason::empty_policy, "no rule given: everything is kept");
        return;
    }
    if (eligible.empty()) return;
    const TimeZone& zone = policy.zone;
    std::vector<TimePoint> local(eligible.size());
    for (std::size_t n = 0; n < eligible.size(); ++n) {
        step();
        local[n] = zone.to_local(items[eligible[n]].backup.time);
    }
    // For a dropped backup whose verification failed: a bucket another backup stands for.
    std::vector<std::string> lost(eligible.size());
    const std::size_t oldest = eligible.back();

    // `last`: every backup is its own bucket; the slots go to the newest backups whose
    // verification did not fail, then (if slots remain) to those whose verification failed.
    if (c.last != 0) {
        std::vector<std::size_t> order;
        order.reserve(eligible.size());
        for (const bool failed : {false, true})
            for (const std::size_t i : eligible) {
                step();
                if (verification_failed(items[i]) == failed) order.push_back(i);
            }
        const std::size_t n = c.last == CountPolicy::unlimited
                                  ? order.size()
                                  : std::min(order.size(), static_cast<std::size_t>(c.last));
        const std::string text = c.last == CountPolicy::unlimited
                                     ? std::string("kept by the unlimited last rule (every backup)")
                                     : "one of the " + std::to_string(c.last) + " newest";
        step(n);
        for (std::size_t k = 0; k < n; ++k)
            add_reason(items[order[k]], Reason::last,
                       verification_failed(items[order[k]])
                           ? text + " (verification failed, too few others)"
                           : text);
    }

    const std::pair<Rule, int> rules[] = {{Rule::hourly, c.hourly},
                                          {Rule::daily, c.daily},
                                          {Rule::weekly, c.weekly},
                                          {Rule::monthly, c.monthly},
                                          {Rule::yearly, c.yearly}};
    for (const auto& [rule, count] : rules) {
        if (count == 0) continue;
        int left = count;
        // Walking from the newest, restic keeps a backup when its bucket differs from the
        // previous kept one's: the first of each run of consecutive backups sharing a bucket,
        // for the first `count` runs. Here the run's standing backup takes its place.
        std::size_t n = 0;
        while (n < eligible.size() && left != 0) {
            step();
            const std::int64_t id = bucket_id(rule, local[n]);
            std::size_t end = n + 1;
            Standing s = Standing::start(eligible[n], verification_failed(items[eligible[n]]));
            while (end < eligible.size() && bucket_id(rule, local[end]) == id) {
                step();
                s.offer(eligible[end], verification_failed(items[eligible[end]]));
                ++end;
            }
            const std::string label = bucket_label(rule, local[n]);
            if (left > 0) --left;
            add_reason(items[s.item], reason_of(rule), standing_text(label, s));
            step(end - n);
            for (std::size_t m = n; m < end; ++m)
                if (eligible[m] != s.item && lost[m].empty() &&
                    verification_failed(items[eligible[m]]))
                    lost[m] = not_standing_text(items[eligible[m]], label, items[s.item]);
            // restic >= 0.16.0: the oldest backup is kept too while the rule has slots left.
            if (end == eligible.size() && left != 0 && c.keep_oldest_if_unfilled &&
                s.item != oldest) {
                if (left > 0) --left;
                add_reason(items[oldest], Reason::oldest,
                           "oldest backup, kept while the " +
                               std::string(to_string(reason_of(rule))) + " rule has slots left");
            }
            n = end;
        }
    }
    for (std::size_t n = 0; n < eligible.size(); ++n) {
        step();
        auto& d = items[eligible[n]];
        if (d.keep) continue;
        add_detail(d, !lost[n].empty() ? lost[n]
                                       : "no slot: its buckets are taken by newer backups, or "
                                         "the counts are used up");
    }
}

// Plans one half; `items` sorted newest first.
void plan_half(std::span<Decision> items, TimePoint now, const Policy& policy,
               const std::set<std::string>& protected_keys) {
    // Eligible: successful and not dated after `now`; only these take slots.
    std::vector<std::size_t> eligible;
    eligible.reserve(items.size());
    step(items.size());
    for (std::size_t i = 0; i < items.size(); ++i)
        if (items[i].backup.ok && items[i].backup.time <= now) eligible.push_back(i);
    // No successful backup: every failed one is kept as evidence (the minimum time point
    // compares older than everything).
    const TimePoint newest_success =
        eligible.empty() ? TimePoint::min() : items[eligible.front()].backup.time;

    step(items.size());
    for (auto& d : items) {
        if (d.backup.time > now) {
            add_reason(d, Reason::future,
                       "dated after now (" + format_rfc3339(now) + "): never dropped");
        } else if (!d.backup.ok) {
            if (d.backup.time >= newest_success)
                add_reason(d, Reason::failed_recent,
                           "failed, not older than the newest successful backup");
            else
                add_detail(d, "failed, older than the newest successful backup (" +
                                  format_rfc3339(newest_success) + ")");
        }
    }
    if (!eligible.empty()) {
        auto& newest = items[eligible.front()];
        if (!verification_failed(newest)) {
            add_reason(newest, Reason::newest_success, "newest successful backup");
        } else {
            add_reason(newest, Reason::newest_success,
                       "newest successful backup (its verification failed)");
            const auto good = std::find_if(eligible.begin(), eligible.end(), [&](std::size_t i) {
                return !verification_failed(items[i]);
            });
            if (good != eligible.end())
                add_reason(items[*good], Reason::newest_success,
                           "newest successful backup whose verification did not fail");
        }
    }
    if (!protected_keys.empty()) {
        std::uint64_t depth = 0;  // comparisons of one lookup in a balanced tree
        while ((std::uint64_t{1} << depth) <= protected_keys.size()) ++depth;
        step(depth * items.size());
        for (auto& d : items)
            if (protected_keys.count(d.backup.key))
                add_reason(d, Reason::protected_key, "protected");
    }

    if (policy.mode == Policy::Mode::tiered)
        plan_tiered(items, eligible, now, policy);
    else
        plan_count(items, eligible, policy);
}

}  // namespace

std::string_view to_string(Verification v) noexcept {
    switch (v) {
        case Verification::unknown:
            return "unknown";
        case Verification::good:
            return "good";
        case Verification::failed:
            return "failed";
    }
    return "?";
}

std::string_view to_string(Reason r) noexcept {
    switch (r) {
        case Reason::daily:
            return "daily";
        case Reason::monthly:
            return "monthly";
        case Reason::yearly:
            return "yearly";
        case Reason::last:
            return "last";
        case Reason::hourly:
            return "hourly";
        case Reason::day:
            return "day";
        case Reason::week:
            return "week";
        case Reason::month:
            return "month";
        case Reason::year:
            return "year";
        case Reason::oldest:
            return "oldest";
        case Reason::empty_policy:
            return "empty-policy";
        case Reason::newest_success:
            return "newest-success";
        case Reason::protected_key:
            return "protected";
        case Reason::future:
            return "future";
        case Reason::failed_recent:
            return "failed-recent";
    }
    return "?";
}

std::size_t Plan::kept() const noexcept {
    return static_cast<std::size_t>(std::count_if(decisions.begin(), decisions.end(),
                                                  [](const Decision& d) { return d.keep; }));
}

std::size_t Plan::dropped() const noexcept {
    return decisions.size() - kept();
}

std::size_t Plan::count(Reason r) const noexcept {
    return static_cast<std::size_t>(
        std::count_if(decisions.begin(), decisions.end(), [&](const Decision& d) {
            return d.keep && std::find(d.reasons.begin(), d.reasons.end(), r) != d.reasons.end();
        }));
}

std::vector<std::string> Plan::drop_keys() const {
    std::vector<const Decision*> drops;
    for (const auto& d : decisions)
        if (!d.keep) drops.push_back(&d);
    std::sort(drops.begin(), drops.end(), [](const Decision* a, const Decision* b) {
        return a->backup.time != b->backup.time ? a->backup.time < b->backup.time
                                                : a->backup.key < b->backup.key;
    });
    std::vector<std::string> keys;
    keys.reserve(drops.size());
    for (const auto* d : drops) keys.push_back(d->backup.key);
    return keys;
}

void check_keeps_every_half(const Plan& p) {
    std::map<std::string, bool> any_kept;
    const Decision* prev = nullptr;  // a plan's decisions come grouped by half: look up runs
    bool* half_kept = nullptr;
    step(p.decisions.size());
    for (const auto& d : p.decisions) {
        if (!prev || d.backup.half != prev->backup.half) half_kept = &any_kept[d.backup.half];
        *half_kept |= d.keep;
        prev = &d;
    }
    for (const auto& [half, kept] : any_kept)
        if (!kept)
            throw Error("retention plan refused: it would drop every backup of half '" + half +
                        "'");
}

Plan plan(std::vector<Backup> backups, TimePoint now, const Policy& policy,
          const std::set<std::string>& protected_keys) {
    validate(backups, policy);
    // By half, then newest first: sort pointers, move each backup once.
    std::vector<Backup*> order(backups.size());
    for (std::size_t i = 0; i < backups.size(); ++i) order[i] = &backups[i];
    std::sort(order.begin(), order.end(), [](const Backup* a, const Backup* b) {
        step();
        if (a->half != b->half) return a->half < b->half;
        return a->time != b->time ? a->time > b->time : a->key > b->key;
    });
    Plan p;
    p.decisions.reserve(order.size());
    step(order.size());
    for (Backup* b : order) p.decisions.push_back(Decision{std::move(*b), false, {}, {}});
    std::vector<Backup>{}.swap(backups);
    for (std::size_t start = 0; start < p.decisions.size();) {
        std::size_t end = start + 1;
        while (end < p.decisions.size() &&
               p.decisions[end].backup.half == p.decisions[start].backup.half)
            ++end;
        step(end - start);
        plan_half(std::span<Decision>(p.decisions).subspan(start, end - start), now, policy,
                  protected_keys);
        start = end;
    }
    check_keeps_every_half(p);
    return p;
}

WorkCounter::WorkCounter() noexcept : previous_(t_steps) {
    t_steps = &steps_;
}

WorkCounter::~WorkCounter() {
    t_steps = previous_;
}

std::string describe(const Policy& policy) {
    std::string s;
    if (policy.mode == Policy::Mode::tiered) {
        const auto& t = policy.tiered;
        s = "tiered: the newest per day for " + std::to_string(t.daily_days) +
            " days, the newest per month for " + std::to_string(t.monthly_months) +
            " months, the newest per year for " + std::to_string(t.yearly_years) + " years";
    } else {
        const auto& c = policy.count;
        auto part = [&](const char* what, int n) {
            if (n == 0) return;
            if (!s.empty()) s += ", ";
            s +=
                (n == CountPolicy::unlimited ? std::string("all") : std::to_string(n)) + " " + what;
        };
        part("last", c.last);
        part("hourly", c.hourly);
        part("daily", c.daily);
        part("weekly", c.weekly);
        part("monthly", c.monthly);
        part("yearly", c.yearly);
        s = "count: " + (s.empty() ? std::string("no rule (keep everything)") : s);
    }
    return s + " (buckets in " + policy.zone.name() + ")";
}

void write_json(const Plan& p, TimePoint now, const Policy& policy,
                const std::function<void(std::string_view)>& out) {
    // The text nlohmann::json's dump(2) made of the same document (keys sorted, two-space
    // indent), written piece by piece: nothing but a 64 KiB buffer is held.
    constexpr std::size_t flush_at = 64 * 1024;
    std::string buf;
    buf.reserve(flush_at + 4096);
    const auto flush = [&] {
        out(buf);
        buf.clear();
    };
    const auto field = [&](std::string_view indent, std::string_view name) {
        buf += indent;
        buf += '"';
        buf += name;
        buf += "\": ";
    };
    const auto number = [&](std::size_t n) { buf += std::to_string(n); };
    const auto text = [&](std::string_view v) { append_json_string(buf, v); };

    // counts: {reason: n} in the names' order.
    std::size_t by_reason[static_cast<int>(Reason::failed_recent) + 1] = {};
    std::size_t kept = 0;
    for (const auto& d : p.decisions) {
        kept += d.keep;
        for (const auto r : d.reasons) ++by_reason[static_cast<int>(r)];
    }
    std::vector<std::pair<std::string_view, std::size_t>> counts;
    for (int r = 0; r <= static_cast<int>(Reason::failed_recent); ++r)
        if (by_reason[r]) counts.emplace_back(to_string(static_cast<Reason>(r)), by_reason[r]);
    std::sort(counts.begin(), counts.end());

    buf += "{\n";
    field("  ", "counts");
    if (counts.empty()) {
        buf += "{},\n";
    } else {
        buf += "{\n";
        for (std::size_t k = 0; k < counts.size(); ++k) {
            field("    ", counts[k].first);
            number(counts[k].second);
            buf += k + 1 < counts.size() ? ",\n" : "\n";
        }
        buf += "  },\n";
    }
    field("  ", "decisions");
    if (p.decisions.empty()) {
        buf += "[],\n";
    } else {
        buf += "[\n";
        for (std::size_t n = 0; n < p.decisions.size(); ++n) {
            const auto& d = p.decisions[n];
            buf += "    {\n";
            field("      ", "detail");
            text(d.detail);
            buf += ",\n";
            field("      ", "half");
            text(d.backup.half);
            buf += ",\n";
            field("      ", "keep");
            buf += d.keep ? "true,\n" : "false,\n";
            field("      ", "key");
            text(d.backup.key);
            buf += ",\n";
            field("      ", "ok");
            buf += d.backup.ok ? "true,\n" : "false,\n";
            field("      ", "reasons");
            if (d.reasons.empty()) {
                buf += "[],\n";
            } else {
                buf += "[\n";
                for (std::size_t k = 0; k < d.reasons.size(); ++k) {
                    buf += "        \"";
                    buf += to_string(d.reasons[k]);
                    buf += k + 1 < d.reasons.size() ? "\",\n" : "\"\n";
                }
                buf += "      ],\n";
            }
            field("      ", "time");
            text(format_rfc3339(d.backup.time));
            buf += ",\n";
            field("      ", "verified");
            buf += '"';
            buf += to_string(d.backup.verified);
            buf += "\"\n";
            buf += n + 1 < p.decisions.size() ? "    },\n" : "    }\n";
            if (buf.size() >= flush_at) flush();
        }
        buf += "  ],\n";
    }
    field("  ", "dropped");
    number(p.decisions.size() - kept);
    buf += ",\n";
    field("  ", "kept");
    number(kept);
    buf += ",\n";
    field("  ", "mode");
    buf += policy.mode == Policy::Mode::tiered ? "\"tiered\",\n" : "\"count\",\n";
    field("  ", "now");
    text(format_rfc3339(now));
    buf += ",\n";
    field("  ", "policy");
    text(describe(policy));
    buf += ",\n";
    field("  ", "schema");
    buf += "\"dolibak.plan/1\",\n";  // docs/json.md
    field("  ", "time_zone");
    text(policy.zone.name());
    buf += "\n}";
    flush();
}

std::string to_json(const Plan& p, TimePoint now, const Policy& policy) {
    std::string s;
    write_json(p, now, policy, [&](std::string_view piece) { s += piece; });
    return s;
}

}  // namespace dolibak::retention
