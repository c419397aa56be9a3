#pragma once
// A retention policy as a user gives it: the config file's keys, the CLI's flags and the
// Python keywords are all turned into a Policy by build_policy(), so the defaults, the mode
// inference and the checks are the same whatever the interface.
#include <dolibak/core/export.hpp>
#include <dolibak/retention/planner.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace dolibak::retention {

/// Every setting optional: unset means the default (TieredPolicy's windows, CountPolicy's
/// rules off, keep_oldest_if_unfilled on, UTC).
struct DOLIBAK_API PolicySpec {
    /// "tiered" or "count". Unset: count when any count is given, else tiered.
    std::optional<std::string> mode;
    std::optional<int> daily_days, monthly_months, yearly_years;      ///< tiered
    std::optional<int> last, hourly, daily, weekly, monthly, yearly;  ///< count; -1: unlimited
    std::optional<bool> keep_oldest_if_unfilled;                      ///< count
    std::optional<std::string> time_zone;  ///< UTC, +02:00 or an IANA name
};

/// How errors name the settings: the config file's keys ("keep_daily_days"), the CLI's flags
/// ("--keep-daily-days") or Python's keywords ("daily_days").
enum class Spelling { config, cli, python };

/// The largest values accepted.
inline constexpr int max_daily_days = 36500;
inline constexpr int max_monthly_months = 12000;
inline constexpr int max_yearly_years = 1000;
inline constexpr int max_count = 1'000'000;

/// A count as text: "unlimited" or "-1" (CountPolicy::unlimited), or 0 to max_count;
/// nullopt when the text is none of these.
DOLIBAK_API std::optional<int> parse_count(std::string_view text);

/// The policy `spec` describes. Throws ConfigError naming the setting (in `spelling`) for an
/// unknown mode, a tiered setting with count mode or the reverse, a value out of range, or an
/// unknown time zone. A count policy with no rule is allowed here (it keeps everything, as
/// restic does); the backup job refuses it on its own.
DOLIBAK_API Policy build_policy(const PolicySpec& spec, Spelling spelling = Spelling::config);

}  // namespace dolibak::retention
