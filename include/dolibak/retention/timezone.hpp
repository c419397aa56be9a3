#pragma once
// Time zones for calendar buckets (retention's days, weeks, months and years).
//
// libstdc++ 12 has no std::chrono time zone database (std::chrono::locate_zone came with
// GCC 14), so dolibak reads the system's compiled IANA zone files (TZif, RFC 8536) itself:
// explicit transitions, then the POSIX TZ rule of the file's footer for later times. Fixed
// UTC offsets are supported too. Loading a zone reads a file; using one is pure.
#include <dolibak/core/export.hpp>
#include <dolibak/core/timestamp.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace dolibak::retention {

class DOLIBAK_API TimeZone {
public:
    /// UTC (the default).
    TimeZone();
    static TimeZone utc() { return TimeZone(); }
    /// A fixed offset east of UTC (ISO 8601 sign: +02:00 is two hours ahead of UTC); the
    /// offset must be less than 24 hours either way.
    static TimeZone fixed(std::chrono::seconds offset);
    /// "UTC", "Z", a fixed offset ("+02:00", "-0530", "UTC+01:00", "UTC-3"), or an IANA name
    /// ("Europe/Paris") read from $TZDIR or /usr/share/zoneinfo. Throws ConfigError when the
    /// name is malformed or the zone is not found or not readable.
    static TimeZone locate(std::string_view name);
    /// A zone from the bytes of a TZif file (versions 1 to 4); throws FormatError when they
    /// are not a valid TZif file.
    static TimeZone from_tzif(std::string name, std::string_view bytes);
    /// A zone from a POSIX TZ rule such as "CET-1CEST,M3.5.0,M10.5.0/3" (POSIX sign: the
    /// offset is west of UTC). Throws ConfigError when the rule is malformed.
    static TimeZone from_posix_rule(std::string_view rule);

    /// The name it was created from ("UTC", "+02:00", "Europe/Paris").
    const std::string& name() const noexcept { return name_; }
    /// Offset of local wall time from UTC at instant `t` (positive east of UTC).
    std::chrono::seconds offset_at(TimePoint t) const;
    /// The local wall time at `t`, expressed as if it were a UTC time point (so that
    /// std::chrono's calendar types give the local date and time).
    TimePoint to_local(TimePoint t) const { return t + offset_at(t); }

    struct Rules;  // implementation detail

private:
    std::string name_;
    std::shared_ptr<const Rules> rules_;  // null: UTC
};

}  // namespace dolibak::retention
