#pragma once
// The catalog: the history of a store, and the invariants that keep it restorable.
//
// It owns what the store holds besides the halves' data: the key layout and time stamps
// (timestamp.hpp), the runs' manifests (manifest.hpp), the stored fingerprints (.fp-<half>),
// the verification records (verified/<ts>.json) and the lease (.lock). The operations of the
// job layer read and write the history only through it. docs/store-layout.md describes the
// layout and the invariants:
//   - final keys are written once;
//   - one lock holder at a time (lease.hpp);
//   - retention decides over runs: an object stays while any kept run names it, so prune
//     never makes a listed run unrestorable (prune_plan.hpp);
//   - a run stamped beyond the clock-skew tolerance in the future is flagged, never "latest".
#include <dolibak/catalog/manifest.hpp>
#include <dolibak/core/export.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/store/store.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dolibak::catalog {

/// How far in the future a run may be stamped before it counts as future-dated (a machine
/// with a wrong clock): S3's own tolerance for request times.
inline constexpr std::chrono::seconds clock_skew_tolerance{15 * 60};

/// True when `t` lies beyond `now` plus the tolerance.
inline bool is_future(TimePoint t, TimePoint now) noexcept {
    return t > now + clock_skew_tolerance;
}

/// Object keys of the layout (relative to the store's prefix).
inline constexpr const char* lock_key = ".lock";
/// ".fp-db", ".fp-docs".
DOLIBAK_API std::string fingerprint_key(const std::string& half);
/// The store's marker: written (once) by the first run of a dolibak that keeps manifests,
/// before it stores anything. An object no manifest names is an old script's backup when it
/// is older than the marker, else the leftover of a run that was killed.
inline constexpr const char* marker_key = ".dolibak";

struct DOLIBAK_API BackupEntry {
    std::string half;  ///< "db", "docs", "globals"
    TimePoint time{};
    std::string key;
    std::uint64_t size = 0;
    /// A manifest of this time names the object (false: left by the old scripts).
    bool has_manifest = false;
    std::string sha256;  ///< from the manifest, when known
    /// The newest `verify` that checked this object (recorded in verified/<ts>.json).
    struct Verified {
        TimePoint at{};
        bool ok = false;
        TimePoint run{};  ///< the run whose verification it was
    };
    std::optional<Verified> verified;
};

struct DOLIBAK_API RunEntry {
    TimePoint time{};
    std::string manifest_key;
    bool loaded = false;  ///< `manifest` was read
    Manifest manifest;
    /// Why the manifest could not be read, when it was asked for and could not.
    std::string error;
    /// What the retention policy decides for each half of the run, by half name, when the
    /// listing was planned (job::Job::list does): kept, and why, or dropped by the next prune.
    struct Retention {
        bool keep = false;
        std::vector<std::string> reasons;  ///< "daily", "monthly", "newest-success", ...
        std::string detail;                ///< "month 2026-09", "older than the yearly window"
    };
    std::map<std::string, Retention> retention{};
};

struct DOLIBAK_API Listing {
    std::vector<BackupEntry> backups;      ///< every backup object, oldest first
    std::vector<RunEntry> runs;            ///< every manifest, oldest first
    std::vector<store::ObjectInfo> other;  ///< objects that are neither (ignored by prune)
    /// The verification records (verified/<ts>[.ok|.failed].json), oldest first.
    std::vector<store::ObjectInfo> verifications;
};

/// The stored fingerprint of a half (.fp-<half>): a small JSON object naming the object it
/// describes.
struct DOLIBAK_API StoredFingerprint {
    std::string half;
    std::string value;   ///< fingerprint value (hex)
    std::string mode;    ///< "xmin", "content", "count-tms" / "metadata", "content"
    std::string object;  ///< the key of the object it describes
    TimePoint time{};    ///< that object's <ts>
    std::string sha256;  ///< of that object's bytes
    std::uint64_t bytes = 0;
    /// Database: the digest of each table's line ("schema.table" -> hex) and of the schema,
    /// beside the combined value. Absent from a fingerprint written before they were kept
    /// (then `tables` is unset): it still compares by `value`, but cannot name tables.
    std::optional<std::map<std::string, std::string>> tables{};
    std::string schema_digest{};
    /// Database: the fingerprint's pre-check state (JSON text, docs/fingerprint.md), kept as
    /// "precheck"; empty in a fingerprint written before it was kept (the next fingerprint then
    /// reads every table).
    std::string state{};
    std::string to_json() const;
    /// Throws FormatError naming the field.
    static StoredFingerprint from_json(std::string_view text);
};

/// A `verified/<ts>.json` record read back: which objects a verification of run <ts> checked.
struct DOLIBAK_API Verification {
    TimePoint run{};
    TimePoint at{};
    std::vector<std::pair<std::string, bool>> objects;  ///< key, ok
};
/// Nothing when the text is not such a record (a foreign or damaged object).
DOLIBAK_API std::optional<Verification> parse_verification(std::string_view text);

class DOLIBAK_API Catalog {
public:
    using Warn = std::function<void(const std::string& message)>;
    Catalog(store::Store& store, Warn warn);

    store::Store& store() noexcept { return store_; }

    enum class Load { none, newest, all };
    /// Every object of the store, classified. Manifests are read as asked: none, the newest
    /// only, or all (one GET each); with `verifications`, the records too, which set
    /// BackupEntry::verified. A manifest that cannot be read is warned about and left with
    /// RunEntry::error set.
    Listing scan(Load load, bool verifications = false);
    /// Throws (with the key in the context) when it cannot be read or parsed.
    Manifest load_manifest(const std::string& key);
    /// Publishes a run's manifest under manifests/<ts>.json, never replacing one.
    std::string publish_manifest(const Manifest& manifest);

    /// Writes the store's marker when it is missing (its time: `now`).
    void mark(TimePoint now);
    /// When the marker says runs with manifests began, if there is a readable marker.
    std::optional<TimePoint> marked_since();

    /// The stored fingerprint of a half, when there is a readable one (an unreadable one is
    /// warned about and ignored: the half is then uploaded).
    std::optional<StoredFingerprint> fingerprint(const std::string& half);
    void store_fingerprint(const StoredFingerprint& fp);

    /// Stores the record of a verification of run `run` (its report as JSON) under
    /// verified/<ts>.ok.json or .failed.json (the outcome in the name: `list` reads no
    /// all-ok record), removes the run's older records and returns the key.
    std::string record_verification(TimePoint run, TimePoint at, bool ok,
                                    const std::string& report_json);

    /// The backup of `half` named by "latest" or a <ts>; a run that found the half unchanged
    /// resolves to the object its manifest names. "latest" skips runs and objects stamped in
    /// the future of `now` (beyond the tolerance). Throws ConfigError when there is none.
    BackupEntry find_backup(const Listing& listing, const std::string& half,
                            const std::string& which, TimePoint now);
    /// What the manifest of the run that stored `entry` says about it, when there is one.
    std::optional<ManifestHalf> recorded_half(const Listing& listing, const BackupEntry& entry);

private:
    store::Store& store_;
    Warn warn_;
};

}  // namespace dolibak::catalog
