// dolibak.Job: the backup job for Python, configured with the same settings as the CLI
// (job_settings.hpp), returning read-only report objects (each with to_dict()).
#include "json_value.hpp"
#include "plan_decisions.hpp"
#include "registry.hpp"
#include "target.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/job/job.hpp>
#include <dolibak/job/report.hpp>
#include <dolibak/job/settings.hpp>

#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

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

/// The first exception an on_event callback raised; the running operation raises it.
struct CallbackFailure {
    std::mutex mutex;
    std::optional<py::error_already_set> error;

    bool failed() {
        std::lock_guard lock(mutex);
        return error.has_value();
    }
    std::optional<py::error_already_set> take() {
        std::lock_guard lock(mutex);
        auto e = std::move(error);
        error.reset();
        return e;
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
            // An exception of the callback is never swallowed: the first one is kept (the
            // operation raises it when it returns), cancels the job, and stops the caller of
            // the event unless that caller is already unwinding. Later events are dropped.
            config.on_event = [cb, failure = failure_, token = cancel_](const Event& e) {
                if (failure->failed()) return;
                {
                    py::gil_scoped_acquire gil;
                    try {
                        cb->fn(e);
                        return;
                    } catch (py::error_already_set& err) {
                        std::lock_guard lock(failure->mutex);
                        if (!failure->error) failure->error = std::move(err);
                    }
                }
                token->cancel();
                if (std::uncaught_exceptions() == 0)
                    throw Cancelled("the on_event callback raised an exception");
            };
        }
        py::gil_scoped_release release;
        job_ = std::make_unique<Job>(std::move(config));
    }

    Job& job() { return *job_; }
    void cancel() { cancel_->cancel(); }

    /// Runs `op` (a call of the job) on a worker thread, without the GIL, while this thread
    /// checks for signals every 100 ms (Python runs its handlers in the main thread only, so
    /// a Ctrl-C would otherwise wait for the end of the operation). A handler's exception
    /// (KeyboardInterrupt) cancels the job, which stops at its next check, publishing nothing
    /// more; that exception is then raised, as is one raised by an on_event callback.
    template <class Op>
    auto run(Op op) -> decltype(op()) {
        using Result = decltype(op());
        std::optional<Result> result;
        std::exception_ptr failure;
        std::optional<py::error_already_set> interrupt;
        {
            std::mutex mutex;
            std::condition_variable finished;
            bool done = false;
            py::gil_scoped_release release;
            std::thread worker([&] {
                try {
                    result.emplace(op());
                } catch (...) {
                    failure = std::current_exception();
                }
                std::lock_guard lock(mutex);
                done = true;
                finished.notify_all();
            });
            std::unique_lock lock(mutex);
            while (!finished.wait_for(lock, std::chrono::milliseconds(100), [&] { return done; })) {
                if (interrupt) continue;  // cancelled: waiting for the worker to stop
                lock.unlock();
                {
                    py::gil_scoped_acquire gil;
                    if (PyErr_CheckSignals() != 0) {
                        const bool sigint = PyErr_ExceptionMatches(PyExc_KeyboardInterrupt) != 0;
                        interrupt.emplace();
                        cancel_->cancel(sigint ? SIGINT : 0);
                    }
                }
                lock.lock();
            }
            lock.unlock();
            worker.join();
        }
        if (interrupt) throw std::move(*interrupt);
        if (auto raised = failure_->take()) throw std::move(*raised);
        if (failure) std::rethrow_exception(failure);
        return std::move(*result);
    }

private:
    std::shared_ptr<CancelToken> cancel_;
    std::shared_ptr<CallbackFailure> failure_ = std::make_shared<CallbackFailure>();
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
        .def_property_readonly(
            "kind",
            [](const Event& e) {
                return e.kind == Event::Kind::info      ? "info"
                       : e.kind == Event::Kind::warning ? "warning"
                                                        : "progress";
            },
            "'info', 'warning' or 'progress'.")
        .def_readonly(
            "half", &Event::half,
            "The half it concerns ('db', 'docs', 'globals'), or '' for the run as a whole.")
        .def_readonly("message", &Event::message, "What happened, for a person to read.")
        .def_readonly("bytes", &Event::bytes,
                      "Progress: bytes stored so far (0 for the other kinds).")
        .def_readonly("total", &Event::total,
                      "Progress: the expected size in bytes (the half's previous object), or None "
                      "when unknown.")
        .def_readonly("done", &Event::done,
                      "Progress: true on the last event of a finished half (its final totals).")
        .def("__repr__", [](const Event& e) {
            return "<Event " + e.half + ": " + e.message +
                   (e.kind == Event::Kind::progress ? std::to_string(e.bytes) : "") + ">";
        });

    py::class_<HalfReport>(m, "HalfReport", "What a backup did with one half.")
        .def_readonly("half", &HalfReport::half, "'db', 'docs' or 'globals'.")
        .def_property_readonly(
            "outcome", [](const HalfReport& h) { return std::string(to_string(h.outcome)); },
            "'uploaded', 'unchanged', 'would-upload' (dry run), 'skipped' or 'failed'.")
        .def_readonly(
            "key", &HalfReport::key,
            "The store key of the object that holds the half (new, or the unchanged earlier one).")
        .def_readonly("bytes", &HalfReport::bytes, "The object's size in bytes.")
        .def_readonly("sha256", &HalfReport::sha256, "The object's SHA-256 (hex).")
        .def_readonly("seconds", &HalfReport::seconds, "How long the half took.")
        .def_readonly("fingerprint", &HalfReport::fingerprint,
                      "This run's fingerprint value of the half.")
        .def_readonly("reason", &HalfReport::reason,
                      "Why it was uploaded or left unchanged (e.g. 'database changed').")
        .def_readonly("error", &HalfReport::error, "Why it failed (outcome 'failed'), else ''.")
        .def_property_readonly(
            "exclusions", [](const HalfReport& h) { return exclusion_tuples(h.exclusions); },
            "Documents: (pattern, files, bytes) for each exclude pattern, as the manifest records "
            "them.")
        .def_property_readonly(
            "table_changes",
            [](const HalfReport& h) -> py::object {
                return h.table_changes ? json_loads(to_json(*h.table_changes)) : py::none();
            },
            "A database half whose fingerprint differs from the stored one: which tables "
            "(known, schema_changed, changed, added, removed), else None")
        .def("__repr__", [](const HalfReport& h) {
            return "<HalfReport " + h.half + " " + std::string(to_string(h.outcome)) + " " + h.key +
                   ">";
        });

    py::class_<PacksCollection>(
        m, "PacksCollection",
        "The collection of packs after a prune in a store of docs_mode packs runs: what it "
        "deleted and repacked, or, on a dry run, what it would.")
        .def_readonly("indexes", &PacksCollection::indexes,
                      "The indexes that stay, read to find the packs still in use.")
        .def_property_readonly(
            "deleted",
            [](const PacksCollection& c) {
                py::list l;
                for (const auto& p : c.deleted) l.append(py::make_tuple(p.key, p.bytes));
                return l;
            },
            "(key, bytes) of each pack no index that stays references.")
        .def_property_readonly(
            "repacked",
            [](const PacksCollection& c) {
                py::list l;
                for (const auto& p : c.repacked) l.append(py::make_tuple(p.key, p.bytes, p.live));
                return l;
            },
            "(key, bytes, live bytes) of each pack mostly garbage whose live frames move.")
        .def_property_readonly("deleted_bytes", &PacksCollection::deleted_bytes,
                               "The size of the packs deleted.")
        .def_property_readonly("repacked_bytes", &PacksCollection::repacked_bytes,
                               "The size of the packs repacked.")
        .def_property_readonly("repacked_live_bytes", &PacksCollection::repacked_live_bytes,
                               "The bytes of their live frames (what the repack copies).")
        .def_readonly("records_deleted", &PacksCollection::records_deleted,
                      "The move records no reference goes through any more.")
        .def_readonly("written", &PacksCollection::written,
                      "The new packs the repack wrote (empty on a dry run).")
        .def_readonly("bytes_written", &PacksCollection::bytes_written,
                      "Their size (0 on a dry run).")
        .def_readonly("kept_bytes", &PacksCollection::kept_bytes,
                      "The size of the packs that stay as they are (referenced, not repacked).")
        .def_readonly("problems", &PacksCollection::problems, "Packs left unrepacked, and why.")
        .def("__repr__", [](const PacksCollection& c) {
            return "<PacksCollection " + std::to_string(c.deleted.size()) + " deleted, " +
                   std::to_string(c.repacked.size()) + " repacked>";
        });

    py::class_<PruneReport> prune(m, "PruneReport", "A prune: the plan, what was deleted.");
    prune
        .def_property_readonly(
            "decisions", [](const PruneReport& r) { return explained(r.plan, Which::all); },
            "The retention planner's decision for every run and half (retention.Decision).")
        .def_property_readonly(
            "kept", [](const PruneReport& r) { return explained(r.plan, Which::kept); },
            "The decisions that keep their run's half.")
        .def_property_readonly(
            "dropped", [](const PruneReport& r) { return explained(r.plan, Which::dropped); },
            "The decisions that drop their run's half.")
        .def_readonly("drop_keys", &PruneReport::to_delete,
                      "Every key prune deletes (or would): the manifests and verification "
                      "records of the runs that go, then the objects no kept run names.")
        .def_readonly("objects", &PruneReport::objects,
                      "For each decision's key (manifests/<ts>.json#<half>), the object it "
                      "names.")
        .def_readonly("deleted", &PruneReport::deleted, "The keys removed (empty on a dry run).")
        .def_property_readonly(
            "failures",
            [](const PruneReport& r) {
                py::list l;
                for (const auto& f : r.failures) l.append(py::make_tuple(f.key, f.message));
                return l;
            },
            "(key, message) of each removal that failed.")
        .def_readonly("dry_run", &PruneReport::dry_run, "True when nothing was removed on purpose.")
        .def_readonly("packs", &PruneReport::packs,
                      "The collection of packs (PacksCollection), or on a dry run its preview; "
                      "None when the store holds no packs or a dry run could not preview it.")
        .def_readonly("packs_error", &PruneReport::packs_error,
                      "Why a dry run did not preview the collection of packs, else ''.");
    add_to_dict(prune);

    py::class_<BackupReport> backup(m, "BackupReport", "What a backup run did.");
    backup
        .def_property_readonly(
            "time", [](const BackupReport& r) { return from_time(r.time); },
            "The run's time stamp (aware UTC datetime).")
        .def_readonly("halves", &BackupReport::halves,
                      "One HalfReport per half (db, docs, and globals when configured).")
        .def_readonly("manifest_key", &BackupReport::manifest_key,
                      "The key of the run's manifest ('' on a dry run).")
        .def_readonly("seconds", &BackupReport::seconds, "How long the run took.")
        .def_readonly("prune", &BackupReport::prune,
                      "The prune after the run (PruneReport), or None when there was none.")
        .def_readonly("prune_requested", &BackupReport::prune_requested,
                      "Whether a prune was asked for after this run (the prune argument or "
                      "prune_after_backup).")
        .def_readonly(
            "prune_error", &BackupReport::prune_error,
            "Why the prune asked for did not happen or stopped; the run stands as reported.")
        .def_property_readonly("ok", &BackupReport::ok, "True when no half failed.")
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
        .def_readonly("half", &BackupEntry::half, "'db', 'docs' or 'globals'.")
        .def_property_readonly(
            "time", [](const BackupEntry& b) { return from_time(b.time); },
            "The time stamp of the run that stored it (aware UTC datetime).")
        .def_readonly("key", &BackupEntry::key, "Its store key.")
        .def_readonly("size", &BackupEntry::size, "Its size in bytes.")
        .def_readonly("has_manifest", &BackupEntry::has_manifest,
                      "Whether a manifest names it (False: an old script's backup).")
        .def_readonly("sha256", &BackupEntry::sha256,
                      "Its SHA-256 (hex) as the manifest records it, or ''.")
        .def_property_readonly(
            "verified",
            [](const BackupEntry& b) -> py::object {
                if (!b.verified) return py::none();
                py::dict d;
                d["at"] = from_time(b.verified->at);
                d["ok"] = b.verified->ok;
                d["run"] = from_time(b.verified->run);
                return std::move(d);
            },
            "The newest verify that read it back: a dict with at, ok and run; None when never "
            "verified.")
        .def("__repr__", [](const BackupEntry& b) { return "<BackupEntry " + b.key + ">"; });

    py::class_<RunEntry>(m, "RunEntry", "One run (manifest) in the store.")
        .def_property_readonly(
            "time", [](const RunEntry& r) { return from_time(r.time); },
            "The run's time stamp (aware UTC datetime).")
        .def_readonly("manifest_key", &RunEntry::manifest_key, "The key of its manifest.")
        .def_readonly("loaded", &RunEntry::loaded, "Whether the manifest was read.")
        .def_property_readonly(
            "succeeded",
            [](const RunEntry& r) -> py::object {
                if (!r.loaded) return py::none();
                return py::bool_(r.manifest.succeeded());
            },
            "Whether every half of the run succeeded; None when the manifest was not read.")
        .def_property_readonly(
            "manifest",
            [](const RunEntry& r) -> py::object {
                if (!r.loaded) return py::none();
                return json_loads(r.manifest.to_json());
            },
            "The manifest as plain Python data; None when it was not read.");

    py::class_<ListReport> list(m, "ListReport", "Every backup and run in the store.");
    list.def_readonly("backups", &ListReport::backups,
                      "Every backup object (BackupEntry), oldest first.")
        .def_readonly("runs", &ListReport::runs, "Every run (RunEntry), oldest first.")
        .def_property_readonly(
            "other",
            [](const ListReport& r) {
                py::list l;
                for (const auto& o : r.other) l.append(o.key);
                return l;
            },
            "Keys of the objects that are neither backups nor manifests (prune ignores them).")
        .def_property_readonly(
            "verifications",
            [](const ListReport& r) {
                py::list l;
                for (const auto& o : r.verifications) l.append(o.key);
                return l;
            },
            "Keys of the verification records (verified/<ts>...json), oldest first.");
    add_to_dict_with_manifests(list);

    py::class_<VerifiedObject>(m, "VerifiedObject", "One object checked by verify.")
        .def_readonly("key", &VerifiedObject::key, "The store key of the object.")
        .def_readonly("half", &VerifiedObject::half, "'db', 'docs' or 'globals'.")
        .def_readonly("ok", &VerifiedObject::ok, "Whether every check passed.")
        .def_readonly("bytes", &VerifiedObject::bytes, "The bytes read.")
        .def_readonly("sha256", &VerifiedObject::sha256, "The SHA-256 (hex) of what was read.")
        .def_readonly("problem", &VerifiedObject::problem, "What is wrong with it ('' when ok).")
        .def_property_readonly(
            "exclusions", [](const VerifiedObject& o) { return exclusion_tuples(o.exclusions); },
            "A documents archive: (pattern, files, bytes) for each exclude pattern, as its "
            "manifest records them.");

    py::class_<VerifyReport> verify(m, "VerifyReport", "The outcome of verify.");
    verify
        .def_property_readonly(
            "time", [](const VerifyReport& r) { return from_time(r.time); },
            "The time stamp of the run verified (aware UTC datetime).")
        .def_readonly("objects", &VerifyReport::objects,
                      "One VerifiedObject per object of the run.")
        .def_readonly("quick", &VerifyReport::quick,
                      "A quick verify: presence and sizes only, not every byte read.")
        .def_readonly(
            "record_key", &VerifyReport::record_key,
            "Where the result was recorded (verified/<ts>...json); '' when the store refused it.")
        .def_property_readonly("ok", &VerifyReport::ok,
                               "True when there was something to verify and every object passed.");
    add_to_dict(verify);

    py::class_<pgdump::TableCheck>(m, "TableCheck", "A restored table and its row counts.")
        .def_readonly("schema", &pgdump::TableCheck::schema, "The table's schema.")
        .def_readonly("name", &pgdump::TableCheck::name, "The table's name.")
        .def_readonly("expected_rows", &pgdump::TableCheck::expected_rows,
                      "The row count the archive records, or None when it records none.")
        .def_readonly("actual_rows", &pgdump::TableCheck::actual_rows,
                      "The row count found after the restore, or None when the table is missing.");

    py::class_<pgdump::RestoreReport> restore(m, "RestoreReport", "A proven database restore.");
    restore
        .def_readonly("pg_restore_exit", &pgdump::RestoreReport::pg_restore_exit,
                      "pg_restore's exit status.")
        .def_readonly("pg_restore_stderr", &pgdump::RestoreReport::pg_restore_stderr,
                      "What pg_restore wrote on its standard error.")
        .def_readonly("tables", &pgdump::RestoreReport::tables,
                      "The restored tables and their row counts (TableCheck).")
        .def_readonly("pattern_tables", &pgdump::RestoreReport::pattern_tables,
                      "How many tables of the restored database match the profile's pattern.")
        .def_readonly("safety_dump", &pgdump::RestoreReport::safety_dump,
                      "The dump of the target taken before the restore, or None.")
        .def_property_readonly("rows_matched", &pgdump::RestoreReport::rows_matched,
                               "How many tables were found with the row count the archive records.")
        .def_property_readonly("present_only", &pgdump::RestoreReport::present_only,
                               "How many tables were found where the archive records no row count "
                               "(their rows are not proven).");
    add_to_dict(restore);

    py::class_<DocsRestoreReport> docs(m, "DocsRestoreReport", "A documents restore.");
    docs.def_readonly("key", &DocsRestoreReport::key, "The archive restored.")
        .def_property_readonly(
            "files", [](const DocsRestoreReport& r) { return r.summary.files; }, "Files extracted.")
        .def_property_readonly(
            "directories", [](const DocsRestoreReport& r) { return r.summary.directories; },
            "Directories extracted.")
        .def_property_readonly(
            "content_bytes", [](const DocsRestoreReport& r) { return r.summary.content_bytes; },
            "Bytes of file content extracted.")
        .def_readonly(
            "missing_required", &DocsRestoreReport::missing_required,
            "Files the profile requires that the restored tree lacks (empty when all are there).");
    add_to_dict(docs);

    py::class_<StatusReport> status(m, "StatusReport", "The last successful run and its age.");
    status.def_readonly("last_run", &StatusReport::last_run, "The newest run (RunEntry), or None.")
        .def_readonly("last_success", &StatusReport::last_success,
                      "The newest run whose halves all succeeded, or None.")
        .def_readonly("age_seconds", &StatusReport::age_seconds,
                      "The age of the last success in seconds, or None.")
        .def_readonly("stale", &StatusReport::stale,
                      "True when there is no recent enough success (see reason).")
        .def_readonly("reason", &StatusReport::reason,
                      "Why the store is stale ('' when it is not).")
        .def_property_readonly(
            "future_runs",
            [](const StatusReport& r) {
                std::vector<py::object> out;
                for (const auto t : r.future_runs) out.push_back(from_time(t));
                return out;
            },
            "Runs stamped in the future beyond the clock-skew tolerance (a wrong clock).")
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
        .def_readonly("name", &CheckItem::name, "What was checked.")
        .def_readonly("ok", &CheckItem::ok, "Whether it passed.")
        .def_readonly("detail", &CheckItem::detail, "What was found.")
        .def("__repr__", [](const CheckItem& i) {
            return "<CheckItem " + i.name + (i.ok ? " ok>" : " FAILED>");
        });

    py::class_<CheckReport> check(m, "CheckReport", "The preflight checks.");
    check.def_readonly("items", &CheckReport::items, "Every check (CheckItem), in order.")
        .def_property_readonly("ok", &CheckReport::ok, "True when every check passed.");
    add_to_dict(check);

    py::class_<RefreshReport> refresh(m, "RefreshReport", "A sandbox refresh.");
    refresh
        .def_readonly("restore", &RefreshReport::restore,
                      "The proven restore into the sandbox (RestoreReport).")
        .def_property_readonly(
            "docs_files",
            [](const RefreshReport& r) -> py::object {
                if (!r.docs) return py::none();
                return py::int_(r.docs->files);
            },
            "Files of the documents subtree synced, or None when no documents were synced.")
        .def_readonly("post_hook_exit", &RefreshReport::post_hook_exit,
                      "The post hook's exit status (0 without one).");
    add_to_dict(refresh);

    m.def(
        "setting_keys",
        [] {
            py::list l;
            for (const auto& k : setting_keys()) l.append(k.key);
            return l;
        },
        "Every setting key (the config file's keys; DOLIBAK_<KEY>; --<key-with-dashes>)");

    py::class_<PyJob>(
        m, "Job",
        "The backup job. `settings` uses the keys of the config file (see docs/configuration.md); "
        "they win over DOLIBAK_* variables and the config file (config_file, else "
        "$DOLIBAK_CONFIG) when use_environment is true.\n\n"
        "on_event(event) is called with each Event (from the job's threads, holding the GIL); an "
        "exception it raises cancels the operation, which raises it. Ctrl-C during an operation "
        "(any exception of a signal handler, checked every 100 ms) cancels it the same way: it "
        "stops at its next check, publishes nothing more, and KeyboardInterrupt is raised. A "
        "cancelled Job stays cancelled: make a new one.")
        .def(py::init<const py::object&, const py::object&, bool, const py::object&>(),
             py::arg("settings") = py::none(), py::kw_only(), py::arg("config_file") = py::none(),
             py::arg("use_environment") = true, py::arg("on_event") = py::none())
        .def_property_readonly(
            "store_url", [](PyJob& j) { return j.job().store().url(); },
            "The store's URL (s3://bucket/prefix or file:///dir).")
        .def_property_readonly(
            "has_db", [](PyJob& j) { return j.job().config().db.has_value(); },
            "Whether a database is configured (db_name).")
        .def_property_readonly(
            "has_docs", [](PyJob& j) { return j.job().config().docs.has_value(); },
            "Whether a documents directory is configured (docs_dir).")
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
                return j.run([&] { return j.job().backup(o); });
            },
            py::arg("db") = true, py::arg("docs") = true, py::arg("force") = false,
            py::arg("dry_run") = false, py::arg("prune") = py::none(),
            py::arg("metrics") = py::none(),
            "Back up; prune=None follows the prune_after_backup setting; metrics: a "
            "Prometheus textfile to write")
        .def(
            "list", [](PyJob& j) { return j.run([&] { return j.job().list(); }); },
            "Every backup object, run and verification record in the store (ListReport). Ctrl-C "
            "cancels it.")
        .def(
            "verify",
            [](PyJob& j, const std::string& which, bool quick) {
                VerifyOptions o;
                o.quick = quick;
                return j.run([&] { return j.job().verify(which, o); });
            },
            py::arg("which") = "latest", py::kw_only(), py::arg("quick") = false,
            "Downloads every object of a run ('latest' or its time stamp) and checks it against "
            "its manifest, reading each archive through; records the result in the store "
            "(VerifyReport). quick=True: presence and sizes only (a packs index's packs by "
            "HEAD), nothing recorded. Ctrl-C cancels it.")
        .def(
            "restore_db",
            [](PyJob& j, const py::object& target, const std::string& which, bool yes,
               const std::optional<std::filesystem::path>& safety_dump, bool clean, int jobs,
               const std::vector<std::string>& exclude, std::optional<int> min_tables,
               bool overwrite_source) {
                RestoreDbOptions o;
                o.which = which;
                const auto& db = j.job().config().db;
                o.restore.target = to_target(target, "target", db ? &db->conn : nullptr);
                o.restore.confirm_non_empty = yes;
                o.restore.safety_dump = safety_dump;
                o.restore.clean = clean;
                o.restore.jobs = jobs;
                o.restore.proof.min_tables = min_tables;
                o.exclude = exclude;
                o.overwrite_source = overwrite_source;
                return j.run([&] { return j.job().restore_db(o); });
            },
            py::arg("target"), py::arg("which") = "latest", py::kw_only(), py::arg("yes") = false,
            py::arg("safety_dump") = py::none(), py::arg("clean") = false, py::arg("jobs") = 1,
            py::arg("exclude") = std::vector<std::string>{}, py::arg("min_tables") = py::none(),
            py::arg("overwrite_source") = false,
            "Restores a run's database dump into target (a conninfo string or a dict of host, "
            "port, user, dbname, password, sslmode) and proves it (row counts against the "
            "archive). A non-empty target needs yes=True; the configured database itself also "
            "needs overwrite_source=True (a safety dump is taken first). Raises VerificationError "
            "with every difference. Ctrl-C cancels it.")
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
                return j.run([&] { return j.job().restore_docs(o); });
            },
            py::arg("target"), py::arg("which") = "latest", py::kw_only(), py::arg("yes") = false,
            py::arg("subtree") = "", py::arg("in_place") = false,
            "Restores a run's documents archive into the directory target (staged, then swapped "
            "in; a non-empty target needs yes=True; in_place extracts over it; subtree restores "
            "only that part). Ctrl-C cancels it.")
        .def(
            "prune",
            [](PyJob& j, bool dry_run, bool force) {
                return j.run([&] { return j.job().prune(dry_run, force); });
            },
            py::arg("dry_run") = false, py::arg("force") = false,
            "Applies the retention policy: deletes the runs it drops and the objects no kept run "
            "names (dry_run: only plans). It refuses when the newest run failed, unless "
            "force=True. Ctrl-C cancels it.")
        .def(
            "status",
            [](PyJob& j, double max_age_seconds,
               const std::optional<std::filesystem::path>& metrics) {
                if (max_age_seconds <= 0) throw ConfigError("max_age_seconds must be positive");
                return j.run([&] {
                    return j.job().status(
                        std::chrono::seconds(static_cast<long long>(max_age_seconds)), metrics);
                });
            },
            py::arg("max_age_seconds") = 26 * 3600.0, py::arg("metrics_file") = py::none(),
            "The freshness of the store: stale when no run succeeded within max_age_seconds "
            "(StatusReport); metrics_file: a Prometheus textfile to write. Ctrl-C cancels it.")
        .def(
            "check", [](PyJob& j) { return j.run([&] { return j.job().check(); }); },
            "Preflight checks of the configuration, each a CheckItem with its name, outcome and "
            "detail (CheckReport). Ctrl-C cancels it.")
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
                return j.run([&] { return j.job().refresh(o); });
            },
            py::arg("to_db"), py::kw_only(), py::arg("role") = py::none(),
            py::arg("docs_from") = py::none(), py::arg("docs_to") = py::none(),
            py::arg("docs_subtree") = "", py::arg("pre_hook") = std::vector<std::string>{},
            py::arg("post_hook") = std::vector<std::string>{},
            py::arg("exclude") = std::vector<std::string>{}, py::arg("min_tables") = py::none(),
            py::arg("hook_env") = std::vector<std::string>{},
            "Refreshes a sandbox database (to_db, as its owner role) from a fresh dump of the "
            "configured production database, optionally with a documents subtree and pre/post "
            "hooks (argv, no shell); a failed refresh puts the sandbox back (RefreshReport). "
            "Ctrl-C cancels it.");
});

}  // namespace
}  // namespace dolibak::python
