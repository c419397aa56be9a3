#pragma once
// The manifest of a run, stored as <prefix>/manifests/<ts>.json: what the run did for each
// half (uploaded a new object, found it unchanged, failed, or was told to skip it), the
// object's key, size and SHA-256, its archive summary and fingerprint (JSON objects defined by
// the pgdump/tarball and fingerprint layers, kept opaque here), tool and server versions and
// durations. docs/manifest.md describes the JSON form.
#include <dolibak/core/export.hpp>
#include <dolibak/core/timestamp.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::catalog {

struct DOLIBAK_API ManifestHalf {
    enum class Status {
        uploaded,   ///< a new object was stored under `key`
        unchanged,  ///< the fingerprint matched: `key` names the earlier object still valid
        failed,     ///< the half failed (`error` says why); `key` may be empty
        skipped,    ///< not asked for (--db-only / --docs-only)
    };
    Status status = Status::uploaded;
    std::string key;          ///< the object holding this half's data (empty: skipped/failed)
    std::uint64_t bytes = 0;  ///< the object's size
    std::string sha256;       ///< lower-case hex SHA-256 of the object's bytes
    std::string format;       ///< "pg_dump-custom", "tar.gz", "tar.zst", ... (free text)
    /// JSON text of the archive summary (TOC counts, per-table row counts, file counts), or
    /// empty when absent. Must be a JSON object. from_json gives it back compact, with its
    /// keys sorted (so a round trip is exact for text in that canonical form).
    std::string archive_summary_json;
    /// JSON text of the fingerprint the half was compared with, or empty. Must be an object.
    std::string fingerprint_json;
    std::string tool_version;    ///< e.g. "pg_dump (PostgreSQL) 15.8"
    std::string server_version;  ///< e.g. "15.8" (db half), empty otherwise
    double duration_seconds = 0;
    std::string error;  ///< why it failed (status failed), empty otherwise
    /// "age" when the object is encrypted to age recipients (bytes and sha256 are then the
    /// ciphertext's), empty when it is stored in the clear.
    std::string encryption;
    /// An encrypted object's archive summary (table names, row counts, file counts), sealed
    /// to the same recipients (io::age_seal, base64); archive_summary_json is then empty.
    std::string archive_summary_sealed;

    bool operator==(const ManifestHalf&) const = default;
};

DOLIBAK_API std::string_view to_string(ManifestHalf::Status s) noexcept;

struct DOLIBAK_API Manifest {
    static constexpr int current_version = 1;

    int version = current_version;
    TimePoint time{};          ///< the run's time stamp (the `<ts>` of its keys)
    TimePoint started_at{};    ///< when the run started
    TimePoint finished_at{};   ///< when it finished
    std::string tool_version;  ///< dolibak's version
    std::string profile;       ///< application profile ("dolibarr", "odoo")
    /// The halves by name ("db", "docs", "globals"), at least one.
    std::map<std::string, ManifestHalf> halves;

    bool operator==(const Manifest&) const = default;

    /// True when no half failed.
    bool succeeded() const noexcept;
    /// Every object key the manifest names (uploaded and unchanged halves): the objects that
    /// retention must protect while this is the newest manifest.
    std::vector<std::string> keys() const;

    /// The JSON form (compact, keys sorted, one line).
    std::string to_json() const;
    /// Parses strictly: required fields present with the right types, a known version (a
    /// newer one is refused), valid time stamps, statuses and digests. Unknown fields are
    /// ignored so that later minor additions stay readable. Throws FormatError naming the
    /// field.
    static Manifest from_json(std::string_view text);
};

}  // namespace dolibak::catalog
