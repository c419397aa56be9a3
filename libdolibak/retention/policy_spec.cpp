#include <dolibak/core/error.hpp>
#include <dolibak/retention/policy_spec.hpp>
#include <dolibak/retention/timezone.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <vector>

namespace dolibak::retention {

namespace {

// A setting's name as the user wrote it; `key` is the config file's spelling.
std::string name_of(std::string_view key, Spelling spelling) {
    switch (spelling) {
        case Spelling::config:
            return key == "mode" ? "retention" : std::string(key);
        case Spelling::cli: {
            if (key == "mode") return "--mode";
            if (key == "time_zone") return "--time-zone";
            if (key == "keep_oldest_if_unfilled") return "--no-keep-oldest";
            std::string flag = "--" + std::string(key);
            for (auto& ch : flag)
                if (ch == '_') ch = '-';
            return flag;
        }
        case Spelling::python:
            if (key.starts_with("keep_") &&
                (key.ends_with("_days") || key.ends_with("_months") || key.ends_with("_years")))
                return std::string(key.substr(5));
            return std::string(key);
    }
    return std::string(key);
}

std::string join_names(const std::vector<std::string_view>& keys, Spelling spelling) {
    std::string out;
    for (const auto k : keys) {
        if (!out.empty()) out += ", ";
        out += name_of(k, spelling);
    }
    return out;
}

}  // namespace

std::optional<int> parse_count(std::string_view text) {
    if (text == "unlimited" || text == "-1") return CountPolicy::unlimited;
    int n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size() || text.empty() || n < 0 ||
        n > max_count)
        return std::nullopt;
    return n;
}

Policy build_policy(const PolicySpec& spec, Spelling spelling) {
    struct Field {
        std::string_view key;
        const std::optional<int>& value;
    };
    const Field tiered[] = {{"keep_daily_days", spec.daily_days},
                            {"keep_monthly_months", spec.monthly_months},
                            {"keep_yearly_years", spec.yearly_years}};
    const Field counts[] = {{"keep_last", spec.last},       {"keep_hourly", spec.hourly},
                            {"keep_daily", spec.daily},     {"keep_weekly", spec.weekly},
                            {"keep_monthly", spec.monthly}, {"keep_yearly", spec.yearly}};
    std::vector<std::string_view> tiered_given, count_given;
    for (const auto& f : tiered)
        if (f.value) tiered_given.push_back(f.key);
    for (const auto& f : counts)
        if (f.value) count_given.push_back(f.key);
    if (spec.keep_oldest_if_unfilled) count_given.push_back("keep_oldest_if_unfilled");

    Policy p;
    if (spec.mode && *spec.mode != "tiered" && *spec.mode != "count")
        throw ConfigError(fmt::format("{} must be 'tiered' or 'count', not '{}'",
                                      name_of("mode", spelling), *spec.mode));
    const bool any_count = std::any_of(std::begin(counts), std::end(counts),
                                       [](const Field& f) { return f.value.has_value(); });
    const bool count_mode = spec.mode ? *spec.mode == "count" : any_count;
    if (!spec.mode && !tiered_given.empty() && !count_given.empty())
        throw ConfigError(fmt::format(
            "{} and {} belong to different modes (tiered windows and counts); use one set, or "
            "set {}",
            join_names(tiered_given, spelling), join_names(count_given, spelling),
            name_of("mode", spelling)));
    if (count_mode && !tiered_given.empty())
        throw ConfigError(fmt::format(
            "the retention mode is count but {} {} to the tiered mode ({}); use the "
            "counts ({}, ...) instead",
            join_names(tiered_given, spelling), tiered_given.size() == 1 ? "belongs" : "belong",
            join_names({"keep_daily_days", "keep_monthly_months", "keep_yearly_years"}, spelling),
            join_names({"keep_last", "keep_daily"}, spelling)));
    if (!count_mode && !count_given.empty())
        throw ConfigError(fmt::format(
            "the retention mode is tiered but {} {} to the count mode; set {} to count "
            "to use {}",
            join_names(count_given, spelling), count_given.size() == 1 ? "belongs" : "belong",
            name_of("mode", spelling), count_given.size() == 1 ? "it" : "them"));

    auto in_range = [&](const Field& f, int low, int high, const char* what) {
        if (*f.value < low || *f.value > high)
            throw ConfigError(
                fmt::format("{} must be {}, not {}", name_of(f.key, spelling), what, *f.value));
        return *f.value;
    };
    if (count_mode) {
        p.mode = Policy::Mode::count;
        int* target[] = {&p.count.last,   &p.count.hourly,  &p.count.daily,
                         &p.count.weekly, &p.count.monthly, &p.count.yearly};
        for (std::size_t i = 0; i < std::size(counts); ++i)
            if (counts[i].value)
                *target[i] = in_range(counts[i], CountPolicy::unlimited, max_count,
                                      "a count from 0 to 1000000, or -1 (unlimited)");
        if (spec.keep_oldest_if_unfilled)
            p.count.keep_oldest_if_unfilled = *spec.keep_oldest_if_unfilled;
    } else {
        if (spec.daily_days)
            p.tiered.daily_days = in_range(tiered[0], 0, max_daily_days, "from 0 to 36500 days");
        if (spec.monthly_months)
            p.tiered.monthly_months =
                in_range(tiered[1], 0, max_monthly_months, "from 0 to 12000 months");
        if (spec.yearly_years)
            p.tiered.yearly_years =
                in_range(tiered[2], 0, max_yearly_years, "from 0 to 1000 years");
    }
    if (spec.time_zone) {
        try {
            p.zone = TimeZone::locate(*spec.time_zone);
        } catch (Error& e) {
            e.with_context("setting " + name_of("time_zone", spelling));
            throw;
        }
    }
    return p;
}

}  // namespace dolibak::retention
