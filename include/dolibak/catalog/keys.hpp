#pragma once
// The store keys of backup runs. A run is named by its start time in UTC, written
// `YYYYMMDDTHHMMSSZ` (e.g. 20261123T020000Z, see <dolibak/core/timestamp.hpp>), and its objects
// live under
//   <prefix>/db/<ts>.dump           <prefix>/db/<ts>.dump.zst
//   <prefix>/docs/<ts>.tar.gz       <prefix>/docs/<ts>.tar.zst
//   <prefix>/docs/<ts>.index.zst    (the index of a packs-mode run, whose data is in packs/)
//   <prefix>/manifests/<ts>.json
// Objects written by the original shell scripts use the same names (without a manifest).
// A half's object encrypted to age recipients carries a further `.age` (db/<ts>.dump.zst.age,
// docs/<ts>.tar.gz.age, globals/<ts>.sql.age): docs/encryption.md.
#include <dolibak/core/export.hpp>
#include <dolibak/core/timestamp.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace dolibak::catalog {

/// What a store object is, from its name.
enum class ObjectKind {
    db_dump,          ///< <prefix>/db/<ts>.dump (pg_dump custom format)
    db_dump_zst,      ///< <prefix>/db/<ts>.dump.zst
    docs_tar_gz,      ///< <prefix>/docs/<ts>.tar.gz
    docs_tar_zst,     ///< <prefix>/docs/<ts>.tar.zst
    docs_index,       ///< <prefix>/docs/<ts>.index.zst (docs_mode packs: docs/packs.md)
    manifest,         ///< <prefix>/manifests/<ts>.json
    globals_sql,      ///< <prefix>/globals/<ts>.sql (pg_dumpall --globals-only)
    verification,     ///< <prefix>/verified/<ts>.json (a `verify` of the run <ts>, before 0.2)
    verified_ok,      ///< <prefix>/verified/<ts>.ok.json (the last `verify` of <ts>: all ok)
    verified_failed,  ///< <prefix>/verified/<ts>.failed.json (the last `verify` found problems)
};

/// "db", "docs" or "manifests": the folder of a kind, which is also the half's name for the
/// two halves.
DOLIBAK_API std::string_view folder_of(ObjectKind kind) noexcept;
/// The file name suffix of a kind: ".dump", ".dump.zst", ".tar.gz", ".tar.zst", ".json".
DOLIBAK_API std::string_view suffix_of(ObjectKind kind) noexcept;
/// True for the objects that hold a half's data (not the manifest, not a verification record).
DOLIBAK_API bool is_backup_object(ObjectKind kind) noexcept;
/// True for the three kinds of verification record.
DOLIBAK_API bool is_verification_record(ObjectKind kind) noexcept;

/// A store key taken apart.
struct DOLIBAK_API StoreKey {
    std::string prefix;  ///< everything before "/db/", "/docs/" or "/manifests/"; may be empty
    std::string half;    ///< "db", "docs" or "manifests" (the folder)
    TimePoint time{};
    ObjectKind kind = ObjectKind::db_dump;
    bool encrypted = false;  ///< the name ends with ".age" (a half's object only)
};

/// A store key taken apart without copies: its prefix and half are parts of the key.
struct DOLIBAK_API StoreKeyView {
    std::string_view prefix;
    std::string_view half;
    TimePoint time{};
    ObjectKind kind = ObjectKind::db_dump;
    bool encrypted = false;
};

/// Recognises `[<prefix>/]<folder>/<ts><suffix>`; nothing for any other key (temporary
/// objects, fingerprints, locks, foreign files), and nothing when the time stamp is invalid.
DOLIBAK_API std::optional<StoreKey> parse_store_key(std::string_view key) noexcept;
/// The same, as views into `key` (nothing allocated).
DOLIBAK_API std::optional<StoreKeyView> parse_store_key_view(std::string_view key) noexcept;
/// A run as a person names it (verify, restore): "latest" or empty gives nothing (the newest
/// run); otherwise its time in either form, `20261206T172345Z` or `2026-12-06T17:23:45Z` (as
/// `dolibak list` prints it). Throws ConfigError naming the input and the accepted forms.
DOLIBAK_API std::optional<TimePoint> parse_run_name(std::string_view which);

/// The suffix of an age-encrypted object, after its kind's own.
inline constexpr std::string_view encrypted_suffix = ".age";

/// Builds the key of an object; `prefix` may be empty or end with '/'. `encrypted` appends
/// ".age" (a half's object only: ConfigError for a manifest or a verification record).
DOLIBAK_API std::string make_store_key(std::string_view prefix, ObjectKind kind, TimePoint time,
                                       bool encrypted = false);

}  // namespace dolibak::catalog
