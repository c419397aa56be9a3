// The retention planner (see include/dolibak/retention.hpp and docs/retention.md).
#include <dolibak/error.hpp>
#include <dolibak/retention.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>

namespace dolibak::retention {

using namespace std::chrono;

namespace {

constexpr seconds one_day{86400};

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

std::string two(unsigned v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02u", v);
    return buf;
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

struct Bucket {
    std::int64_t id;
    std::string label;
};

Bucket bucket_of(Rule r, TimePoint local, std::size_t nr) {
    const Civil c = civil(local);
    const std::string ymd = std::to_string(c.y) + "-" + two(c.m) + "-" + two(c.d);
    switch (r) {
        case Rule::last:
            return {static_cast<std::int64_t>(nr), "#" + std::to_string(nr + 1) + " newest"};
        case Rule::hourly:
            return {((std::int64_t{c.y} * 100 + c.m) * 100 + c.d) * 100 + c.h,
                    "hour " + ymd + "T" + two(static_cast<unsigned>(c.h))};
        case Rule::daily:
            return {(std::int64_t{c.y} * 100 + c.m) * 100 + c.d, "day " + ymd};
        case Rule::weekly: {
            const auto w = iso_week(local);
            return {std::int64_t{w.year} * 100 + w.week,
                    "week " + std::to_string(w.year) + "-W" + two(static_cast<unsigned>(w.week))};
        }
        case Rule::monthly:
            return {std::int64_t{c.y} * 100 + c.m, "month " + std::to_string(c.y) + "-" + two(c.m)};
        case Rule::yearly:
            return {std::int64_t{c.y}, "year " + std::to_string(c.y)};
    }
    return {0, ""};
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

void add_detail(Decision& d, const std::string& text) {
    if (!d.detail.empty()) d.detail += "; ";
    d.detail += text;
}

void add_reason(Decision& d, Reason r, const std::string& text) {
    d.keep = true;
    if (std::find(d.reasons.begin(), d.reasons.end(), r) == d.reasons.end()) d.reasons.push_back(r);
    if (!text.empty()) add_detail(d, text);
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
    std::set<std::string_view> keys;
    for (const auto& b : backups) {
        if (b.key.empty()) throw ConfigError("a backup has an empty key");
        if (b.half.empty()) throw ConfigError("backup '" + b.key + "' has no half");
        if (!keys.insert(b.key).second)
            throw ConfigError("backup key '" + b.key + "' is listed twice");
    }
}

// Plans one half; `items` sorted newest first.
void plan_half(std::vector<Decision>& items, TimePoint now, const Policy& policy,
               const std::set<std::string>& protected_keys) {
    const TimeZone& zone = policy.zone;
    // Eligible: successful and not dated after `now`; only these take slots.
    std::vector<std::size_t> eligible;
    for (std::size_t i = 0; i < items.size(); ++i)
        if (items[i].backup.ok && items[i].backup.time <= now) eligible.push_back(i);
    // No successful backup: every failed one is kept as evidence (the minimum time point
    // compares older than everything).
    const TimePoint newest_success =
        eligible.empty() ? TimePoint::min() : items[eligible.front()].backup.time;

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
    if (!eligible.empty())
        add_reason(items[eligible.front()], Reason::newest_success, "newest successful backup");
    for (auto& d : items)
        if (protected_keys.count(d.backup.key)) add_reason(d, Reason::protected_key, "protected");

    if (policy.mode == Policy::Mode::tiered) {
        const auto& t = policy.tiered;
        const TimePoint local_now = zone.to_local(now);
        const seconds daily_window = one_day * t.daily_days;
        const std::optional<TimePoint> month_start =
            t.monthly_months > 0 ? std::optional{minus_months(local_now, t.monthly_months)}
                                 : std::nullopt;
        const std::optional<TimePoint> year_start =
            t.yearly_years > 0 ? std::optional{minus_months(local_now, 12 * t.yearly_years)}
                               : std::nullopt;
        std::map<std::int64_t, std::size_t> month_taken, year_taken;  // bucket -> item
        for (const std::size_t i : eligible) {
            auto& d = items[i];
            const seconds age = now - d.backup.time;
            const TimePoint local = zone.to_local(d.backup.time);
            if (t.daily_days > 0 && age <= daily_window) {
                add_reason(
                    d, Reason::daily,
                    "within " + std::to_string(t.daily_days) + " days (age " + age_text(age) + ")");
                continue;
            }
            if (month_start && local >= *month_start) {
                const auto b = bucket_of(Rule::monthly, local, 0);
                const auto [it, fresh] = month_taken.emplace(b.id, i);
                if (fresh)
                    add_reason(d, Reason::monthly, "newest of " + b.label);
                else if (!d.keep)
                    add_detail(d, "not the newest of " + b.label +
                                      " (kept: " + items[it->second].backup.key + ")");
                continue;
            }
            if (year_start && local >= *year_start) {
                const auto b = bucket_of(Rule::yearly, local, 0);
                const auto [it, fresh] = year_taken.emplace(b.id, i);
                if (fresh)
                    add_reason(d, Reason::yearly, "newest of " + b.label);
                else if (!d.keep)
                    add_detail(d, "not the newest of " + b.label +
                                      " (kept: " + items[it->second].backup.key + ")");
                continue;
            }
            if (!d.keep) {
                if (year_start)
                    add_detail(d, "older than the yearly window (" +
                                      std::to_string(t.yearly_years) + " years)");
                else if (month_start)
                    add_detail(d, "older than the monthly window (" +
                                      std::to_string(t.monthly_months) + " months)");
                else
                    add_detail(d, "older than the daily window (" + std::to_string(t.daily_days) +
                                      " days)");
            }
        }
    } else {
        const auto& c = policy.count;
        if (c.empty()) {
            for (const std::size_t i : eligible)
                add_reason(items[i], Reason::empty_policy, "no rule given: everything is kept");
        } else {
            struct State {
                Rule rule;
                int left;
                std::int64_t last = std::numeric_limits<std::int64_t>::min();
            };
            std::vector<State> rules;
            const std::pair<Rule, int> all[] = {
                {Rule::last, c.last},     {Rule::hourly, c.hourly},   {Rule::daily, c.daily},
                {Rule::weekly, c.weekly}, {Rule::monthly, c.monthly}, {Rule::yearly, c.yearly}};
            for (const auto& [rule, n] : all)
                if (n != 0) rules.push_back({rule, n});
            for (std::size_t nr = 0; nr < eligible.size(); ++nr) {
                auto& d = items[eligible[nr]];
                const TimePoint local = zone.to_local(d.backup.time);
                const bool oldest = nr + 1 == eligible.size();
                for (auto& s : rules) {
                    if (s.left == 0) continue;
                    const auto b = bucket_of(s.rule, local, nr);
                    const bool new_bucket = b.id != s.last;
                    if (!new_bucket && !(oldest && c.keep_oldest_if_unfilled)) continue;
                    s.last = b.id;
                    if (s.left > 0) --s.left;
                    if (new_bucket)
                        add_reason(d, reason_of(s.rule),
                                   s.rule == Rule::last
                                       ? "one of the " + std::to_string(c.last) + " newest"
                                       : "newest of " + b.label);
                    else
                        add_reason(d, Reason::oldest,
                                   "oldest backup, kept while the " +
                                       std::string(to_string(reason_of(s.rule))) +
                                       " rule has slots left");
                }
                if (!d.keep) {
                    // Explain: its buckets were taken by newer backups or the rules ran out.
                    add_detail(d,
                               "no slot: its buckets are taken by newer backups, or the "
                               "counts are used up");
                }
            }
        }
    }
}

}  // namespace

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
    for (const auto& d : p.decisions) any_kept[d.backup.half] |= d.keep;
    for (const auto& [half, kept] : any_kept)
        if (!kept)
            throw Error("retention plan refused: it would drop every backup of half '" + half +
                        "'");
}

Plan plan(const std::vector<Backup>& backups, TimePoint now, const Policy& policy,
          const std::set<std::string>& protected_keys) {
    validate(backups, policy);
    std::map<std::string, std::vector<Decision>> halves;
    for (const auto& b : backups) halves[b.half].push_back(Decision{b, false, {}, {}});
    Plan p;
    for (auto& [half, items] : halves) {
        std::sort(items.begin(), items.end(), [](const Decision& a, const Decision& b) {
            return a.backup.time != b.backup.time ? a.backup.time > b.backup.time
                                                  : a.backup.key > b.backup.key;
        });
        plan_half(items, now, policy, protected_keys);
        for (auto& d : items) p.decisions.push_back(std::move(d));
    }
    check_keeps_every_half(p);
    return p;
}

std::vector<Backup> backups_from_lines(std::string_view text, std::string_view default_half,
                                       std::size_t* manifests_skipped) {
    std::vector<Backup> out;
    std::size_t line_no = 0;
    if (manifests_skipped) *manifests_skipped = 0;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++line_no;
        auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
        std::vector<std::string_view> fields;
        std::size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && is_space(line[i])) ++i;
            const auto start = i;
            while (i < line.size() && !is_space(line[i])) ++i;
            if (i > start) fields.push_back(line.substr(start, i - start));
        }
        if (fields.empty() || fields[0].front() == '#') continue;
        auto bad = [&](const std::string& why) {
            return ConfigError("backup list line " + std::to_string(line_no) + " ('" +
                               std::string(line) + "'): " + why);
        };
        if (fields.size() > 2) throw bad("expected a key or time stamp, then optionally ok|failed");
        bool ok = true;
        if (fields.size() == 2) {
            if (fields[1] == "failed")
                ok = false;
            else if (fields[1] != "ok")
                throw bad("the second field must be 'ok' or 'failed'");
        }
        if (const auto k = parse_store_key(fields[0])) {
            if (!is_backup_object(k->kind)) {
                if (manifests_skipped) ++*manifests_skipped;
                continue;
            }
            out.push_back({std::string(fields[0]), k->time, k->half, ok});
            continue;
        }
        if (const auto t = try_parse_timestamp(fields[0])) {
            out.push_back({std::string(fields[0]), *t, std::string(default_half), ok});
            continue;
        }
        if (fields[0].size() == 16) {
            try {
                parse_timestamp(fields[0]);
            } catch (const ConfigError& e) {
                throw bad(e.what());
            }
        }
        throw bad(
            "not a time stamp (YYYYMMDDTHHMMSSZ) nor a backup key "
            "(<prefix>/db/<ts>.dump[.zst], <prefix>/docs/<ts>.tar.gz|.tar.zst)");
    }
    return out;
}

std::string describe(const Policy& policy) {
    std::string s;
    if (policy.mode == Policy::Mode::tiered) {
        const auto& t = policy.tiered;
        s = "tiered: every backup of the last " + std::to_string(t.daily_days) +
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

std::string to_json(const Plan& p, TimePoint now, const Policy& policy) {
    using nlohmann::json;
    json j;
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
        json reasons = json::array();
        for (const auto r : d.reasons) reasons.push_back(std::string(to_string(r)));
        list.push_back({{"key", d.backup.key},
                        {"time", format_rfc3339(d.backup.time)},
                        {"half", d.backup.half},
                        {"ok", d.backup.ok},
                        {"keep", d.keep},
                        {"reasons", reasons},
                        {"detail", d.detail}});
    }
    j["decisions"] = list;
    return j.dump(2);
}

}  // namespace dolibak::retention
