// One builder for retention policies (config file, CLI flags, Python keywords): defaults, mode
// inference, the checks, and errors that name the setting as the user spelled it.
#include "support/testsupport.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/retention/policy_spec.hpp>
#include <dolibak/retention/timezone.hpp>

#include <doctest/doctest.h>

#include <string>

using namespace dolibak;
using namespace dolibak::retention;

namespace {

std::string error_of(const PolicySpec& spec, Spelling spelling) {
    try {
        (void)build_policy(spec, spelling);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("an empty spec is the default tiered policy in UTC") {
    const Policy p = build_policy({});
    CHECK(p.mode == Policy::Mode::tiered);
    CHECK(p.tiered.daily_days == 30);
    CHECK(p.tiered.monthly_months == 12);
    CHECK(p.tiered.yearly_years == 10);
    CHECK(p.count.empty());
    CHECK(p.count.keep_oldest_if_unfilled);
    CHECK(p.zone.name() == "UTC");
}

TEST_CASE("a count given without a mode makes a count policy; unset windows keep defaults") {
    PolicySpec s;
    s.daily = 7;
    s.monthly = CountPolicy::unlimited;
    const Policy p = build_policy(s);
    CHECK(p.mode == Policy::Mode::count);
    CHECK(p.count.daily == 7);
    CHECK(p.count.monthly == CountPolicy::unlimited);
    CHECK(p.count.last == 0);

    PolicySpec t;
    t.monthly_months = 24;
    const Policy q = build_policy(t);
    CHECK(q.mode == Policy::Mode::tiered);
    CHECK(q.tiered.monthly_months == 24);
    CHECK(q.tiered.daily_days == 30);
}

TEST_CASE("mixing the modes is refused, naming the settings in the user's spelling") {
    PolicySpec s;
    s.daily_days = 5;
    s.last = 1;
    const std::string config = error_of(s, Spelling::config);
    CHECK(config.find("keep_daily_days") != std::string::npos);
    CHECK(config.find("different modes") != std::string::npos);
    const std::string cli = error_of(s, Spelling::cli);
    CHECK(cli.find("--keep-daily-days") != std::string::npos);
    const std::string py = error_of(s, Spelling::python);
    CHECK(py.find("daily_days") != std::string::npos);
    CHECK(py.find("keep_daily_days") == std::string::npos);

    PolicySpec t;
    t.mode = "tiered";
    t.keep_oldest_if_unfilled = false;
    CHECK(error_of(t, Spelling::cli).find("--no-keep-oldest") != std::string::npos);
    CHECK(error_of(t, Spelling::config).find("set retention to count") != std::string::npos);

    PolicySpec u;
    u.mode = "weekly";
    CHECK(error_of(u, Spelling::cli).find("--mode must be 'tiered' or 'count'") !=
          std::string::npos);
}

TEST_CASE("values out of range and unknown zones are refused by name") {
    PolicySpec s;
    s.yearly_years = -2;
    CHECK(error_of(s, Spelling::python).find("yearly_years must be from 0 to 1000") !=
          std::string::npos);
    PolicySpec c;
    c.weekly = -5;
    CHECK(error_of(c, Spelling::cli).find("--keep-weekly must be a count") != std::string::npos);
    PolicySpec z;
    z.time_zone = "Nowhere/Land";
    CHECK(error_of(z, Spelling::cli).find("--time-zone") != std::string::npos);
}

TEST_CASE("a count policy without a rule is allowed by the builder (restic keeps everything)") {
    PolicySpec s;
    s.mode = "count";
    CHECK(build_policy(s).count.empty());
}

TEST_CASE("parse_count") {
    CHECK(parse_count("unlimited") == CountPolicy::unlimited);
    CHECK(parse_count("-1") == CountPolicy::unlimited);
    CHECK(parse_count("0") == 0);
    CHECK(parse_count("1000000") == 1000000);
    CHECK_FALSE(parse_count("1000001"));
    CHECK_FALSE(parse_count("-2"));
    CHECK_FALSE(parse_count(""));
    CHECK_FALSE(parse_count("7d"));
    CHECK_FALSE(parse_count(" 7"));
}
