// dolibak.fingerprint: the fingerprints that decide whether a half is uploaded again — the
// documents tree's and the database's (docs/fingerprint.md).
#include "registry.hpp"
#include "target.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/fingerprint/db.hpp>
#include <dolibak/fingerprint/docs.hpp>
#include <dolibak/job/profile.hpp>

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;

namespace dolibak::python {
namespace {

using fingerprint::DbFingerprint;
using fingerprint::TableFingerprint;

py::dict table_dict(const TableFingerprint& t) {
    py::dict d;
    d["schema"] = t.schema;
    d["name"] = t.name;
    d["rows"] = t.rows;
    d["digest"] = t.digest;
    return d;
}

/// The table named "name" or "schema.name", or nullptr.
const TableFingerprint* find_table(const DbFingerprint& fp, const std::string& name) {
    for (const auto& t : fp.tables)
        if (t.name == name || t.schema + "." + t.name == name) return &t;
    return nullptr;
}

const Registrar registrar(50, [](py::module_& m) {
    auto f = m.def_submodule("fingerprint", "Fingerprints of the two halves");
    f.def(
        "docs",
        [](const std::filesystem::path& root, bool content,
           std::optional<std::vector<std::string>> excludes) {
            fingerprint::DocsOptions o;
            o.content = content;
            if (excludes) o.excludes = *excludes;
            fingerprint::DocsFingerprint fp;
            {
                py::gil_scoped_release release;
                fp = fingerprint::docs_fingerprint(root, o);
            }
            py::dict d;
            d["sha256"] = fp.sha256;
            d["entries"] = fp.entries;
            d["files"] = fp.files;
            d["directories"] = fp.directories;
            d["symlinks"] = fp.symlinks;
            d["bytes"] = fp.bytes;
            d["content"] = fp.content;
            return d;
        },
        py::arg("root"), py::arg("content") = false, py::arg("excludes") = py::none(),
        "Documents fingerprint (SHA-256 over the sorted metadata of included entries).");

    py::class_<TableFingerprint>(f, "TableFingerprint", "One table's line of a DB fingerprint.")
        .def_readonly("schema", &TableFingerprint::schema, "The table's schema.")
        .def_readonly("name", &TableFingerprint::name, "The table's name.")
        .def_readonly("rows", &TableFingerprint::rows, "Its row count.")
        .def_readonly("digest", &TableFingerprint::digest,
                      "The table's mode-specific digest (hex).")
        .def("to_dict", &table_dict, "The line as a dict: schema, name, rows, digest.")
        .def("__repr__", [](const TableFingerprint& t) {
            return "<TableFingerprint " + t.schema + "." + t.name + " " + std::to_string(t.rows) +
                   " rows>";
        });

    py::class_<DbFingerprint>(f, "DbFingerprint",
                              "A database fingerprint: equal values (same mode) mean no committed "
                              "change to any included table and no schema change.")
        .def_property_readonly(
            "mode", [](const DbFingerprint& fp) { return std::string(to_string(fp.mode)); },
            "'xmin', 'content' or 'count-tms'.")
        .def_readonly(
            "value", &DbFingerprint::value,
            "SHA-256 (hex) over the schema digest and every table's line: what a backup compares.")
        .def_readonly("schema_digest", &DbFingerprint::schema_digest,
                      "SHA-256 (hex) of the schema description.")
        .def_readonly("tables", &DbFingerprint::tables, "One TableFingerprint per included table.")
        .def_readonly("excluded", &DbFingerprint::excluded,
                      "\"schema.table\" of each table left out (volatile tables, exclude_tables).")
        .def_readonly("seconds", &DbFingerprint::seconds, "How long it took.")
        .def(
            "table",
            [](const DbFingerprint& fp, const std::string& name) -> py::object {
                if (const auto* t = find_table(fp, name)) return py::cast(*t);
                return py::none();
            },
            py::arg("name"), "The line of the table \"name\" or \"schema.name\", or None")
        .def(
            "differences",
            [](const DbFingerprint& fp, const DbFingerprint& other) {
                if (fp.mode != other.mode)
                    throw ConfigError("cannot compare a " + std::string(to_string(fp.mode)) +
                                      " fingerprint with a " + std::string(to_string(other.mode)) +
                                      " one");
                return fp.differences(other);
            },
            py::arg("other"),
            "\"schema.table\" of each table whose line differs, and \"(schema)\" when the schema "
            "changed; raises ConfigError for fingerprints of different modes")
        .def("__eq__",
             [](const DbFingerprint& a, const py::object& b) -> py::object {
                 if (!py::isinstance<DbFingerprint>(b))
                     return py::reinterpret_borrow<py::object>(py::handle(Py_NotImplemented));
                 const auto& o = b.cast<const DbFingerprint&>();
                 return py::bool_(a.mode == o.mode && a.value == o.value);
             })
        .def(
            "to_dict",
            [](const DbFingerprint& fp) {
                py::dict d;
                d["mode"] = std::string(to_string(fp.mode));
                d["value"] = fp.value;
                d["schema_digest"] = fp.schema_digest;
                py::list tables;
                for (const auto& t : fp.tables) tables.append(table_dict(t));
                d["tables"] = tables;
                d["excluded"] = fp.excluded;
                d["seconds"] = fp.seconds;
                return d;
            },
            "The fingerprint as plain Python data (mode, value, schema_digest, tables, excluded, "
            "seconds).")
        .def("__repr__", [](const DbFingerprint& fp) {
            return "<DbFingerprint " + std::string(to_string(fp.mode)) + " " +
                   fp.value.substr(0, 16) + " " + std::to_string(fp.tables.size()) + " tables>";
        });

    f.def(
        "database",
        [](const py::object& target, const std::string& mode,
           const std::optional<std::vector<std::string>>& include_tables,
           const std::vector<std::string>& exclude_tables,
           const std::optional<std::string>& change_column,
           const std::optional<std::string>& profile) {
            const auto conn = to_target(target, "target");
            fingerprint::DbOptions o;
            o.mode = fingerprint::parse_db_mode(mode);
            o.include_tables.clear();
            if (profile) {
                const job::Profile p = job::builtin_profile(*profile);
                o.include_tables = {p.table_prefix + "*"};
                o.exclude_tables = p.volatile_tables;
                if (!p.change_column.empty()) o.change_column = p.change_column;
            }
            if (include_tables) o.include_tables = *include_tables;
            o.exclude_tables.insert(o.exclude_tables.end(), exclude_tables.begin(),
                                    exclude_tables.end());
            if (change_column) o.change_column = *change_column;
            py::gil_scoped_release release;
            return fingerprint::fingerprint_database(conn, o);
        },
        py::arg("target"), py::kw_only(), py::arg("mode") = "xmin",
        py::arg("include_tables") = py::none(),
        py::arg("exclude_tables") = std::vector<std::string>{},
        py::arg("change_column") = py::none(), py::arg("profile") = "dolibarr",
        "Database fingerprint, computed in one REPEATABLE READ READ ONLY transaction (the GIL is "
        "released meanwhile). target: a conninfo string or a dict (host, port, user, dbname, "
        "password, sslmode). mode: xmin, content or count-tms. The profile (dolibarr, odoo; None: "
        "none) gives the default include_tables (its prefix followed by *), the volatile tables "
        "always left out (exclude_tables adds more, globs over name or schema.name) and the "
        "change column of count-tms: with the defaults the value is the one a backup stores. "
        "Raises DatabaseError, ConfigError.");
});

}  // namespace
}  // namespace dolibak::python
