// TEMPORARY while the operations are being written (one file each): removed before landing.
#include "job/job_impl.hpp"

namespace dolibak::job {
BackupReport Job::backup(const BackupOptions&) { throw Error("backup: not written yet"); }
PruneReport Job::prune(bool, bool) { throw Error("prune: not written yet"); }
StatusReport Job::status(std::chrono::seconds, const std::optional<std::filesystem::path>&) { throw Error("status: not written yet"); }
}  // namespace dolibak::job
