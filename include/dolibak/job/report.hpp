#pragma once
// The reports of the backup job as JSON: what `dolibak <command> --json` prints and what the
// Python reports' to_dict() return. Times are RFC 3339 UTC strings; no secret is included.
#include <dolibak/job/job.hpp>

#include <string>

namespace dolibak::job {

std::string to_json(const BackupReport& r);
std::string to_json(const PruneReport& r);
std::string to_json(const ListReport& r);
std::string to_json(const VerifyReport& r);
std::string to_json(const pgdump::RestoreReport& r);
std::string to_json(const DocsRestoreReport& r);
std::string to_json(const StatusReport& r);
std::string to_json(const CheckReport& r);
std::string to_json(const RefreshReport& r);

}  // namespace dolibak::job
