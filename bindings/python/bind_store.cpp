// dolibak.store: the Store interface (s3://bucket/prefix, file:///dir) for Python.
#include "registry.hpp"

#include <dolibak/store/fault_store.hpp>
#include <dolibak/store/memory_store.hpp>
#include <dolibak/store/store.hpp>

#include <pybind11/chrono.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

namespace py = pybind11;

namespace dolibak::python {
namespace {

py::dict info_dict(const store::ObjectInfo& o) {
    py::dict d;
    d["key"] = o.key;
    d["size"] = o.size;
    d["modified"] = std::chrono::duration<double>(o.modified.time_since_epoch()).count();
    d["etag"] = o.etag;
    return d;
}

store::FaultStore::Op op_of(const std::string& name) {
    using Op = store::FaultStore::Op;
    for (const auto op : {Op::put, Op::get, Op::head, Op::list, Op::remove, Op::remove_if,
                          Op::remove_many, Op::cleanup})
        if (name == store::to_string(op)) return op;
    throw ConfigError("FaultStore: unknown operation '" + name + "'");
}

store::FaultStore::Fault fault_of(const std::string& name) {
    using Fault = store::FaultStore::Fault;
    if (name == "transient") return Fault::transient;
    if (name == "server_error") return Fault::server_error;
    if (name == "already_exists") return Fault::already_exists;
    if (name == "precondition_failed") return Fault::precondition_failed;
    if (name == "io_error") return Fault::io_error;
    if (name == "lose_response") return Fault::lose_response;
    throw ConfigError("FaultStore: unknown fault '" + name + "'");
}

const Registrar registrar(40, [](py::module_& m) {
    auto sm = m.def_submodule("store", "One interface over s3://bucket/prefix and file:///dir");
    static py::exception<store::ObjectNotFound> not_found(sm, "ObjectNotFound",
                                                          m.attr("Error").ptr());
    static py::exception<store::AlreadyExists> already_exists(sm, "AlreadyExists",
                                                              m.attr("Error").ptr());
    static py::exception<store::PreconditionFailed> precondition_failed(sm, "PreconditionFailed",
                                                                        m.attr("Error").ptr());
    not_found.doc() = "The object does not exist.";
    already_exists.doc() = "A put with no_overwrite found the key taken.";
    precondition_failed.doc() =
        "A put with if_match, or remove_if, found the object changed (another etag) or gone.";
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const store::ObjectNotFound& e) {
            not_found(e.what());
        } catch (const store::AlreadyExists& e) {
            already_exists(e.what());
        } catch (const store::PreconditionFailed& e) {
            precondition_failed(e.what());
        }
    });

    py::class_<store::Store, std::shared_ptr<store::Store>>(
        sm, "Store",
        "A store of objects under keys: S3 (s3://bucket/prefix), a directory (file:///dir) or "
        "memory. "
        "Objects are published atomically. Made by dolibak.store.open().")
        .def_property_readonly("url", &store::Store::url, "The store's URL.")
        .def(
            "put_bytes",
            [](store::Store& s, const std::string& key, py::bytes data, bool no_overwrite,
               const std::string& if_match) {
                std::string copy = data;
                py::gil_scoped_release release;
                store::PutOptions o;
                o.no_overwrite = no_overwrite;
                o.if_match = if_match;
                return s.put_bytes(key, copy, o);
            },
            py::arg("key"), py::arg("data"), py::arg("no_overwrite") = false,
            py::arg("if_match") = "",
            "Publishes data under key; returns its etag. no_overwrite: AlreadyExists when the "
            "key is taken; if_match: PreconditionFailed unless the current etag is this one.")
        .def(
            "get_bytes",
            [](store::Store& s, const std::string& key) {
                std::string data;
                {
                    py::gil_scoped_release release;
                    data = s.get_bytes(key, std::size_t(1) << 40);
                }
                return py::bytes(data);
            },
            py::arg("key"), "The bytes of the object key (ObjectNotFound when there is none).")
        .def(
            "put_file",
            [](store::Store& s, const std::string& key, const std::filesystem::path& path) {
                py::gil_scoped_release release;
                s.put_file(key, path);
            },
            py::arg("key"), py::arg("path"),
            "Uploads the file at path as the object key (published atomically).")
        .def(
            "get_file",
            [](store::Store& s, const std::string& key, const std::filesystem::path& path) {
                py::gil_scoped_release release;
                return s.get_file(key, path);
            },
            py::arg("key"), py::arg("path"),
            "Downloads the object key into the file at path (written atomically); returns its "
            "size.")
        .def(
            "head",
            [](store::Store& s, const std::string& key) -> py::object {
                std::optional<store::ObjectInfo> info;
                {
                    py::gil_scoped_release release;
                    info = s.head(key);
                }
                if (!info) return py::none();
                return info_dict(*info);
            },
            py::arg("key"),
            "The object's key, size, modified (epoch seconds) and etag, or None when there is "
            "none.")
        .def(
            "list",
            [](store::Store& s, const std::string& prefix) {
                std::vector<store::ObjectInfo> all;
                {
                    py::gil_scoped_release release;
                    all = s.list(prefix);
                }
                py::list out;
                for (const auto& o : all) out.append(info_dict(o));
                return out;
            },
            py::arg("prefix") = "",
            "Every object whose key starts with prefix (a plain string prefix), sorted by key, as "
            "dicts of key, size, modified (epoch seconds) and etag.")
        .def(
            "remove",
            [](store::Store& s, const std::string& key) {
                py::gil_scoped_release release;
                s.remove(key);
            },
            py::arg("key"), "Removes the object key; a missing key is not an error.")
        .def(
            "remove_if",
            [](store::Store& s, const std::string& key, const std::string& etag) {
                py::gil_scoped_release release;
                s.remove_if(key, etag);
            },
            py::arg("key"), py::arg("etag"),
            "Removes key only if its etag is still etag, else PreconditionFailed.")
        .def(
            "remove_many",
            [](store::Store& s, const std::vector<std::string>& keys) {
                std::vector<store::RemoveFailure> failures;
                {
                    py::gil_scoped_release release;
                    failures = s.remove_many(keys);
                }
                py::list out;
                for (const auto& f : failures) out.append(py::make_tuple(f.key, f.message));
                return out;
            },
            py::arg("keys"),
            "Removes the objects keys; returns (key, message) for each that could not be removed.")
        .def(
            "cleanup",
            [](store::Store& s, double older_than) {
                py::gil_scoped_release release;
                return s.cleanup(std::chrono::seconds(static_cast<long long>(older_than)));
            },
            py::arg("older_than_seconds"),
            "Removes unfinished uploads (open multipart uploads, temporary files) older than "
            "older_than_seconds; returns how many.");

    py::class_<store::MemoryStore, store::Store, std::shared_ptr<store::MemoryStore>>(
        sm, "MemoryStore", "A thread-safe store in memory (mem://<name>/), for tests")
        .def(py::init<std::string>(), py::arg("name") = "memory");

    py::class_<store::FaultStore, store::Store, std::shared_ptr<store::FaultStore>>(
        sm, "FaultStore",
        "Wraps a store and injects faults per operation (put, get, head, list, remove, "
        "remove_if, remove_many, cleanup)")
        .def(py::init<std::shared_ptr<store::Store>>(), py::arg("inner"))
        .def(
            "fail",
            [](store::FaultStore& f, const std::string& op, std::uint64_t nth,
               const std::string& fault,
               bool and_after) { f.fail(op_of(op), nth, fault_of(fault), and_after); },
            py::arg("op"), py::arg("nth"), py::arg("fault"), py::arg("and_after") = false,
            "Call number nth (1-based) of op fails with fault: transient, server_error, "
            "already_exists, "
            "precondition_failed, io_error or lose_response (performed, then a transient "
            "error); with and_after, every call from nth on.")
        .def(
            "hook",
            [](store::FaultStore& f, const std::string& op, std::uint64_t nth, py::function fn,
               bool and_after) {
                // The hook runs on whatever thread makes the call, without the GIL: take it,
                // and drop the Python object under it too.
                std::shared_ptr<py::function> held(new py::function(std::move(fn)),
                                                   [](py::function* p) {
                                                       py::gil_scoped_acquire gil;
                                                       delete p;
                                                   });
                f.hook(
                    op_of(op), nth,
                    [held] {
                        py::gil_scoped_acquire gil;
                        (*held)();
                    },
                    and_after);
            },
            py::arg("op"), py::arg("nth"), py::arg("fn"), py::arg("and_after") = false,
            "Calls fn() just before call number nth of op (or every call from nth on).")
        .def(
            "calls",
            [](const store::FaultStore& f, const std::string& op) { return f.calls(op_of(op)); },
            py::arg("op"), "How many calls of op were made so far.")
        .def("reset", &store::FaultStore::reset,
             "Forgets every fault and hook and the call counts.");

    sm.def(
        "open",
        [](const std::string& url, const std::optional<std::string>& endpoint,
           const std::optional<std::string>& region, const std::optional<std::string>& access_key,
           const std::optional<std::string>& secret_key,
           const std::optional<std::string>& session_token,
           const std::optional<std::string>& addressing,
           const std::optional<std::size_t>& part_size,
           const std::optional<unsigned>& parallel_parts,
           const std::optional<std::size_t>& min_part_size, bool use_environment,
           bool create_directory) {
            store::StoreOptions o;
            o.use_environment = use_environment;
            o.create_directory = create_directory;
            if (endpoint) o.s3.endpoint = *endpoint;
            if (region) o.s3.region = *region;
            if (addressing) o.s3.addressing = s3::parse_addressing_style(*addressing);
            if (min_part_size) o.s3.min_part_size = *min_part_size;
            if (part_size) o.s3.part_size = *part_size;
            if (parallel_parts) o.s3.parallel_parts = *parallel_parts;
            if (access_key && secret_key) {
                s3::Credentials c;
                c.access_key_id = *access_key;
                c.secret_access_key = Secret(*secret_key);
                if (session_token) c.session_token = Secret(*session_token);
                c.source = "arguments";
                o.credentials = std::move(c);
            }
            return std::shared_ptr<store::Store>(store::open(url, o));
        },
        py::arg("url"), py::kw_only(), py::arg("endpoint") = py::none(),
        py::arg("region") = py::none(), py::arg("access_key") = py::none(),
        py::arg("secret_key") = py::none(), py::arg("session_token") = py::none(),
        py::arg("addressing") = py::none(), py::arg("part_size") = py::none(),
        py::arg("parallel_parts") = py::none(), py::arg("min_part_size") = py::none(),
        py::arg("use_environment") = true, py::arg("create_directory") = false,
        R"(Opens a store: "s3://bucket[/prefix]" or "file:///dir". S3 settings come from the
AWS_* environment and ~/.aws unless given (use_environment=False reads nothing).)");
});

}  // namespace
}  // namespace dolibak::python
