// TEMPORARY while the operations are being written (one file each): removed before landing.
#include "job/job_impl.hpp"

namespace dolibak::job {
VerifyReport Job::verify(const std::string&) {
    throw Error("verify: not written yet");
}
pgdump::RestoreReport Job::restore_db(const RestoreDbOptions&) {
    throw Error("restore_db: not written yet");
}
DocsRestoreReport Job::restore_docs(const RestoreDocsOptions&) {
    throw Error("restore_docs: not written yet");
}
CheckReport Job::check() {
    throw Error("check: not written yet");
}
RefreshReport Job::refresh(const RefreshOptions&) {
    throw Error("refresh: not written yet");
}
}  // namespace dolibak::job
