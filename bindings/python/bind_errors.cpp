// dolibak.Error and its subclasses, mirroring the C++ hierarchy.
#include "registry.hpp"

#include <dolibak/core/error.hpp>

namespace py = pybind11;

namespace dolibak::python {
namespace {

const Registrar registrar(0, [](py::module_& m) {
    static py::exception<Error> error(m, "Error");
    static py::exception<ConfigError> config_error(m, "ConfigError", error.ptr());
    static py::exception<IoError> io_error(m, "IoError", error.ptr());
    static py::exception<ProcessError> process_error(m, "ProcessError", error.ptr());
    static py::exception<FormatError> format_error(m, "FormatError", error.ptr());
    static py::exception<RemoteError> remote_error(m, "RemoteError", error.ptr());
    static py::exception<DatabaseError> database_error(m, "DatabaseError", error.ptr());
    static py::exception<VerificationError> verification_error(m, "VerificationError", error.ptr());
    static py::exception<Cancelled> cancelled(m, "Cancelled", error.ptr());
    error.doc() = "Base of every error dolibak raises; the message says what failed and where.";
    config_error.doc() = "A setting, an argument or a configuration file is wrong.";
    io_error.doc() = "A file, directory or stream operation failed.";
    process_error.doc() = "A child process (pg_dump, pg_restore, a hook) failed.";
    format_error.doc() = "Data is not in the expected format (an archive, a manifest, an answer).";
    remote_error.doc() = "The store or another server refused or failed a request.";
    database_error.doc() = "PostgreSQL refused a connection or a query.";
    verification_error.doc() = "What was read back does not match what was recorded.";
    cancelled.doc() = "The operation was cancelled (Job.cancel(), a signal).";
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const ConfigError& e) {
            config_error(e.what());
        } catch (const IoError& e) {
            io_error(e.what());
        } catch (const ProcessError& e) {
            process_error(e.what());
        } catch (const FormatError& e) {
            format_error(e.what());
        } catch (const RemoteError& e) {
            remote_error(e.what());
        } catch (const DatabaseError& e) {
            database_error(e.what());
        } catch (const VerificationError& e) {
            verification_error(e.what());
        } catch (const Cancelled& e) {
            cancelled(e.what());
        } catch (const Error& e) {
            error(e.what());
        }
    });
});

}  // namespace
}  // namespace dolibak::python
