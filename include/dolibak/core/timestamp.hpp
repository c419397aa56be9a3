#pragma once
// Time points and their text forms: the `YYYYMMDDTHHMMSSZ` time stamps that name backup runs
// (e.g. 20261123T020000Z, in UTC) and RFC 3339. The store keys built from them are in
// <dolibak/catalog/keys.hpp>.
#include <chrono>
#include <dolibak/core/export.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace dolibak {

/// A point in time with one-second resolution, in UTC (the system clock's epoch).
using TimePoint = std::chrono::sys_seconds;

/// Parses a `YYYYMMDDTHHMMSSZ` time stamp strictly: exactly 16 characters, a real calendar
/// date, hours 00-23, minutes and seconds 00-59, the literal `T` and `Z`. Throws ConfigError
/// naming the input and what is wrong with it.
DOLIBAK_API TimePoint parse_timestamp(std::string_view text);
/// As parse_timestamp, but returns nothing instead of throwing.
DOLIBAK_API std::optional<TimePoint> try_parse_timestamp(std::string_view text) noexcept;
/// `YYYYMMDDTHHMMSSZ` of a time point (years 0000-9999).
DOLIBAK_API std::string format_timestamp(TimePoint t);

/// Parses RFC 3339 in UTC with whole seconds, `YYYY-MM-DDTHH:MM:SSZ`, strictly (as written in
/// manifests). Throws ConfigError.
DOLIBAK_API TimePoint parse_rfc3339(std::string_view text);
/// `YYYY-MM-DDTHH:MM:SSZ`.
DOLIBAK_API std::string format_rfc3339(TimePoint t);

/// Either form, as a person may copy it: `YYYYMMDDTHHMMSSZ` (store keys) or
/// `YYYY-MM-DDTHH:MM:SSZ` (what `dolibak list` prints), each parsed strictly. Throws
/// ConfigError naming the input, what is wrong and both forms.
DOLIBAK_API TimePoint parse_time_either(std::string_view text);

}  // namespace dolibak
