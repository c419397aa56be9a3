// dolibak.tarball: documents archives (write, list, verify, extract).
#include "registry.hpp"

#include <dolibak/io/file_io.hpp>
#include <dolibak/tarball/extractor.hpp>
#include <dolibak/tarball/lister.hpp>
#include <dolibak/tarball/writer.hpp>

#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

namespace py = pybind11;

namespace dolibak::python {
namespace {

py::dict entry_dict(const tarball::Entry& e) {
    py::dict d;
    d["path"] = py::bytes(e.path).attr("decode")("utf-8", "surrogateescape");
    d["type"] = tarball::to_string(e.type);
    d["size"] = e.size;
    d["mode"] = e.mode;
    d["mtime"] = e.mtime_sec;
    d["mtime_nsec"] = e.mtime_nsec;
    d["link_target"] = py::bytes(e.link_target).attr("decode")("utf-8", "surrogateescape");
    d["uid"] = e.uid;
    d["gid"] = e.gid;
    d["uname"] = e.uname;
    d["gname"] = e.gname;
    return d;
}

const Registrar registrar(20, [](py::module_& m) {
    auto t = m.def_submodule("tarball",
                             "Documents archives: streaming tar writer, safe extractor, lister");
    t.def("default_excludes", &tarball::default_excludes, "Globs of what Dolibarr regenerates.");
    t.def(
        "write",
        [](const std::filesystem::path& root, const std::filesystem::path& output,
           const std::string& compression, int level, int threads,
           std::optional<std::vector<std::string>> excludes, bool reproducible,
           bool skip_unreadable, const std::string& prefix) {
            tarball::WriteOptions o;
            o.compression = tarball::parse_compression(compression);
            o.level = level;
            o.threads = threads;
            if (excludes) o.excludes = *excludes;
            o.reproducible = reproducible;
            o.skip_unreadable = skip_unreadable;
            o.prefix = prefix;
            tarball::WriteSummary s;
            {
                py::gil_scoped_release release;
                io::AtomicFileSink sink(output);
                s = tarball::write_tar(root, sink, o);
                sink.finish();
            }
            py::list warnings;
            for (const auto& w : s.warnings) warnings.append(py::make_tuple(w.path, w.message));
            py::dict d;
            d["entries"] = s.entries;
            d["files"] = s.files;
            d["directories"] = s.directories;
            d["symlinks"] = s.symlinks;
            d["hardlinks"] = s.hardlinks;
            d["excluded"] = s.excluded;
            py::list exclusions;
            for (const auto& x : s.exclusions)
                exclusions.append(py::make_tuple(x.pattern, x.files, x.bytes));
            d["exclusions"] = exclusions;
            d["content_bytes"] = s.content_bytes;
            d["archive_bytes"] = s.archive_bytes;
            d["warnings"] = warnings;
            return d;
        },
        py::arg("root"), py::arg("output"), py::arg("compression") = "gzip", py::arg("level") = -1,
        py::arg("threads") = 0, py::arg("excludes") = py::none(), py::arg("reproducible") = false,
        py::arg("skip_unreadable") = false, py::arg("prefix") = "",
        "Archive the tree under root into the file output (published atomically); returns a "
        "summary dict "
        "with the warnings as (path, message) tuples.");
    t.def(
        "list",
        [](const std::filesystem::path& archive) {
            std::vector<tarball::Entry> entries;
            tarball::ListSummary s;
            {
                py::gil_scoped_release release;
                io::FileSource src(archive);
                s = tarball::list_tar(src, [&](const tarball::Entry& e) { entries.push_back(e); });
            }
            py::list out;
            for (const auto& e : entries) out.append(entry_dict(e));
            return out;
        },
        py::arg("archive"),
        "Entries of an archive (reads and checks every byte; FormatError on a defect).");
    t.def(
        "verify",
        [](const std::filesystem::path& archive) {
            tarball::ListSummary s;
            {
                py::gil_scoped_release release;
                io::FileSource src(archive);
                s = tarball::list_tar(src);
            }
            py::dict d;
            d["entries"] = s.entries;
            d["files"] = s.files;
            d["directories"] = s.directories;
            d["symlinks"] = s.symlinks;
            d["hardlinks"] = s.hardlinks;
            d["content_bytes"] = s.content_bytes;
            d["archive_bytes"] = s.archive_bytes;
            d["compression"] = s.compression;
            d["format"] = s.format;
            return d;
        },
        py::arg("archive"),
        "Reads the whole archive; returns a summary or raises FormatError (with .offset).");
    t.def(
        "extract",
        [](const std::filesystem::path& archive, const std::filesystem::path& target, bool in_place,
           const std::string& subtree, unsigned strip_components) {
            tarball::ExtractOptions o;
            o.in_place = in_place;
            o.subtree = subtree;
            o.strip_components = strip_components;
            tarball::ExtractSummary s;
            {
                py::gil_scoped_release release;
                io::FileSource src(archive);
                s = tarball::extract_tar(src, target, o);
            }
            py::dict d;
            d["entries"] = s.entries;
            d["files"] = s.files;
            d["directories"] = s.directories;
            d["symlinks"] = s.symlinks;
            d["hardlinks"] = s.hardlinks;
            d["skipped"] = s.skipped;
            d["content_bytes"] = s.content_bytes;
            return d;
        },
        py::arg("archive"), py::arg("target"), py::arg("in_place") = false, py::arg("subtree") = "",
        py::arg("strip_components") = 0,
        "Safely extract an archive into target (staged and swapped in unless in_place).");
});

}  // namespace
}  // namespace dolibak::python
