// dolibak.Job: the backup job for Python, configured with the same settings as the CLI
// (job_settings.hpp), returning read-only report objects (each with to_dict()).
#include "registry.hpp"
#include "target.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/job/job.hpp>
#include <dolibak/job/report.hpp>
#include <dolibak/job/settings.hpp>

#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <memory>

namespace py = pybind11;

namespace dolibak::python {
namespace {

using namespace dolibak::job;

py::object from_time(TimePoint t) {
    if (t == TimePoint{}) return py::none();
    const auto datetime = py::module_::import("datetime");
    return datetime.attr("datetime")
        .attr("fromtimestamp")(t.time_since_epoch().count(), datetime.attr("timezone").attr("utc"));
}

// (pattern, files, bytes) per exclude pattern.
py::list exclusion_tuples(const std::vector<tarball::Exclusion>& xs) {
    py::list out;
    for (const auto& x : xs) out.append(py::make_tuple(x.pattern, x.files, x.bytes));
    return out;
}

py::object json_loads(const std::string& text) {
    return py::module_::import("json").attr("loads")(text);
}

/// A Python value of the settings dict as a Setting.
Setting to_setting(const std::string& key, const py::handle& v) {
    Setting s;
    s.source = "Job(settings=...)";
    if (py::isinstance<py::bool_>(v)) {
        s.value = v.cast<bool>() ? "true" : "false";
    } else if (py::isinstance<py::int_>(v) || py::isinstance<py::float_>(v)) {
        s.value = py::str(v).cast<std::string>();
    } else if (py::isinstance<py::str>(v)) {
        s.value = v.cast<std::string>();
    } else if (py::hasattr(v, "__fspath__")) {
        s.value = py::str(py::module_::import("os").attr("fspath")(v)).cast<std::string>();
    } else if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
        std::vector<std::string> items;
        for (const auto& i : v) {
            if (!py::isinstance<py::str>(i))
                throw ConfigError("setting '" + key + "': a list must hold strings");
            items.push_back(i.cast<std::string>());
        }
        std::string joined;
        for (const auto& i : items) joined += (joined.empty() ? "" : ",") + i;
        s.value = joined;
        s.items = std::move(items);
    } else {
        throw ConfigError("setting '" + key +
                          "': expected str, int, float, bool or a list of str, not " +
                          py::str(py::type::handle_of(v).attr("__name__")).cast<std::string>());
    }
    return s;
}

/// The Python callback of on_event, kept so that copies of the std::function never touch
/// Python reference counts without the GIL.
struct PyCallback {
    py::object fn;
    ~PyCallback() {
        py::gil_scoped_acquire gil;
        fn = py::object();
    }
};

class PyJob {
public:
    PyJob(const py::object& settings, const py::object& config_file, bool use_environment,
          const py::object& on_event) {
        SettingsSources src;
        if (!settings.is_none()) {
            if (!py::isinstance<py::dict>(settings))
                throw py::type_error("settings must be a dict of setting keys to values");
            for (const auto& [k, v] : settings.cast<py::dict>()) {
                if (v.is_none()) continue;
                const std::string key = py::str(k).cast<std::string>();
                src.overrides[key] = to_setting(key, v);
            }
        }
        if (!config_file.is_none())
            src.config_file =
                py::str(py::module_::import("os").attr("fspath")(config_file)).cast<std::string>();
        src.use_environment = use_environment;
        const auto warnings = py::module_::import("warnings");
        src.warn = [warnings](const std::string& m) { warnings.attr("warn")(m); };
        Settings s = load_settings(src);
        static const Environment no_env;
        Config config = config_from_settings(s, use_environment ? nullptr : &no_env);
        config.store.use_environment = use_environment;
        cancel_ = std::make_shared<CancelToken>();
        config.cancel = cancel_;
        if (!on_event.is_none()) {
            if (!PyCallable_Check(on_event.ptr()))
                throw py::type_error("on_event must be callable");
            auto cb = std::make_shared<PyCallback>();
            cb->fn = on_event;
            config.on_event = [cb](const Event& e) {
                py::gil_scoped_acquire gil;
                try {
                    cb->fn(e);
                } catch (py::error_already_set& err) {
                    err.discard_as_unraisable("dolibak.Job on_event callback");
                }
            };
        }
        py::gil_scoped_release release;
        job_ = std::make_unique<Job>(std::move(config));
    }

    Job& job() { return *job_; }
    void cancel() { cancel_->cancel(); }

private:
    std::shared_ptr<CancelToken> cancel_;
    std::unique_ptr<Job> job_;
};

template <class T>
void add_to_dict(py::class_<T>& c) {
    c.def(
        "to_dict", [](const T& r) { return json_loads(to_json(r)); },
        "The report as plain Python data (the CLI's --json form)");
}

/// list and status: runs as summaries, or with their whole manifests (--manifests).
template <class T>
void add_to_dict_with_manifests(py::class_<T>& c) {
    c.def(
        "to_dict",
        [](const T& r, bool manifests) {
            JsonOptions o;
            o.manifests = manifests;
            return json_loads(to_json(r, o));
        },
        py::arg("manifests") = false,
        "The report as plain Python data (the CLI's --json form; manifests=True: each run's "
        "whole manifest too, as --manifests)");
}

const Registrar registrar(60, [](py::module_& m) {
    py::class_<Event>(m, "Event", "Something a running job reports.")
        .def_property_readonly("kind",
                               [](const Event& e) {
                                   return e.kind == Event::Kind::info      ? "info"
                                          : e.kind == Event::Kind::warning ? "warning"
                                                                           : "progress";
                               })
        .def_readonly("half", &Event::half)
        .def_readonly("message", &Event::message)
        .def_readonly("bytes", &Event::bytes)
        .def_readonly("total", &Event::total)
        .def("__repr__", [](const Event& e) {
            return "<Event " + e.half + ": " + e.message +
                   (e.kind == Event::Kind::progress ? std::to_string(e.bytes) : "") + ">";
        });

    py::class_<HalfReport>(m, "HalfReport", "What a backup did with one half.")
        .def_readonly("half", &HalfReport::half)
        .def_property_readonly(
            "outcome", [](const HalfReport& h) { return std::string(to_string(h.outcome)); })
        .def_readonly("key", &HalfReport::key)
        .def_readonly("bytes", &HalfReport::bytes)
        .def_readonly("sha256", &HalfReport::sha256)
        .def_readonly("seconds", &HalfReport::seconds)
        .def_readonly("fingerprint", &HalfReport::fingerprint)
        .def_readonly("reason", &HalfReport::reason)
        .def_readonly("error", &HalfReport::error)
        .def_property_readonly("exclusions",
                               [](const HalfReport& h) { return exclusion_tuples(h.exclusions); })
        .def_property_readonly(
            "table_changes",
            [](const HalfReport& h) -> py::object {
                if (!h.table_changes) return py::none();
                py::dict d;
                d["known"] = h.table_changes->known;
                d["schema_changed"] = h.table_changes->schema_changed;
                d["changed"] = h.table_changes->changed;
                d["added"] = h.table_changes->added;
                d["removed"] = h.table_changes->removed;
                return std::move(d);
            },
            "A database half whose fingerprint differs from the stored one: which tables "
            "(known, schema_changed, changed, added, removed), else None")
        .def("__repr__", [](const HalfReport& h) {
            return "<HalfReport " + h.half + " " + std::string(to_string(h.outcome)) + " " + h.key +
                   ">";
        });

    py::class_<PruneReport> prune(m, "PruneReport", "A prune: the plan, what was deleted.");
    prune
        .def_property_readonly("decisions",
                               [](const PruneReport& r) { return py::cast(r.plan.decisions); })
        .def_property_readonly("kept",
                               [](const PruneReport& r) {
                                   std::vector<retention::Decision> v;
                                   for (const auto& d : r.plan.decisions)
                                       if (d.keep) v.push_back(d);
                                   return v;
                               })
        .def_property_readonly("dropped",
                               [](const PruneReport& r) {
                                   std::vector<retention::Decision> v;
                                   for (const auto& d : r.plan.decisions)
                                       if (!d.keep) v.push_back(d);
                                   return v;
                               })
        .def_readonly("drop_keys", &PruneReport::to_delete,
                      "Every key prune deletes (or would): the manifests and verification "
                      "records of the runs that go, then the objects no kept run names.")
        .def_readonly("objects", &PruneReport::objects,
                      "For each decision's key (manifests/<ts>.json#<half>), the object it "
                      "names.")
        .def_readonly("deleted", &PruneReport::deleted)
        .def_property_readonly("failures",
                               [](const PruneReport& r) {
                                   py::list l;
                                   for (const auto& f : r.failures)
                                       l.append(py::make_tuple(f.key, f.message));
                                   return l;
                               })
        .def_readonly("dry_run", &PruneReport::dry_run);
    add_to_dict(prune);

    py::class_<BackupReport> backup(m, "BackupReport", "What a backup run did.");
    backup.def_property_readonly("time", [](const BackupReport& r) { return from_time(r.time); })
        .def_readonly("halves", &BackupReport::halves)
        .def_readonly("manifest_key", &BackupReport::manifest_key)
        .def_readonly("seconds", &BackupReport::seconds)
        .def_readonly("prune", &BackupReport::prune)
        .def_readonly("prune_requested", &BackupReport::prune_requested)
        .def_readonly("prune_error", &BackupReport::prune_error)
        .def_property_readonly("ok", &BackupReport::ok)
        .def(
            "half",
            [](const BackupReport& r, const std::string& name) -> py::object {
                for (const auto& h : r.halves)
                    if (h.half == name) return py::cast(h);
                return py::none();
            },
            py::arg("name"), "The report of one half, or None");
    add_to_dict(backup);

    py::class_<BackupEntry>(m, "BackupEntry", "One backup object in the store.")
        .def_readonly("half", &BackupEntry::half)
        .def_property_readonly("time", [](const BackupEntry& b) { return from_time(b.time); })
        .def_readonly("key", &BackupEntry::key)
        .def_readonly("size", &BackupEntry::size)
        .def_readonly("has_manifest", &BackupEntry::has_manifest)
        .def_readonly("sha256", &BackupEntry::sha256)
        .def_property_readonly("verified",
                               [](const BackupEntry& b) -> py::object {
                                   if (!b.verified) return py::none();
                                   py::dict d;
                                   d["at"] = from_time(b.verified->at);
                                   d["ok"] = b.verified->ok;
                                   d["run"] = from_time(b.verified->run);
                                   return std::move(d);
                               })
        .def("__repr__", [](const BackupEntry& b) { return "<BackupEntry " + b.key + ">"; });

    py::class_<RunEntry>(m, "RunEntry", "One run (manifest) in the store.")
        .def_property_readonly("time", [](const RunEntry& r) { return from_time(r.time); })
        .def_readonly("manifest_key", &RunEntry::manifest_key)
        .def_readonly("loaded", &RunEntry::loaded)
        .def_property_readonly("succeeded",
                               [](const RunEntry& r) -> py::object {
                                   if (!r.loaded) return py::none();
                                   return py::bool_(r.manifest.succeeded());
                               })
        .def_property_readonly("manifest", [](const RunEntry& r) -> py::object {
            if (!r.loaded) return py::none();
            return json_loads(r.manifest.to_json());
        });

    py::class_<ListReport> list(m, "ListReport", "Every backup and run in the store.");
    list.def_readonly("backups", &ListReport::backups)
        .def_readonly("runs", &ListReport::runs)
        .def_property_readonly("other",
                               [](const ListReport& r) {
                                   py::list l;
                                   for (const auto& o : r.other) l.append(o.key);
                                   return l;
                               })
        .def_property_readonly("verifications", [](const ListReport& r) {
            py::list l;
            for (const auto& o : r.verifications) l.append(o.key);
            return l;
        });
    add_to_dict_with_manifests(list);

    py::class_<VerifiedObject>(m, "VerifiedObject", "One object checked by verify.")
        .def_readonly("key", &VerifiedObject::key)
        .def_readonly("half", &VerifiedObject::half)
        .def_readonly("ok", &VerifiedObject::ok)
        .def_readonly("bytes", &VerifiedObject::bytes)
        .def_readonly("sha256", &VerifiedObject::sha256)
        .def_readonly("problem", &VerifiedObject::problem)
        .def_property_readonly(
            "exclusions", [](const VerifiedObject& o) { return exclusion_tuples(o.exclusions); });

    py::class_<VerifyReport> verify(m, "VerifyReport", "The outcome of verify.");
    verify.def_property_readonly("time", [](const VerifyReport& r) { return from_time(r.time); })
        .def_readonly("objects", &VerifyReport::objects)
        .def_readonly("record_key", &VerifyReport::record_key)
        .def_property_readonly("ok", &VerifyReport::ok);
    add_to_dict(verify);

    py::class_<pgdump::TableCheck>(m, "TableCheck", "A restored table and its row counts.")
        .def_readonly("schema", &pgdump::TableCheck::schema)
        .def_readonly("name", &pgdump::TableCheck::name)
        .def_readonly("expected_rows", &pgdump::TableCheck::expected_rows)
        .def_readonly("actual_rows", &pgdump::TableCheck::actual_rows);

    py::class_<pgdump::RestoreReport> restore(m, "RestoreReport", "A proven database restore.");
    restore.def_readonly("pg_restore_exit", &pgdump::RestoreReport::pg_restore_exit)
        .def_readonly("pg_restore_stderr", &pgdump::RestoreReport::pg_restore_stderr)
        .def_readonly("tables", &pgdump::RestoreReport::tables)
        .def_readonly("pattern_tables", &pgdump::RestoreReport::pattern_tables)
        .def_readonly("safety_dump", &pgdump::RestoreReport::safety_dump)
        .def_property_readonly("rows_matched", &pgdump::RestoreReport::rows_matched)
        .def_property_readonly("present_only", &pgdump::RestoreReport::present_only);
    add_to_dict(restore);

    py::class_<DocsRestoreReport> docs(m, "DocsRestoreReport", "A documents restore.");
    docs.def_readonly("key", &DocsRestoreReport::key)
        .def_property_readonly("files", [](const DocsRestoreReport& r) { return r.summary.files; })
        .def_property_readonly("directories",
                               [](const DocsRestoreReport& r) { return r.summary.directories; })
        .def_property_readonly("content_bytes",
                               [](const DocsRestoreReport& r) { return r.summary.content_bytes; })
        .def_readonly("missing_required", &DocsRestoreReport::missing_required);
    add_to_dict(docs);

    py::class_<StatusReport> status(m, "StatusReport", "The last successful run and its age.");
    status.def_readonly("last_run", &StatusReport::last_run)
        .def_readonly("last_success", &StatusReport::last_success)
        .def_readonly("age_seconds", &StatusReport::age_seconds)
        .def_readonly("stale", &StatusReport::stale)
        .def_readonly("reason", &StatusReport::reason)
        .def_property_readonly("future_runs",
                               [](const StatusReport& r) {
                                   std::vector<py::object> out;
                                   for (const auto t : r.future_runs) out.push_back(from_time(t));
                                   return out;
                               })
        .def_property_readonly(
            "halves",
            [](const StatusReport& r) {
                py::list out;
                for (const auto& h : r.halves) {
                    py::dict d;
                    d["half"] = h.half;
                    d["last_success"] =
                        h.last_success ? from_time(*h.last_success) : py::object(py::none());
                    d["age_seconds"] = h.age_seconds ? py::object(py::float_(*h.age_seconds))
                                                     : py::object(py::none());
                    d["stale"] = h.stale;
                    d["reason"] = h.reason;
                    out.append(d);
                }
                return out;
            },
            "Each configured half's freshness: dicts with half, last_success, age_seconds, "
            "stale, reason.")
        .def_property_readonly(
            "last_verification",
            [](const StatusReport& r) -> py::object {
                if (!r.last_verification) return py::none();
                py::dict d;
                d["run"] = from_time(r.last_verification->run);
                d["at"] = from_time(r.last_verification->at);
                d["ok"] = r.last_verification->ok;
                d["age_seconds"] = r.last_verification->age_seconds;
                return std::move(d);
            },
            "The newest verification recorded in the store (run, at, ok, age_seconds), or None.");
    add_to_dict_with_manifests(status);

    py::class_<CheckItem>(m, "CheckItem", "One preflight check.")
        .def_readonly("name", &CheckItem::name)
        .def_readonly("ok", &CheckItem::ok)
        .def_readonly("detail", &CheckItem::detail)
        .def("__repr__", [](const CheckItem& i) {
            return "<CheckItem " + i.name + (i.ok ? " ok>" : " FAILED>");
        });

    py::class_<CheckReport> check(m, "CheckReport", "The preflight checks.");
    check.def_readonly("items", &CheckReport::items).def_property_readonly("ok", &CheckReport::ok);
    add_to_dict(check);

    py::class_<RefreshReport> refresh(m, "RefreshReport", "A sandbox refresh.");
    refresh.def_readonly("restore", &RefreshReport::restore)
        .def_property_readonly("docs_files",
                               [](const RefreshReport& r) -> py::object {
                                   if (!r.docs) return py::none();
                                   return py::int_(r.docs->files);
                               })
        .def_readonly("post_hook_exit", &RefreshReport::post_hook_exit);
    add_to_dict(refresh);

    m.def(
        "setting_keys",
        [] {
            py::list l;
            for (const auto& k : setting_keys()) l.append(k.key);
            return l;
        },
        "Every setting key (the config file's keys; DOLIBAK_<KEY>; --<key-with-dashes>)");

    py::class_<PyJob>(m, "Job",
                      "The backup job. `settings` uses the keys of the config file (see "
                      "docs/configuration.md); they win over DOLIBAK_* variables and the config "
                      "file (config_file, else $DOLIBAK_CONFIG) when use_environment is true.")
        .def(py::init<const py::object&, const py::object&, bool, const py::object&>(),
             py::arg("settings") = py::none(), py::kw_only(), py::arg("config_file") = py::none(),
             py::arg("use_environment") = true, py::arg("on_event") = py::none())
        .def_property_readonly("store_url", [](PyJob& j) { return j.job().store().url(); })
        .def_property_readonly("has_db", [](PyJob& j) { return j.job().config().db.has_value(); })
        .def_property_readonly("has_docs",
                               [](PyJob& j) { return j.job().config().docs.has_value(); })
        .def("cancel", &PyJob::cancel, "Stop the running operation (from another thread)")
        .def(
            "backup",
            [](PyJob& j, bool db, bool docs, bool force, bool dry_run, std::optional<bool> prune,
               std::optional<std::filesystem::path> metrics) {
                BackupOptions o;
                o.db = db && j.job().config().db.has_value();
                o.docs = docs && j.job().config().docs.has_value();
                o.force = force;
                o.dry_run = dry_run;
                o.prune = prune;
                o.metrics_file = std::move(metrics);
                py::gil_scoped_release release;
                return j.job().backup(o);
            },
            py::arg("db") = true, py::arg("docs") = true, py::arg("force") = false,
            py::arg("dry_run") = false, py::arg("prune") = py::none(),
            py::arg("metrics") = py::none(),
            "Back up; prune=None follows the prune_after_backup setting; metrics: a "
            "Prometheus textfile to write")
        .def("list",
             [](PyJob& j) {
                 py::gil_scoped_release release;
                 return j.job().list();
             })
        .def(
            "verify",
            [](PyJob& j, const std::string& which) {
                py::gil_scoped_release release;
                return j.job().verify(which);
            },
            py::arg("which") = "latest")
        .def(
            "restore_db",
            [](PyJob& j, const py::object& target, const std::string& which, bool yes,
               const std::optional<std::filesystem::path>& safety_dump, bool clean, int jobs,
               const std::vector<std::string>& exclude, std::optional<int> min_tables,
               bool overwrite_source) {
                RestoreDbOptions o;
                o.which = which;
                o.restore.target = to_target(target, "target");
                o.restore.confirm_non_empty = yes;
                o.restore.safety_dump = safety_dump;
                o.restore.clean = clean;
                o.restore.jobs = jobs;
                o.restore.proof.min_tables = min_tables;
                o.exclude = exclude;
                o.overwrite_source = overwrite_source;
                py::gil_scoped_release release;
                return j.job().restore_db(o);
            },
            py::arg("target"), py::arg("which") = "latest", py::kw_only(), py::arg("yes") = false,
            py::arg("safety_dump") = py::none(), py::arg("clean") = false, py::arg("jobs") = 1,
            py::arg("exclude") = std::vector<std::string>{}, py::arg("min_tables") = py::none(),
            py::arg("overwrite_source") = false)
        .def(
            "restore_docs",
            [](PyJob& j, const std::filesystem::path& target, const std::string& which, bool yes,
               const std::string& subtree, bool in_place) {
                RestoreDocsOptions o;
                o.which = which;
                o.target = target;
                o.confirm_non_empty = yes;
                o.extract.subtree = subtree;
                o.extract.in_place = in_place;
                py::gil_scoped_release release;
                return j.job().restore_docs(o);
            },
            py::arg("target"), py::arg("which") = "latest", py::kw_only(), py::arg("yes") = false,
            py::arg("subtree") = "", py::arg("in_place") = false)
        .def(
            "prune",
            [](PyJob& j, bool dry_run, bool force) {
                py::gil_scoped_release release;
                return j.job().prune(dry_run, force);
            },
            py::arg("dry_run") = false, py::arg("force") = false)
        .def(
            "status",
            [](PyJob& j, double max_age_seconds,
               const std::optional<std::filesystem::path>& metrics) {
                if (max_age_seconds <= 0) throw ConfigError("max_age_seconds must be positive");
                py::gil_scoped_release release;
                return j.job().status(std::chrono::seconds(static_cast<long long>(max_age_seconds)),
                                      metrics);
            },
            py::arg("max_age_seconds") = 26 * 3600.0, py::arg("metrics_file") = py::none())
        .def("check",
             [](PyJob& j) {
                 py::gil_scoped_release release;
                 return j.job().check();
             })
        .def(
            "refresh",
            [](PyJob& j, const py::object& to_db, const std::optional<std::string>& role,
               const std::optional<std::filesystem::path>& docs_from,
               const std::optional<std::filesystem::path>& docs_to, const std::string& docs_subtree,
               const std::vector<std::string>& pre_hook, const std::vector<std::string>& post_hook,
               const std::vector<std::string>& exclude, std::optional<int> min_tables,
               const std::vector<std::string>& hook_env) {
                const auto& cfg = j.job().config();
                if (!cfg.db) throw ConfigError("refresh needs the production database (db_name)");
                RefreshOptions o;
                o.source = cfg.db->conn;
                o.sandbox = to_target(to_db, "to_db");
                if (role) o.sandbox.user = *role;
                if (docs_from) o.docs_source = *docs_from;
                if (docs_to) o.docs_target = *docs_to;
                o.docs_subtree = docs_subtree;
                o.pre_hook = pre_hook;
                o.post_hook = post_hook;
                o.hook_env = hook_env;
                o.exclude = exclude;
                o.proof.min_tables = min_tables;
                py::gil_scoped_release release;
                return j.job().refresh(o);
            },
            py::arg("to_db"), py::kw_only(), py::arg("role") = py::none(),
            py::arg("docs_from") = py::none(), py::arg("docs_to") = py::none(),
            py::arg("docs_subtree") = "", py::arg("pre_hook") = std::vector<std::string>{},
            py::arg("post_hook") = std::vector<std::string>{},
            py::arg("exclude") = std::vector<std::string>{}, py::arg("min_tables") = py::none(),
            py::arg("hook_env") = std::vector<std::string>{});
});

}  // namespace
}  // namespace dolibak::python
