#pragma once
// A database given from Python: a libpq conninfo string (or a bare name, or a settings file;
// see job_settings.hpp target_connection) or a dict of host, port, user, dbname, password,
// sslmode. Shared by Job.restore_db, Job.refresh and dolibak.fingerprint.database.
#include <dolibak/pgdump/tools.hpp>

#include <pybind11/pybind11.h>

namespace dolibak::python {

/// `what` names the argument in errors; the password never appears in one.
/// `configured`: for a string, the configured database whose connection it keeps (restore_db).
pgdump::ConnectionParams to_target(const pybind11::object& target, const char* what,
                                   const pgdump::ConnectionParams* configured = nullptr);

}  // namespace dolibak::python
