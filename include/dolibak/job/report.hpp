#pragma once
// The reports of the backup job as JSON: what `dolibak <command> --json` prints and what the
// Python reports' to_dict() return. Times are RFC 3339 UTC strings; no secret is included.
#include <dolibak/core/export.hpp>
#include <dolibak/job/job.hpp>

#include <string>
#include <string_view>

namespace dolibak::job {

DOLIBAK_API std::string to_json(const BackupReport& r);
DOLIBAK_API std::string to_json(const PruneReport& r);
DOLIBAK_API std::string to_json(const ListReport& r);
DOLIBAK_API std::string to_json(const VerifyReport& r);
DOLIBAK_API std::string to_json(const pgdump::RestoreReport& r);
DOLIBAK_API std::string to_json(const DocsRestoreReport& r);
DOLIBAK_API std::string to_json(const StatusReport& r);
DOLIBAK_API std::string to_json(const CheckReport& r);
DOLIBAK_API std::string to_json(const RefreshReport& r);

/// A backup run as Prometheus textfile metrics (dolibak_backup_*: the run, its halves, and
/// the prune after it), labelled with the store's URL: what `dolibak backup --metrics FILE`
/// writes (BackupOptions::metrics_file). docs/runbook.md lists the metrics.
DOLIBAK_API std::string to_prometheus(const BackupReport& r, std::string_view store_url);

}  // namespace dolibak::job
