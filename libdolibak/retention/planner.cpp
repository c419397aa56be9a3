// The retention planner (see include/dolibak/retention/planner.hpp and docs/retention.md).
#include <dolibak/core/error.hpp>
#include <dolibak/core/json_text.hpp>
#include <dolibak/retention/planner.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <span>
#include <unordered_set>
#include <utility>

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

// Text written at a cursor into a buffer sized beforehand (Plan::detail_size_bound): a
// literal is copied with a size known when compiling, so a piece costs no call. The detail
// helpers below write to it or to a std::string.
struct Cursor {
    char* p;
    template <std::size_t N>
    Cursor& operator+=(const char (&s)[N]) noexcept {
        std::memcpy(p, s, N - 1);
        p += N - 1;
        return *this;
    }
    Cursor& operator+=(std::string_view s) noexcept {
        std::memcpy(p, s.data(), s.size());
        p += s.size();
        return *this;
    }
    Cursor& operator+=(char c) noexcept {
        *p++ = c;
        return *this;
    }
    void append(const char* b, const char* e) noexcept {
        std::memcpy(p, b, static_cast<std::size_t>(e - b));
        p += e - b;
    }
};

template <class Out>
void append_number(Out& out, long long v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// Two digits (v < 100) appended.
template <class Out>
void append_two(Out& out, unsigned v) {
    out += static_cast<char>('0' + v / 10 % 10);
    out += static_cast<char>('0' + v % 10);
}

// The bucket's label ("day 2026-10-24", "week 2026-W43", ...) appended; made only when a
// detail is written.
template <class Out>
void append_label(Out& out, Rule r, TimePoint local) {
    const Civil c = civil(local);
    const auto ymd = [&] {
        append_number(out, c.y);
        out += '-';
        append_two(out, c.m);
        out += '-';
        append_two(out, c.d);
    };
    switch (r) {
        case Rule::hourly:
            out += "hour ";
            ymd();
            out += 'T';
            append_two(out, static_cast<unsigned>(c.h));
            return;
        case Rule::daily:
            out += "day ";
            ymd();
            return;
        case Rule::weekly: {
            const auto w = iso_week(local);
            out += "week ";
            append_number(out, w.year);
            out += "-W";
            append_two(out, static_cast<unsigned>(w.week));
            return;
        }
        case Rule::monthly:
            out += "month ";
            append_number(out, c.y);
            out += '-';
            append_two(out, c.m);
            return;
        case Rule::yearly:
            out += "year ";
            append_number(out, c.y);
            return;
        case Rule::last:
            return;
    }
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

enum NoteKind : std::uint8_t {
    no_note = 0,
    future_note,          // "dated after now (<now>): never dropped"
    failed_recent_note,   // "failed, not older than the newest successful backup"
    failed_old_note,      // ref: the newest success
    newest_success_note,  // flags: 0 plain, 1 its verification failed, 2 the newest good one
    protected_note,       // "protected"
    older_than_window_note,
    standing_note,      // rule; flags: standing_good, standing_not_first, standing_daily_window
    not_standing_note,  // rule; ref: the backup kept instead
    last_note,          // flags: 1 when its verification failed
    oldest_note,        // rule
    empty_policy_note,
    no_slot_note,
};
constexpr std::uint8_t standing_good = 1, standing_not_first = 2, standing_daily_window = 4;

// A note and the position of its decision, while planning.
struct Pending {
    std::uint32_t pos;
    PlanNote note;
};

// One half's decisions (sorted newest first) and what planning them needs.
struct Half {
    std::span<Decision> items;
    std::size_t base;  // position of items[0] in Plan::decisions
    const BackupList& backups;
    std::vector<Pending>& notes;

    BackupView backup(std::size_t i) const { return backups[items[i].backup]; }
    TimePoint time(std::size_t i) const { return backups.time(items[i].backup); }
    bool failed(std::size_t i) const { return backup(i).verified == Verification::failed; }
    std::uint32_t ref(std::size_t i) const { return items[i].backup; }
    void note(std::size_t i, NoteKind kind, std::uint8_t rule = 0, std::uint8_t flags = 0,
              std::uint32_t other = 0) {
        notes.push_back({static_cast<std::uint32_t>(base + i), PlanNote{kind, rule, flags, other}});
    }
    void note(std::size_t i, const PlanNote& n) {
        notes.push_back({static_cast<std::uint32_t>(base + i), n});
    }
    void reason(std::size_t i, Reason r, NoteKind kind, std::uint8_t rule = 0,
                std::uint8_t flags = 0, std::uint32_t other = 0) {
        items[i].keep = true;
        items[i].reasons.add(r);
        note(i, kind, rule, flags, other);
    }
};

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
    std::uint8_t flags() const {
        return static_cast<std::uint8_t>((good ? standing_good : 0) |
                                         (item != first ? standing_not_first : 0));
    }
};

// A key's hash: 8 bytes at a time (keys are short; the table below only needs them spread).
std::uint64_t key_hash(std::string_view k) noexcept {
    std::uint64_t h = 0x9e3779b97f4a7c15ull ^ k.size();
    std::size_t i = 0;
    for (; i + 8 <= k.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, k.data() + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    std::uint64_t w = 0;
    std::memcpy(&w, k.data() + i, k.size() - i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

// Keys must be unique: an open-addressing table of indices (no allocation per key), walked
// in the list's order (its keys' text in order too).
void check_unique_keys(const BackupList& backups) {
    const std::size_t n = backups.size();
    const auto& halves = backups.halves();
    const bool some_half_empty =
        std::any_of(halves.begin(), halves.end(), [](const std::string& h) { return h.empty(); });
    std::size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    // A slot: the index + 1 in the low 32 bits (0: empty), the hash's high bits above.
    std::vector<std::uint64_t> slots(cap, 0);
    // The keys' hashes are made `ahead` keys in advance and their slots asked for then: the
    // table (2 MB for 100,000 keys) is probed at random, and each probe would otherwise wait
    // for memory.
    constexpr std::size_t ahead = 16;
    std::uint64_t coming[ahead];
    const auto hash_at = [&](std::size_t i) {
        const std::uint64_t h = key_hash(backups.key(i));
        __builtin_prefetch(&slots[h & (cap - 1)]);
        return h;
    };
    for (std::size_t i = 0; i < ahead && i < n; ++i) coming[i] = hash_at(i);
    step(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::string_view key = backups.key(i);
        if (key.empty()) throw ConfigError("a backup has an empty key");
        if (some_half_empty && halves[backups.half_index(i)].empty())
            throw ConfigError("backup '" + std::string(key) + "' has no half");
        const std::uint64_t h = coming[i % ahead];
        if (i + ahead < n) coming[i % ahead] = hash_at(i + ahead);
        const std::uint64_t tag = h & ~std::uint64_t{0xffffffff};
        for (std::size_t pos = h & (cap - 1);; pos = (pos + 1) & (cap - 1)) {
            const std::uint64_t slot = slots[pos];
            if (slot == 0) {
                slots[pos] = tag | (i + 1);
                break;
            }
            if ((slot & ~std::uint64_t{0xffffffff}) == tag &&
                backups.key((slot & 0xffffffff) - 1) == key)
                throw ConfigError("backup key '" + std::string(key) + "' is listed twice");
        }
    }
}

void validate(const BackupList& backups, const Policy& policy) {
    const auto& t = policy.tiered;
    if (t.daily_days < 0 || t.monthly_months < 0 || t.yearly_years < 0)
        throw ConfigError("retention windows must be 0 (off) or positive");
    if (t.daily_days > 100000 || t.monthly_months > 12000 || t.yearly_years > 1000)
        throw ConfigError("retention window too large");
    const auto& c = policy.count;
    for (int v : {c.last, c.hourly, c.daily, c.weekly, c.monthly, c.yearly})
        if (v < CountPolicy::unlimited)
            throw ConfigError("retention counts must be 0 (off), positive, or unlimited");
    if (backups.size() >= std::numeric_limits<std::uint32_t>::max())
        throw ConfigError("too many backups to plan at once");
    check_unique_keys(backups);
}

// Tiered mode over the eligible backups (newest first). Each backup is examined by the first
// window it falls in; each window's buckets (day, month, year) keep their standing backup.
void plan_tiered(Half& h, const std::vector<std::size_t>& eligible, TimePoint now,
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
    };
    std::vector<Place> places(eligible.size());
    for (std::size_t n = 0; n < eligible.size(); ++n) {
        step();
        const std::size_t i = eligible[n];
        const TimePoint at = h.time(i);
        const TimePoint local = zone.to_local(at);
        int tier = -1;
        if (t.daily_days > 0 && now - at <= daily_window)
            tier = 0;
        else if (monthly_on && local >= month_start)
            tier = 1;
        else if (yearly_on && local >= year_start)
            tier = 2;
        places[n] = {tier, 0};
        if (tier < 0) continue;
        auto& tr = tiers[tier];
        places[n].bucket = bucket_id(tr.rule, local);
        const bool failed = h.failed(i);
        const auto [it, fresh] =
            tr.buckets.try_emplace(places[n].bucket, Standing::start(i, failed));
        if (!fresh) it->second.offer(i, failed);
    }
    for (std::size_t n = 0; n < eligible.size(); ++n) {
        step();
        const std::size_t i = eligible[n];
        const Place& pl = places[n];
        if (pl.tier < 0) {
            if (!h.items[i].keep) h.note(i, older_than_window_note);
            continue;
        }
        const auto& tr = tiers[pl.tier];
        const Standing& s = tr.buckets.at(pl.bucket);
        const auto rule = static_cast<std::uint8_t>(tr.rule);
        if (s.item == i) {
            const auto flags =
                static_cast<std::uint8_t>(s.flags() | (pl.tier == 0 ? standing_daily_window : 0));
            h.reason(i, tr.reason, standing_note, rule, flags);
        } else if (!h.items[i].keep) {
            h.note(i, not_standing_note, rule, 0, h.ref(s.item));
        }
    }
}

// Count mode (restic's forget) over the eligible backups (newest first).
void plan_count(Half& h, const std::vector<std::size_t>& eligible, const Policy& policy) {
    const auto& c = policy.count;
    if (c.empty()) {
        for (const std::size_t i : eligible) h.reason(i, Reason::empty_policy, empty_policy_note);
        return;
    }
    if (eligible.empty()) return;
    const TimeZone& zone = policy.zone;
    std::vector<TimePoint> local(eligible.size());
    for (std::size_t n = 0; n < eligible.size(); ++n) {
        step();
        local[n] = zone.to_local(h.time(eligible[n]));
    }
    // For a dropped backup whose verification failed: a bucket another backup stands for.
    std::vector<PlanNote> lost(eligible.size());
    const std::size_t oldest = eligible.back();

    // `last`: every backup is its own bucket; the slots go to the newest backups whose
    // verification did not fail, then (if slots remain) to those whose verification failed.
    if (c.last != 0) {
        std::vector<std::size_t> order;
        order.reserve(eligible.size());
        for (const bool failed : {false, true})
            for (const std::size_t i : eligible) {
                step();
                if (h.failed(i) == failed) order.push_back(i);
            }
        const std::size_t n = c.last == CountPolicy::unlimited
                                  ? order.size()
                                  : std::min(order.size(), static_cast<std::size_t>(c.last));
        step(n);
        for (std::size_t k = 0; k < n; ++k)
            h.reason(order[k], Reason::last, last_note, 0,
                     static_cast<std::uint8_t>(h.failed(order[k]) ? 1 : 0));
    }

    const std::pair<Rule, int> rules[] = {{Rule::hourly, c.hourly},
                                          {Rule::daily, c.daily},
                                          {Rule::weekly, c.weekly},
                                          {Rule::monthly, c.monthly},
                                          {Rule::yearly, c.yearly}};
    for (const auto& [rule, count] : rules) {
        if (count == 0) continue;
        const auto rule_code = static_cast<std::uint8_t>(rule);
        int left = count;
        // Walking from the newest, restic keeps a backup when its bucket differs from the
        // previous kept one's: the first of each run of consecutive backups sharing a bucket,
        // for the first `count` runs. Here the run's standing backup takes its place.
        std::size_t n = 0;
        while (n < eligible.size() && left != 0) {
            step();
            const std::int64_t id = bucket_id(rule, local[n]);
            std::size_t end = n + 1;
            Standing s = Standing::start(eligible[n], h.failed(eligible[n]));
            while (end < eligible.size() && bucket_id(rule, local[end]) == id) {
                step();
                s.offer(eligible[end], h.failed(eligible[end]));
                ++end;
            }
            if (left > 0) --left;
            h.reason(s.item, reason_of(rule), standing_note, rule_code, s.flags());
            step(end - n);
            for (std::size_t m = n; m < end; ++m)
                if (eligible[m] != s.item && lost[m].kind == no_note && h.failed(eligible[m]))
                    lost[m] = PlanNote{not_standing_note, rule_code, 0, h.ref(s.item)};
            // restic >= 0.16.0: the oldest backup is kept too while the rule has slots left.
            if (end == eligible.size() && left != 0 && c.keep_oldest_if_unfilled &&
                s.item != oldest) {
                if (left > 0) --left;
                h.reason(oldest, Reason::oldest, oldest_note, rule_code);
            }
            n = end;
        }
    }
    for (std::size_t n = 0; n < eligible.size(); ++n) {
        step();
        const std::size_t i = eligible[n];
        if (h.items[i].keep) continue;
        if (lost[n].kind != no_note)
            h.note(i, lost[n]);
        else
            h.note(i, no_slot_note);
    }
}

// Plans one half; its items sorted newest first.
void plan_half(Half& h, TimePoint now, const Policy& policy,
               const std::set<std::string>& protected_keys) {
    const std::size_t size = h.items.size();
    // Eligible: successful and not dated after `now`; only these take slots.
    std::vector<std::size_t> eligible;
    eligible.reserve(size);
    step(size);
    for (std::size_t i = 0; i < size; ++i)
        if (h.backup(i).ok && h.time(i) <= now) eligible.push_back(i);
    // No successful backup: every failed one is kept as evidence (the minimum time point
    // compares older than everything).
    const TimePoint newest_success = eligible.empty() ? TimePoint::min() : h.time(eligible.front());

    step(size);
    for (std::size_t i = 0; i < size; ++i) {
        const BackupView b = h.backup(i);
        if (b.time > now) {
            h.reason(i, Reason::future, future_note);
        } else if (!b.ok) {
            if (b.time >= newest_success)
                h.reason(i, Reason::failed_recent, failed_recent_note);
            else
                h.note(i, failed_old_note, 0, 0, h.ref(eligible.front()));
        }
    }
    if (!eligible.empty()) {
        const std::size_t newest = eligible.front();
        if (!h.failed(newest)) {
            h.reason(newest, Reason::newest_success, newest_success_note, 0, 0);
        } else {
            h.reason(newest, Reason::newest_success, newest_success_note, 0, 1);
            const auto good = std::find_if(eligible.begin(), eligible.end(),
                                           [&](std::size_t i) { return !h.failed(i); });
            if (good != eligible.end())
                h.reason(*good, Reason::newest_success, newest_success_note, 0, 2);
        }
    }
    if (!protected_keys.empty()) {
        std::uint64_t depth = 0;  // comparisons of one lookup in a balanced tree
        while ((std::uint64_t{1} << depth) <= protected_keys.size()) ++depth;
        step(depth * size);
        for (std::size_t i = 0; i < size; ++i)
            if (protected_keys.count(std::string(h.backup(i).key)))
                h.reason(i, Reason::protected_key, protected_note);
    }

    if (policy.mode == Policy::Mode::tiered)
        plan_tiered(h, eligible, now, policy);
    else
        plan_count(h, eligible, policy);
}

// "2026-09-20T02:00:00Z" appended (format_rfc3339 without its string).
template <class Out>
void append_rfc3339(Out& out, TimePoint t) {
    const auto dp = floor<days>(t);
    const year_month_day ymd{dp};
    const int y = static_cast<int>(ymd.year());
    if (y < 0 || y > 9999) {
        out += format_rfc3339(t);  // throws, naming the year
        return;
    }
    const long s = static_cast<long>((t - dp).count());
    char b[20];
    b[0] = static_cast<char>('0' + y / 1000);
    b[1] = static_cast<char>('0' + y / 100 % 10);
    b[2] = static_cast<char>('0' + y / 10 % 10);
    b[3] = static_cast<char>('0' + y % 10);
    const auto two_at = [&](int at, long v) {
        b[at] = static_cast<char>('0' + v / 10);
        b[at + 1] = static_cast<char>('0' + v % 10);
    };
    b[4] = '-';
    two_at(5, static_cast<unsigned>(ymd.month()));
    b[7] = '-';
    two_at(8, static_cast<unsigned>(ymd.day()));
    b[10] = 'T';
    two_at(11, s / 3600);
    b[13] = ':';
    two_at(14, s / 60 % 60);
    b[16] = ':';
    two_at(17, s % 60);
    b[19] = 'Z';
    out.append(b, b + sizeof b);
}

}  // namespace

std::size_t Reasons::size() const noexcept {
    std::size_t n = 0;
    for (auto rest = packed_; rest; rest >>= 4) ++n;
    return n;
}

bool Reasons::contains(Reason r) const noexcept {
    const auto code = static_cast<std::uint64_t>(r) + 1;
    for (auto rest = packed_; rest; rest >>= 4)
        if ((rest & 15u) == code) return true;
    return false;
}

void Reasons::add(Reason r) noexcept {
    const auto code = static_cast<std::uint64_t>(r) + 1;
    int shift = 0;
    for (auto rest = packed_; rest; rest >>= 4, shift += 4)
        if ((rest & 15u) == code) return;
    packed_ |= code << shift;  // 15 reasons at most: always fits in 64 bits
}

namespace {

// Every note's text is at most this long, besides the key of the backup it names (see
// write_detail; the longest, a standing note with the daily window, is about 170).
constexpr std::size_t note_bound = 256;

}  // namespace

std::size_t Plan::detail_size_bound(const Decision& d) const noexcept {
    std::size_t n = 0;
    for (std::uint32_t k = 0; k < d.note_count; ++k) {
        const PlanNote& note = notes[d.first_note + k];
        n += note_bound;
        if (note.kind == not_standing_note) n += backups.key(note.ref).size();
    }
    return n;
}

void Plan::append_detail(std::string& out, const Decision& d) const {
    const std::size_t old = out.size();
    out.resize(old + detail_size_bound(d));
    char* end = write_detail(out.data() + old, d);
    out.resize(static_cast<std::size_t>(end - out.data()));
}

char* Plan::write_detail(char* at, const Decision& d) const {
    Cursor out{at};
    const BackupView own = backups[d.backup];
    const auto& t = policy.tiered;
    const auto label = [&](std::uint8_t rule) {
        append_label(out, static_cast<Rule>(rule), policy.zone.to_local(own.time));
    };
    for (std::uint32_t k = 0; k < d.note_count; ++k) {
        const PlanNote& n = notes[d.first_note + k];
        if (k > 0) out += "; ";
        switch (static_cast<NoteKind>(n.kind)) {
            case future_note:
                out += "dated after now (";
                append_rfc3339(out, now);
                out += "): never dropped";
                break;
            case failed_recent_note:
                out += "failed, not older than the newest successful backup";
                break;
            case failed_old_note:
                out += "failed, older than the newest successful backup (";
                append_rfc3339(out, backups.time(n.ref));
                out += ')';
                break;
            case newest_success_note:
                out += n.flags == 0   ? "newest successful backup"
                       : n.flags == 1 ? "newest successful backup (its verification failed)"
                                      : "newest successful backup whose verification did not fail";
                break;
            case protected_note:
                out += "protected";
                break;
            case older_than_window_note:
                if (t.yearly_years > 0) {
                    out += "older than the yearly window (";
                    append_number(out, t.yearly_years);
                    out += " years)";
                } else if (t.monthly_months > 0) {
                    out += "older than the monthly window (";
                    append_number(out, t.monthly_months);
                    out += " months)";
                } else {
                    out += "older than the daily window (";
                    append_number(out, t.daily_days);
                    out += " days)";
                }
                break;
            case standing_note:
                out += "newest of ";
                label(n.rule);
                if (!(n.flags & standing_good))
                    out += " (verification failed, as for every backup of it)";
                else if (n.flags & standing_not_first)
                    out += " whose verification did not fail";
                if (n.flags & standing_daily_window) {
                    out += ", within ";
                    append_number(out, t.daily_days);
                    out += " days (age ";
                    const auto age = (now - own.time).count();
                    append_number(out, age / 86400);
                    out += "d ";
                    append_number(out, age % 86400 / 3600);
                    out += "h)";
                }
                break;
            case not_standing_note: {
                const BackupView rep = backups[n.ref];
                if (own.verified == Verification::failed && rep.verified != Verification::failed) {
                    out += "verification failed; ";
                    label(n.rule);
                    out += " kept by ";
                    out += rep.key;
                } else {
                    out += "not the newest of ";
                    label(n.rule);
                    out += " (kept: ";
                    out += rep.key;
                    out += ')';
                }
                break;
            }
            case last_note:
                if (policy.count.last == CountPolicy::unlimited) {
                    out += "kept by the unlimited last rule (every backup)";
                } else {
                    out += "one of the ";
                    append_number(out, policy.count.last);
                    out += " newest";
                }
                if (n.flags & 1) out += " (verification failed, too few others)";
                break;
            case oldest_note:
                out += "oldest backup, kept while the ";
                out += to_string(reason_of(static_cast<Rule>(n.rule)));
                out += " rule has slots left";
                break;
            case empty_policy_note:
                out += "no rule given: everything is kept";
                break;
            case no_slot_note:
                out += "no slot: its buckets are taken by newer backups, or the counts are used up";
                break;
            case no_note:
                break;
        }
    }
    return out.p;
}

std::string Plan::detail(const Decision& d) const {
    std::string s;
    append_detail(s, d);
    return s;
}

Explained Plan::explain(const Decision& d) const {
    return {backup(d).to_backup(), d.keep, d.reasons.to_vector(), detail(d)};
}

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
        std::count_if(decisions.begin(), decisions.end(),
                      [&](const Decision& d) { return d.keep && d.reasons.contains(r); }));
}

std::vector<std::string> Plan::drop_keys() const {
    std::vector<std::uint32_t> drops;
    for (const auto& d : decisions)
        if (!d.keep) drops.push_back(d.backup);
    std::sort(drops.begin(), drops.end(), [&](std::uint32_t a, std::uint32_t b) {
        const TimePoint ta = backups.time(a), tb = backups.time(b);
        return ta != tb ? ta < tb : backups.key(a) < backups.key(b);
    });
    std::vector<std::string> keys;
    keys.reserve(drops.size());
    for (const auto i : drops) keys.emplace_back(backups.key(i));
    return keys;
}

void check_keeps_every_half(const Plan& p) {
    std::map<std::string, bool, std::less<>> any_kept;
    // A plan's decisions come grouped by half: look up runs of one half number.
    std::uint32_t prev = 0;
    bool* half_kept = nullptr;
    step(p.decisions.size());
    for (const auto& d : p.decisions) {
        const std::uint32_t half = p.backups.half_index(d.backup);
        if (!half_kept || half != prev) {
            const std::string& name = p.backups.halves()[half];
            auto it = any_kept.find(name);
            if (it == any_kept.end()) it = any_kept.emplace(name, false).first;
            half_kept = &it->second;
        }
        *half_kept |= d.keep;
        prev = half;
    }
    for (const auto& [half, kept] : any_kept)
        if (!kept)
            throw Error("retention plan refused: it would drop every backup of half '" + half +
                        "'");
}

// The planner's access to a BackupList's entries: it sorts them in place.
struct ListAccess {
    // Sorts `v` by half, then time descending, as a number per entry (half * (span + 1) +
    // newest time - time) in passes of up to 13 bits (least significant first, stable), then each
    // run of equal half and time by `before` (keys descending); false, leaving `v` as it was,
    // when that number does not fit in 64 bits. Linear in the entries for a fixed span.
    template <class Before>
    static bool radix_sort(std::vector<BackupList::Entry>& v, std::size_t halves,
                           const Before& before) {
        using Entry = BackupList::Entry;
        const auto [lo, hi] = std::minmax_element(
            v.begin(), v.end(), [](const Entry& a, const Entry& b) { return a.time < b.time; });
        const std::uint64_t span =
            static_cast<std::uint64_t>(hi->time) - static_cast<std::uint64_t>(lo->time);
        if (span == std::numeric_limits<std::uint64_t>::max() ||
            halves > std::numeric_limits<std::uint64_t>::max() / (span + 1))
            return false;
        const auto newest = static_cast<std::uint64_t>(hi->time);
        const auto number = [&](const Entry& e) {
            return e.half * (span + 1) + (newest - static_cast<std::uint64_t>(e.time));
        };
        const std::uint64_t top = (halves - 1) * (span + 1) + span;
        int bits = 0;
        while (bits < 64 && (top >> bits) != 0) ++bits;
        // As few passes as digits of at most 13 bits allow (a 32 KiB histogram), the digits
        // as even as can be: 2 passes for up to 26 bits (two halves over 6 months: 25).
        const int passes = (bits + 12) / 13;
        const int digit_bits = passes == 0 ? 1 : (bits + passes - 1) / passes;
        const std::size_t buckets = std::size_t{1} << digit_bits;
        std::vector<Entry> other(v.size());
        std::vector<std::uint32_t> at(buckets);
        for (int shift = 0; shift < bits; shift += digit_bits) {
            step(2 * v.size());
            std::fill(at.begin(), at.end(), 0);
            for (const Entry& e : v) ++at[(number(e) >> shift) & (buckets - 1)];
            std::uint32_t sum = 0;
            for (auto& c : at) sum += std::exchange(c, sum);
            for (const Entry& e : v) other[at[(number(e) >> shift) & (buckets - 1)]++] = e;
            v.swap(other);
        }
        // Equal numbers (same half and time) are ordered by their keys.
        for (std::size_t k = 0; k < v.size();) {
            std::size_t end = k + 1;
            while (end < v.size() && v[end].half == v[k].half && v[end].time == v[k].time) ++end;
            step(end - k);
            if (end - k > 1) std::sort(v.begin() + k, v.begin() + end, before);
            k = end;
        }
        return true;
    }

    // Numbers the halves in the order of their names, then puts the entries by half, newest
    // first (keys descending on equal times): the decisions' order. Entries are small values
    // and hold no pointer, so the sort moves them directly.
    static void sort_for_plan(BackupList& l) {
        auto& names = l.halves_;
        std::vector<std::uint32_t> by_name(names.size());
        for (std::uint32_t k = 0; k < by_name.size(); ++k) by_name[k] = k;
        std::sort(by_name.begin(), by_name.end(),
                  [&](std::uint32_t a, std::uint32_t b) { return names[a] < names[b]; });
        if (!std::is_sorted(by_name.begin(), by_name.end())) {
            std::vector<std::uint32_t> rank(names.size());
            std::vector<std::string> sorted(names.size());
            for (std::uint32_t k = 0; k < by_name.size(); ++k) {
                rank[by_name[k]] = k;
                sorted[k] = std::move(names[by_name[k]]);
            }
            names = std::move(sorted);
            for (auto& e : l.entries_) e.half = rank[e.half];
            l.last_half_ = 0;
        }
        const char* const text = l.arena_.data();
        std::uint64_t compared = 0;  // counted here, handed to step() once
        const auto before = [text, &compared](const BackupList::Entry& a,
                                              const BackupList::Entry& b) {
            ++compared;
            if (a.half != b.half) return a.half < b.half;
            if (a.time != b.time) return a.time > b.time;
            return std::string_view(text + a.key_at, a.key_size) >
                   std::string_view(text + b.key_at, b.key_size);
        };
        // A list already in that order (checked in one pass) is left as it is.
        if (!std::is_sorted(l.entries_.begin(), l.entries_.end(), before) &&
            !radix_sort(l.entries_, names.size(), before))
            std::sort(l.entries_.begin(), l.entries_.end(), before);
        step(compared);
    }
};

Plan plan(BackupList backups, TimePoint now, const Policy& policy,
          const std::set<std::string>& protected_keys) {
    validate(backups, policy);
    Plan p;
    p.now = now;
    p.policy = policy;
    p.backups = std::move(backups);
    ListAccess::sort_for_plan(p.backups);
    const auto& bs = p.backups;
    const std::size_t n = bs.size();
    p.decisions.resize(n);
    std::vector<std::size_t> half_starts;  // where each half begins, then n
    step(n);
    for (std::size_t k = 0; k < n; ++k) {
        p.decisions[k].backup = static_cast<std::uint32_t>(k);
        if (k == 0 || bs.half_index(k) != bs.half_index(k - 1)) half_starts.push_back(k);
    }
    half_starts.push_back(n);

    // About one note per decision, a second for most kept ones.
    std::vector<Pending> pending;
    pending.reserve(n + n / 4);
    for (std::size_t k = 0; k + 1 < half_starts.size(); ++k) {
        const std::size_t start = half_starts[k], end = half_starts[k + 1];
        step(end - start);
        Half h{std::span<Decision>(p.decisions).subspan(start, end - start), start, bs, pending};
        plan_half(h, now, policy, protected_keys);
    }
    check_keeps_every_half(p);

    // The notes, grouped by decision in the order they were made (a counting sort).
    step(pending.size() + n);
    for (const auto& x : pending) ++p.decisions[x.pos].note_count;
    std::uint32_t at = 0;
    for (auto& d : p.decisions) {
        at += d.note_count;
        d.first_note = at;  // the end for now; the scatter below walks it back to the start
    }
    p.notes.resize(pending.size());
    for (auto x = pending.rbegin(); x != pending.rend(); ++x)
        p.notes[--p.decisions[x->pos].first_note] = x->note;
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

void write_json(const Plan& p, const std::function<void(std::string_view)>& out) {
    const TimePoint now = p.now;
    const Policy& policy = p.policy;
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
    std::string detail;  // each decision's, made as it is written
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
            const BackupView b = p.backup(d);
            // A later decision's key asked for ahead: keys' bytes lie in the input's order.
            if (n + 16 < p.decisions.size())
                __builtin_prefetch(p.backups.key(p.decisions[n + 16].backup).data());
            buf += "    {\n";
            field("      ", "detail");
            detail.clear();
            p.append_detail(detail, d);
            text(detail);
            buf += ",\n";
            field("      ", "half");
            text(b.half);
            buf += ",\n";
            field("      ", "keep");
            buf += d.keep ? "true,\n" : "false,\n";
            field("      ", "key");
            text(b.key);
            buf += ",\n";
            field("      ", "ok");
            buf += b.ok ? "true,\n" : "false,\n";
            field("      ", "reasons");
            if (d.reasons.empty()) {
                buf += "[],\n";
            } else {
                buf += "[\n";
                for (auto r = d.reasons.begin(); r != d.reasons.end();) {
                    buf += "        \"";
                    buf += to_string(*r);
                    buf += ++r != d.reasons.end() ? "\",\n" : "\"\n";
                }
                buf += "      ],\n";
            }
            field("      ", "time");
            buf += '"';
            append_rfc3339(buf, b.time);
            buf += "\",\n";
            field("      ", "verified");
            buf += '"';
            buf += to_string(b.verified);
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

std::string to_json(const Plan& p) {
    std::string s;
    write_json(p, [&](std::string_view piece) { s += piece; });
    return s;
}

}  // namespace dolibak::retention
