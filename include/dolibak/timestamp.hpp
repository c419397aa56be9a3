#pragma once
// Time stamps of backups and the store keys that carry them.
//
// A run is named by its start time in UTC, written `YYYYMMDDTHHMMSSZ` (e.g. 20261123T020000Z),
// and its objects live under
//   <prefix>/db/<ts>.dump           <prefix>/db/<ts>.dump.zst
//   <prefix>/docs/<ts>.tar.gz       <prefix>/docs/<ts>.tar.zst
//   <prefix>/manifests/<ts>.json
// Objects written by the original shell scripts use the same names (without a manifest).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace dolibak {

/// A point in time with one-second resolution, in UTC (the system clock's epoch).
using TimePoint = std::chrono::sys_seconds;

/// Parses a `YYYYMMDDTHHMMSSZ` time stamp strictly: exactly 16 characters, a real calendar
/// date, hours 00-23, minutes and seconds 00-59, the literal `T` and `Z`. Throws ConfigError
/// naming the input and what is wrong with it.
TimePoint parse_timestamp(std::string_view text);
/// As parse_timestamp, but returns nothing instead of throwing.
std::optional<TimePoint> try_parse_timestamp(std::string_view text) noexcept;
/// `YYYYMMDDTHHMMSSZ` of a time point (years 0000-9999).
std::string format_timestamp(TimePoint t);

/// Parses RFC 3339 in UTC with whole seconds, `YYYY-MM-DDTHH:MM:SSZ`, strictly (as written in
/// manifests). Throws ConfigError.
TimePoint parse_rfc3339(std::string_view text);
/// `YYYY-MM-DDTHH:MM:SSZ`.
std::string format_rfc3339(TimePoint t);

/// What a store object is, from its name.
enum class ObjectKind {
    db_dump,          ///< <prefix>/db/<ts>.dump (pg_dump custom format)
    db_dump_zst,      ///< <prefix>/db/<ts>.dump.zst
    docs_tar_gz,      ///< <prefix>/docs/<ts>.tar.gz
    docs_tar_zst,     ///< <prefix>/docs/<ts>.tar.zst
    manifest,         ///< <prefix>/manifests/<ts>.json
    globals_sql,      ///< <prefix>/globals/<ts>.sql (pg_dumpall --globals-only)
    verification,     ///< <prefix>/verified/<ts>.json (a `verify` of the run <ts>, before 0.2)
    verified_ok,      ///< <prefix>/verified/<ts>.ok.json (the last `verify` of <ts>: all ok)
    verified_failed,  ///< <prefix>/verified/<ts>.failed.json (the last `verify` found problems)
};

/// "db", "docs" or "manifests": the folder of a kind, which is also the half's name for the
/// two halves.
std::string_view folder_of(ObjectKind kind) noexcept;
/// The file name suffix of a kind: ".dump", ".dump.zst", ".tar.gz", ".tar.zst", ".json".
std::string_view suffix_of(ObjectKind kind) noexcept;
/// True for the objects that hold a half's data (not the manifest, not a verification record).
bool is_backup_object(ObjectKind kind) noexcept;
/// True for the three kinds of verification record.
bool is_verification_record(ObjectKind kind) noexcept;

/// A store key taken apart.
struct StoreKey {
    std::string prefix;  ///< everything before "/db/", "/docs/" or "/manifests/"; may be empty
    std::string half;    ///< "db", "docs" or "manifests" (the folder)
    TimePoint time{};
    ObjectKind kind = ObjectKind::db_dump;
};

/// Recognises `[<prefix>/]<folder>/<ts><suffix>`; nothing for any other key (temporary
/// objects, fingerprints, locks, foreign files), and nothing when the time stamp is invalid.
std::optional<StoreKey> parse_store_key(std::string_view key) noexcept;
/// Builds the key of an object; `prefix` may be empty or end with '/'.
std::string make_store_key(std::string_view prefix, ObjectKind kind, TimePoint time);

}  // namespace dolibak
