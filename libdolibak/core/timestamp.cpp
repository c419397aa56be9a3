// Time stamps and RFC 3339: strict parsing, formatting.
#include <dolibak/core/error.hpp>
#include <dolibak/core/timestamp.hpp>

#include <array>
#include <cstdio>

namespace dolibak {
namespace {

using namespace std::chrono;

// Reads `n` digits at `pos`; false when any is not a digit.
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) noexcept {
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        const char c = s[i];
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

// Builds the time point, or returns an explanation of what is wrong.
std::optional<TimePoint> make_time(int y, int mo, int d, int h, int mi, int se, std::string* why) {
    auto fail = [&](const char* text) -> std::optional<TimePoint> {
        if (why) *why = text;
        return std::nullopt;
    };
    if (mo < 1 || mo > 12) return fail("month must be 01-12");
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                             day{static_cast<unsigned>(d)}};
    if (d < 1 || !ymd.ok()) return fail("no such day in that month");
    if (h > 23) return fail("hour must be 00-23");
    if (mi > 59) return fail("minute must be 00-59");
    if (se > 59) return fail("second must be 00-59");
    return sys_days{ymd} + hours{h} + minutes{mi} + seconds{se};
}

std::optional<TimePoint> parse_compact(std::string_view s, std::string* why) {
    auto fail = [&](const char* text) -> std::optional<TimePoint> {
        if (why) *why = text;
        return std::nullopt;
    };
    if (s.size() != 16) return fail("expected 16 characters");
    if (s[8] != 'T') return fail("expected 'T' between the date and the time");
    if (s[15] != 'Z') return fail("expected a final 'Z' (UTC)");
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    if (!digits(s, 0, 4, y) || !digits(s, 4, 2, mo) || !digits(s, 6, 2, d) || !digits(s, 9, 2, h) ||
        !digits(s, 11, 2, mi) || !digits(s, 13, 2, se))
        return fail("expected digits");
    return make_time(y, mo, d, h, mi, se, why);
}

struct Fields {
    int y, mo, d, h, mi, se;
};

Fields fields_of(TimePoint t) {
    const auto dp = floor<days>(t);
    const year_month_day ymd{dp};
    const hh_mm_ss hms{t - dp};
    return {static_cast<int>(ymd.year()),
            static_cast<int>(static_cast<unsigned>(ymd.month())),
            static_cast<int>(static_cast<unsigned>(ymd.day())),
            static_cast<int>(hms.hours().count()),
            static_cast<int>(hms.minutes().count()),
            static_cast<int>(hms.seconds().count())};
}

void check_year(const Fields& f) {
    if (f.y < 0 || f.y > 9999)
        throw ConfigError("time stamp out of range: year " + std::to_string(f.y) +
                          " is not 0000-9999");
}

}  // namespace

TimePoint parse_timestamp(std::string_view text) {
    std::string why;
    if (auto t = parse_compact(text, &why)) return *t;
    throw ConfigError("invalid time stamp '" + std::string(text) + "': " + why +
                      " (the format is YYYYMMDDTHHMMSSZ in UTC, e.g. 20261123T020000Z)");
}

std::optional<TimePoint> try_parse_timestamp(std::string_view s) noexcept {
    // The same checks as parse_compact, without its explanations: one pass over the fixed
    // positions, then the days since the epoch of a proleptic Gregorian date (the civil
    // calendar algorithm std::chrono uses), for long lists read at once.
    if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
    unsigned v[14];
    constexpr int at[14] = {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14};
    for (int i = 0; i < 14; ++i) {
        v[i] = static_cast<unsigned>(static_cast<unsigned char>(s[at[i]])) - '0';
        if (v[i] > 9) return std::nullopt;
    }
    const int y = static_cast<int>(v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3]);
    const unsigned mo = v[4] * 10 + v[5], d = v[6] * 10 + v[7];
    const unsigned h = v[8] * 10 + v[9], mi = v[10] * 10 + v[11], se = v[12] * 10 + v[13];
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return std::nullopt;
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    constexpr unsigned month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d > month_days[mo - 1] + (mo == 2 && leap ? 1u : 0u)) return std::nullopt;
    // Days from 1970-01-01 (years from March, so that the leap day ends a year).
    const int yy = y - (mo <= 2 ? 1 : 0);
    const int era = (yy >= 0 ? yy : yy - 399) / 400;
    const auto yoe = static_cast<unsigned>(yy - era * 400);
    const unsigned doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    const long long days_since = static_cast<long long>(era) * 146097 + doe - 719468;
    return TimePoint{seconds{days_since * 86400 + h * 3600 + mi * 60 + se}};
}

std::string format_timestamp(TimePoint t) {
    const auto f = fields_of(t);
    check_year(f);
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%04d%02d%02dT%02d%02d%02dZ", f.y, f.mo, f.d, f.h, f.mi,
                  f.se);
    return buf.data();
}

TimePoint parse_rfc3339(std::string_view s) {
    auto fail = [&](const char* why) -> TimePoint {
        throw ConfigError("invalid time '" + std::string(s) + "': " + why +
                          " (the format is YYYY-MM-DDTHH:MM:SSZ in UTC)");
    };
    if (s.size() != 20) return fail("expected 20 characters");
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return fail("misplaced separator");
    if (s[19] != 'Z') return fail("expected a final 'Z' (UTC)");
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    if (!digits(s, 0, 4, y) || !digits(s, 5, 2, mo) || !digits(s, 8, 2, d) ||
        !digits(s, 11, 2, h) || !digits(s, 14, 2, mi) || !digits(s, 17, 2, se))
        return fail("expected digits");
    std::string why;
    if (auto t = make_time(y, mo, d, h, mi, se, &why)) return *t;
    return fail(why.c_str());
}

std::string format_rfc3339(TimePoint t) {
    const auto f = fields_of(t);
    check_year(f);
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02dZ", f.y, f.mo, f.d, f.h,
                  f.mi, f.se);
    return buf.data();
}

TimePoint parse_time_either(std::string_view text) {
    const bool dashed = text.find_first_of("-:") != std::string_view::npos;
    try {
        return dashed ? parse_rfc3339(text) : parse_timestamp(text);
    } catch (const ConfigError& e) {
        throw ConfigError(std::string(e.what()) + "; " +
                          (dashed ? "YYYYMMDDTHHMMSSZ" : "YYYY-MM-DDTHH:MM:SSZ") +
                          " is accepted too");
    }
}

}  // namespace dolibak
