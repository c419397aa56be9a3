// dolibak.pgdump: the native reader of pg_dump custom archives.
#include "json_value.hpp"
#include "registry.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/pgdump/archive.hpp>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cstring>
#include <filesystem>

namespace py = pybind11;

namespace dolibak::python {
namespace {

// A Source over a Python binary file object (anything with read(n) -> bytes).
class PyFileSource final : public io::Source {
public:
    explicit PyFileSource(py::object f) : f_(std::move(f)) {}
    std::size_t read(io::MutableBytes buf) override {
        py::gil_scoped_acquire gil;
        py::bytes b = f_.attr("read")(buf.size());
        const std::string_view v = b;
        if (v.size() > buf.size()) throw FormatError("file object returned more bytes than asked");
        std::memcpy(buf.data(), v.data(), v.size());
        return v.size();
    }

private:
    py::object f_;
};

std::pair<pgdump::VerifyResult, pgdump::ArchiveSummary> verify_any(const py::object& what) {
    if (py::hasattr(what, "read")) {
        PyFileSource src(what);
        py::gil_scoped_release release;
        return pgdump::open_and_verify(src, "file object");
    }
    const auto path = what.cast<std::filesystem::path>();
    py::gil_scoped_release release;
    io::FileSource src(path);
    return pgdump::open_and_verify(src, path.string());
}

const Registrar registrar(40, [](py::module_& m) {
    auto sub = m.def_submodule("pgdump", "pg_dump custom archives: read, verify, list");
    sub.def(
        "read_archive",
        [](const py::object& what) {
            auto [r, s] = verify_any(what);
            if (!r.ok()) throw FormatError("invalid pg_dump archive: " + r.message, r.offset);
            return json_loads(pgdump::summary_json(s, true));
        },
        py::arg("path_or_file"),
        "Reads a pg_dump custom archive (or its .zst) from a path or a binary file object and "
        "returns its summary: header fields, counts_by_type, tables (rows, bytes), large_objects "
        "and entries. Raises dolibak.FormatError (with its offset) on a defect.");
    sub.def(
        "verify_archive",
        [](const py::object& what) {
            auto [r, s] = verify_any(what);
            return json_loads(pgdump::verification_json(r, s));
        },
        py::arg("path_or_file"),
        "Like read_archive, but never raises for a defect: the dict has ok, defect, message and "
        "offset.");
    sub.def(
        "listing",
        [](const py::object& what, bool header, bool verbose) {
            auto [r, s] = verify_any(what);
            if (!r.ok()) throw FormatError("invalid pg_dump archive: " + r.message, r.offset);
            pgdump::ListingOptions o;
            o.header = header;
            o.verbose = verbose;
            return pgdump::listing(s, o);
        },
        py::arg("path_or_file"), py::arg("header") = true, py::arg("verbose") = false,
        "The listing pg_restore -l prints for the archive.");
});

}  // namespace
}  // namespace dolibak::python
