#pragma once
// Text renderings of the job's reports (the --json form is in libdolibak: job_report.hpp).
#include <dolibak/job/job.hpp>

#include <string>

namespace dolibak::cli::text {

std::string backup(const job::BackupReport& r);
std::string prune(const job::PruneReport& r);
std::string list(const job::ListReport& r);
std::string verify(const job::VerifyReport& r);
std::string restore_db(const pgdump::RestoreReport& r);
std::string restore_docs(const job::DocsRestoreReport& r);
std::string status(const job::StatusReport& r, double max_age_seconds);
std::string check(const job::CheckReport& r);
std::string refresh(const job::RefreshReport& r);

}  // namespace dolibak::cli::text
