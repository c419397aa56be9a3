// dolibak.io: hashing of files and bytes, as the manifests record them.
#include "registry.hpp"

#include <dolibak/io/hash.hpp>

#include <pybind11/stl/filesystem.h>

namespace py = pybind11;

namespace dolibak::python {
namespace {

const Registrar registrar(10, [](py::module_& m) {
    auto io = m.def_submodule("io", "Streaming helpers: digests of files and bytes");
    io.def(
        "sha256_file",
        [](const std::filesystem::path& path) {
            py::gil_scoped_release release;
            return io::sha256_file_hex(path);
        },
        py::arg("path"), "Lower-case hex SHA-256 of a file's bytes (streamed).");
    io.def(
        "sha256",
        [](py::bytes data) {
            const std::string_view view = data;
            return io::sha256_hex(view);
        },
        py::arg("data"), "Lower-case hex SHA-256 of bytes.");
});

}  // namespace
}  // namespace dolibak::python
