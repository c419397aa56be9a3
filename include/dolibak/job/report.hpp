#pragma once
// The reports of the backup job as JSON: what `dolibak <command> --json` prints and what the
// Python reports' to_dict() return. Times are RFC 3339 UTC strings; no secret is included.
#include <dolibak/core/export.hpp>
#include <dolibak/job/job.hpp>

#include <string>
#include <string_view>

namespace dolibak::job {

/// Every document carries "schema": "dolibak.<kind>/<major>" (docs/json.md): the kind of
/// document and the major version of its shape. An addition keeps the major; a change that
/// could break a reader (a field removed, renamed or retyped) bumps it.
DOLIBAK_API std::string schema_id(std::string_view kind);

/// What the JSON forms of `list` and `status` include.
struct DOLIBAK_API JsonOptions {
    /// Each run's whole manifest under "manifest" (else a summary of the run only).
    bool manifests = false;
};

DOLIBAK_API std::string to_json(const BackupReport& r);
DOLIBAK_API std::string to_json(const PruneReport& r);
DOLIBAK_API std::string to_json(const ListReport& r, const JsonOptions& options = {});
DOLIBAK_API std::string to_json(const VerifyReport& r);
DOLIBAK_API std::string to_json(const pgdump::RestoreReport& r);
DOLIBAK_API std::string to_json(const DocsRestoreReport& r);
DOLIBAK_API std::string to_json(const StatusReport& r, const JsonOptions& options = {});
DOLIBAK_API std::string to_json(const CheckReport& r);
DOLIBAK_API std::string to_json(const RefreshReport& r);
/// A backup's table changes ("table_changes" of a half in the backup document).
DOLIBAK_API std::string to_json(const TableChanges& c);

/// One log line as JSON ("dolibak.log/1"; one line, no newline): time, level ("info",
/// "warning", "error"), message, and the event's half, key, bytes, seconds and outcome when
/// set. `message` and `key` are taken as given (the caller redacts them).
struct DOLIBAK_API LogRecord {
    TimePoint time{};
    std::string level = "info";
    std::string message;
    std::string half;
    std::string key;
    std::optional<std::uint64_t> bytes;
    std::optional<double> seconds;
    std::string outcome;
};
/// The log record of an event (info: "info", warning: "warning") at time `time`.
DOLIBAK_API LogRecord log_record(const Event& e, TimePoint time);
DOLIBAK_API std::string to_json_line(const LogRecord& r);

/// A backup run as Prometheus textfile metrics (dolibak_backup_*: the run, its halves, and
/// the prune after it), labelled with the store's URL: what `dolibak backup --metrics FILE`
/// writes (BackupOptions::metrics_file). docs/runbook.md lists the metrics.
DOLIBAK_API std::string to_prometheus(const BackupReport& r, std::string_view store_url);

}  // namespace dolibak::job
