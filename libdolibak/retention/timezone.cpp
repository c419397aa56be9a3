// Time zones: fixed offsets, POSIX TZ rules and TZif files (RFC 8536).
#include <dolibak/core/error.hpp>
#include <dolibak/retention/timezone.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <vector>

namespace dolibak::retention {

using namespace std::chrono;

namespace {

// A transition date of a POSIX rule: Mm.w.d, Jn (1-365, February 29 never counted) or n
// (0-365, counting February 29), and the local time of day it happens at.
struct RuleDate {
    enum class Form { month_week_day, julian1, julian0 } form = Form::month_week_day;
    int mon = 0, wk = 0, wday = 0, yday = 0;
    seconds time{2 * 3600};

    // The local wall time (as a UTC-like time point) of this date in `y`.
    TimePoint in_year(int y) const {
        sys_days date;
        switch (form) {
            case Form::month_week_day: {
                const year_month ym{year{y}, std::chrono::month{static_cast<unsigned>(mon)}};
                const std::chrono::weekday wd{static_cast<unsigned>(wday)};
                if (wk == 5) {
                    date =
                        sys_days{year_month_weekday_last{ym.year(), ym.month(), weekday_last{wd}}};
                } else {
                    date = sys_days{year_month_weekday{
                        ym.year(), ym.month(), weekday_indexed{wd, static_cast<unsigned>(wk)}}};
                }
                break;
            }
            case Form::julian1: {
                // Day 1-365 ignoring February 29: day 60 is always March 1.
                date = sys_days{year{y} / January / 1} + days{yday - 1};
                if (year{y}.is_leap() && yday >= 60) date += days{1};
                break;
            }
            case Form::julian0:
                date = sys_days{year{y} / January / 1} + days{yday};
                break;
        }
        return TimePoint{date} + time;
    }
};

struct PosixRule {
    seconds std_offset{0};  // east of UTC
    std::optional<seconds> dst_offset;
    RuleDate start, end;

    seconds offset_at(TimePoint t) const {
        if (!dst_offset) return std_offset;
        const int y = static_cast<int>(year_month_day{floor<days>(t + std_offset)}.year());
        // Start is given in standard local time, end in daylight local time.
        const TimePoint start_utc = start.in_year(y) - std_offset;
        const TimePoint end_utc = end.in_year(y) - *dst_offset;
        const bool in_dst = start_utc < end_utc ? (t >= start_utc && t < end_utc)
                                                : !(t >= end_utc && t < start_utc);
        return in_dst ? *dst_offset : std_offset;
    }
};

class RuleParser {
public:
    explicit RuleParser(std::string_view s) : s_(s) {}

    PosixRule parse() {
        PosixRule r;
        name();
        r.std_offset = -offset(true);
        if (done()) return r;
        name();
        r.dst_offset = r.std_offset + hours{1};
        if (!done() && peek() != ',') r.dst_offset = -offset(true);
        if (done()) {
            // No rule: the US rules of POSIX's default are implied; accept only explicit ones.
            fail("a daylight saving zone needs its transition rules");
        }
        expect(',');
        r.start = date();
        expect(',');
        r.end = date();
        if (!done()) fail("unexpected text after the rules");
        return r;
    }

private:
    [[noreturn]] void fail(const std::string& why) const {
        throw ConfigError("invalid POSIX TZ rule '" + std::string(s_) + "': " + why);
    }
    bool done() const { return pos_ >= s_.size(); }
    char peek() const { return done() ? '\0' : s_[pos_]; }
    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++pos_;
    }
    void name() {
        if (peek() == '<') {
            const auto close = s_.find('>', pos_);
            if (close == std::string_view::npos) fail("unterminated <name>");
            if (close - pos_ - 1 < 3) fail("zone abbreviation shorter than 3 characters");
            pos_ = close + 1;
            return;
        }
        const auto start = pos_;
        while (!done() && ((peek() >= 'A' && peek() <= 'Z') || (peek() >= 'a' && peek() <= 'z')))
            ++pos_;
        if (pos_ - start < 3) fail("zone abbreviation shorter than 3 characters");
    }
    int number(int max_digits) {
        int v = 0, n = 0;
        while (!done() && peek() >= '0' && peek() <= '9' && n < max_digits) {
            v = v * 10 + (peek() - '0');
            ++pos_;
            ++n;
        }
        if (n == 0) fail("expected a number");
        return v;
    }
    // [+-]hh[:mm[:ss]]; hours up to 24 for offsets, 167 for rule times (RFC 8536).
    seconds offset(bool is_offset) {
        int sign = 1;
        if (peek() == '+' || peek() == '-') {
            sign = peek() == '-' ? -1 : 1;
            ++pos_;
        }
        const int h = number(3);
        int m = 0, sec = 0;
        if (peek() == ':') {
            ++pos_;
            m = number(2);
            if (peek() == ':') {
                ++pos_;
                sec = number(2);
            }
        }
        if (h > (is_offset ? 24 : 167) || m > 59 || sec > 59) fail("offset or time out of range");
        return seconds{sign * (h * 3600 + m * 60 + sec)};
    }
    RuleDate date() {
        RuleDate d;
        if (peek() == 'M') {
            ++pos_;
            d.form = RuleDate::Form::month_week_day;
            d.mon = number(2);
            expect('.');
            d.wk = number(1);
            expect('.');
            d.wday = number(1);
            if (d.mon < 1 || d.mon > 12 || d.wk < 1 || d.wk > 5 || d.wday > 6)
                fail("bad Mm.w.d date");
        } else if (peek() == 'J') {
            ++pos_;
            d.form = RuleDate::Form::julian1;
            d.yday = number(3);
            if (d.yday < 1 || d.yday > 365) fail("bad Jn date");
        } else {
            d.form = RuleDate::Form::julian0;
            d.yday = number(3);
            if (d.yday > 365) fail("bad n date");
        }
        if (peek() == '/') {
            ++pos_;
            d.time = offset(false);
        }
        return d;
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

std::int64_t be(std::string_view b, std::size_t pos, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b[pos + i]);
    if (n == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
    return static_cast<std::int64_t>(v);
}

std::optional<seconds> parse_fixed(std::string_view s) {
    if (s == "UTC" || s == "Z" || s == "utc") return seconds{0};
    if (s.substr(0, 3) == "UTC") s.remove_prefix(3);
    if (s.empty() || (s[0] != '+' && s[0] != '-')) return std::nullopt;
    const int sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
    std::string digits;
    for (char c : s) {
        if (c == ':') continue;
        if (c < '0' || c > '9') return std::nullopt;
        digits += c;
    }
    int h = 0, m = 0;
    if (digits.size() == 1 || digits.size() == 2) {
        h = std::stoi(digits);
    } else if (digits.size() == 4) {
        h = std::stoi(digits.substr(0, 2));
        m = std::stoi(digits.substr(2));
    } else {
        return std::nullopt;
    }
    if (m > 59 || h > 23) return std::nullopt;
    return seconds{sign * (h * 3600 + m * 60)};
}

}  // namespace

struct TimeZone::Rules {
    std::vector<std::int64_t> transitions;  // UTC seconds, ascending
    std::vector<std::uint8_t> type_of;      // per transition
    std::vector<seconds> type_offsets;      // per local time type
    std::optional<PosixRule> footer;        // after the last transition (or always)
    seconds fixed{0};
    bool is_fixed = false;

    seconds offset_at(TimePoint t) const {
        if (is_fixed) return fixed;
        const std::int64_t s = t.time_since_epoch().count();
        if (transitions.empty() || s >= transitions.back()) {
            if (footer) return footer->offset_at(t);
            if (!transitions.empty()) return type_offsets[type_of.back()];
            return type_offsets.empty() ? seconds{0} : type_offsets[0];
        }
        const auto it = std::upper_bound(transitions.begin(), transitions.end(), s);
        if (it == transitions.begin()) return type_offsets[0];
        return type_offsets[type_of[static_cast<std::size_t>(it - transitions.begin() - 1)]];
    }
};

TimeZone::TimeZone() : name_("UTC") {}

TimeZone TimeZone::fixed(seconds offset) {
    if (offset <= -hours{24} || offset >= hours{24})
        throw ConfigError("time zone offset out of range (must be within +/-24 hours)");
    TimeZone z;
    auto rules = std::make_shared<Rules>();
    rules->is_fixed = true;
    rules->fixed = offset;
    const auto total = offset.count() < 0 ? -offset.count() : offset.count();
    char buf[16];
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset.count() < 0 ? '-' : '+',
                  static_cast<int>(total / 3600), static_cast<int>(total % 3600 / 60));
    z.name_ = offset.count() == 0 ? "UTC" : buf;
    if (offset.count() != 0) z.rules_ = std::move(rules);
    return z;
}

TimeZone TimeZone::from_posix_rule(std::string_view rule) {
    TimeZone z;
    auto rules = std::make_shared<Rules>();
    rules->footer = RuleParser(rule).parse();
    z.name_ = std::string(rule);
    z.rules_ = std::move(rules);
    return z;
}

TimeZone TimeZone::from_tzif(std::string name, std::string_view b) {
    auto bad = [&](const std::string& why) -> FormatError {
        return FormatError("time zone file '" + name + "' is not valid TZif: " + why);
    };
    constexpr std::size_t header = 44;
    if (b.size() < header || b.substr(0, 4) != "TZif") throw bad("missing TZif header");
    const char version = b[4];
    auto counts = [&](std::size_t at) {
        if (b.size() < at + header || b.substr(at, 4) != "TZif") throw bad("truncated header");
        std::array<std::int64_t, 6> c{};
        for (std::size_t i = 0; i < 6; ++i) c[i] = be(b, at + 20 + 4 * i, 4);
        for (auto v : c)
            if (v < 0 || v > 100000) throw bad("implausible counts");
        return c;
    };
    // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
    auto c = counts(0);
    std::size_t at = header;
    std::size_t tsize = 4;
    auto block_size = [&](const std::array<std::int64_t, 6>& k, std::size_t ts) {
        return static_cast<std::size_t>(k[3]) * ts + static_cast<std::size_t>(k[3]) +
               static_cast<std::size_t>(k[4]) * 6 + static_cast<std::size_t>(k[5]) +
               static_cast<std::size_t>(k[2]) * (ts + 4) + static_cast<std::size_t>(k[1]) +
               static_cast<std::size_t>(k[0]);
    };
    if (version >= '2') {
        at += block_size(c, 4);
        c = counts(at);
        at += header;
        tsize = 8;
    }
    if (c[2] != 0)
        throw ConfigError("time zone '" + name +
                          "' counts leap seconds (a right/ zone); use the zone without right/");
    if (c[4] == 0) throw bad("no local time types");
    if (b.size() < at + block_size(c, tsize)) throw bad("truncated data");
    auto rules = std::make_shared<Rules>();
    const auto timecnt = static_cast<std::size_t>(c[3]);
    const auto typecnt = static_cast<std::size_t>(c[4]);
    for (std::size_t i = 0; i < timecnt; ++i) {
        const auto v = be(b, at + i * tsize, tsize);
        if (!rules->transitions.empty() && v <= rules->transitions.back())
            throw bad("transitions out of order");
        rules->transitions.push_back(v);
    }
    at += timecnt * tsize;
    for (std::size_t i = 0; i < timecnt; ++i) {
        const auto idx = static_cast<std::uint8_t>(b[at + i]);
        if (idx >= typecnt) throw bad("transition to an unknown local time type");
        rules->type_of.push_back(idx);
    }
    at += timecnt;
    for (std::size_t i = 0; i < typecnt; ++i) {
        const auto off = be(b, at + i * 6, 4);
        if (off <= -(25 * 3600) || off >= 26 * 3600) throw bad("offset out of range");
        rules->type_offsets.push_back(seconds{off});
    }
    at += block_size(c, tsize) - timecnt * tsize - timecnt;
    if (version >= '2' && at < b.size() && b[at] == '\n') {
        const auto end = b.find('\n', at + 1);
        if (end == std::string_view::npos) throw bad("unterminated footer");
        const auto footer = b.substr(at + 1, end - at - 1);
        if (!footer.empty()) {
            try {
                rules->footer = RuleParser(footer).parse();
            } catch (const ConfigError& e) {
                throw bad(std::string("footer: ") + e.what());
            }
        }
    }
    TimeZone z;
    z.name_ = std::move(name);
    z.rules_ = std::move(rules);
    return z;
}

TimeZone TimeZone::locate(std::string_view name) {
    if (name.empty()) throw ConfigError("empty time zone name");
    if (auto off = parse_fixed(name)) {
        auto z = fixed(*off);
        return z;
    }
    const bool safe = std::all_of(name.begin(), name.end(),
                                  [](char ch) {
                                      return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                                             (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
                                             ch == '+' || ch == '/';
                                  }) &&
                      name.front() != '/' && name.find("..") == std::string_view::npos;
    if (!safe)
        throw ConfigError("invalid time zone '" + std::string(name) +
                          "': expected UTC, an offset like +02:00, or an IANA name like "
                          "Europe/Paris");
    const char* env = std::getenv("TZDIR");
    const std::string dir = env && *env ? env : "/usr/share/zoneinfo";
    const std::string path = dir + "/" + std::string(name);
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ConfigError("unknown time zone '" + std::string(name) + "' (not found in " + dir +
                          "; is the tzdata package installed?)");
    std::ostringstream bytes;
    bytes << in.rdbuf();
    try {
        return from_tzif(std::string(name), bytes.str());
    } catch (const FormatError& e) {
        throw ConfigError(std::string("unknown time zone '") + std::string(name) +
                          "': " + e.what());
    }
}

seconds TimeZone::offset_at(TimePoint t) const {
    return rules_ ? rules_->offset_at(t) : seconds{0};
}

}  // namespace dolibak::retention
