// Job::backup: both halves concurrently, each skipped when its fingerprint is unchanged and
// the object it names still exists; objects published atomically; the fingerprint object
// written only after its half's object is stored; a manifest per run; optional prune.
#include "job/job_impl.hpp"
#include "job/pipeline.hpp"

#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/error.hpp>
#include <dolibak/core/text.hpp>
#include <dolibak/core/version.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/io/file_io.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/job/report.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <future>

namespace dolibak::job {

namespace {

using catalog::StoredFingerprint;
using Outcome = HalfReport::Outcome;

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// What the run needs to write a half's manifest entry.
struct HalfResult {
    HalfReport report;
    catalog::ManifestHalf manifest;
};

class BackupRun {
public:
    BackupRun(Job::Impl& im, const BackupOptions& o, TimePoint t, catalog::Lease* lease)
        : im_(im), o_(o), t_(t), lease_(lease) {}

    /// Decides whether a half may be skipped; fills `r` when it is.
    bool unchanged(HalfResult& r, const std::optional<StoredFingerprint>& prev,
                   const std::string& value, const std::string& mode) {
        if (!prev) {
            // Keep "stored fingerprint unreadable" when that is why there is none.
            if (r.report.reason.empty()) r.report.reason = "no stored fingerprint";
            return false;
        }
        if (o_.force) {
            r.report.reason = "forced";
            return false;
        }
        if (prev->mode != mode) {
            r.report.reason = "fingerprint mode changed (" + prev->mode + " -> " + mode + ")";
            return false;
        }
        if (prev->value != value) return false;  // reason set by the caller
        // Encryption turned on (or off) since: the old object is not what this run promises.
        const auto prev_key = catalog::parse_store_key(prev->object);
        const bool prev_encrypted = prev_key && prev_key->encrypted;
        if (prev_encrypted != im_.config.encryption.enabled()) {
            r.report.reason = prev_encrypted ? "unchanged, but stored encrypted and encryption "
                                               "is now off"
                                             : "unchanged, but stored in the clear and "
                                               "encryption is now on";
            return false;
        }
        const auto head = im_.store().head(prev->object);
        if (!head) {
            r.report.reason = "unchanged, but " + prev->object + " is gone from the store";
            return false;
        }
        r.report.outcome = Outcome::unchanged;
        r.report.key = prev->object;
        r.report.bytes = head->size;
        r.report.sha256 = prev->sha256;
        r.report.reason = "fingerprint unchanged since " + format_timestamp(prev->time);
        r.manifest.status = catalog::ManifestHalf::Status::unchanged;
        r.manifest.key = prev->object;
        if (prev_encrypted) r.manifest.encryption = "age";
        r.manifest.bytes = head->size;
        r.manifest.sha256 = prev->sha256;
        return true;
    }

    /// The size the next object `key` will probably have: that of the half's previous object
    /// (the stored fingerprint names it) when it is of the same kind.
    static std::optional<std::uint64_t> estimate(const std::optional<StoredFingerprint>& prev,
                                                 const std::string& key) {
        if (!prev || prev->bytes == 0) return std::nullopt;
        const auto was = catalog::parse_store_key(prev->object);
        const auto will = catalog::parse_store_key(key);
        if (!was || !will || was->kind != will->kind) return std::nullopt;
        return prev->bytes;
    }

    /// Streams the driver's object into a new object `key`: hash, count, progress (with the
    /// estimated total, when there is one) and cancellation on the way. Returns bytes and
    /// SHA-256 of what was stored.
    std::pair<std::uint64_t, std::string> upload(const std::string& half, const std::string& key,
                                                 const std::function<Produced(io::Sink&)>& produce,
                                                 Produced& produced,
                                                 std::optional<std::uint64_t> expected = {}) {
        store::PutOptions po;
        po.no_overwrite = true;
        auto sink = im_.store().put(key, po);
        io::Sha256 sha;
        detail::ProgressObserver progress(
            [this, half, expected](std::uint64_t bytes) {
                // A long run keeps its lease (a conditional put each quarter of the TTL).
                if (lease_) lease_->renew_if_due(im_.now());
                im_.emit({Event::Kind::progress, half, "uploading", bytes, expected,
                          expected.has_value()});
            },
            im_.config.cancel, "backing up the " + half + " half");
        // Encrypted, the driver writes into the age filter and the store receives (and the
        // digest covers) the ciphertext; the filter hashes each chunk as it seals it.
        const bool encrypting = im_.config.encryption.enabled();
        io::ObservedSink observed(*sink, encrypting ? std::vector<io::Observer*>{&progress}
                                                    : std::vector<io::Observer*>{&progress, &sha});
        std::unique_ptr<io::AgeEncryptSink> age;
        try {
            if (encrypting)
                age = std::make_unique<io::AgeEncryptSink>(observed, im_.recipients(),
                                                           std::vector<io::Observer*>{&sha});
            produced = produce(age ? static_cast<io::Sink&>(*age)
                                   : observed);  // finishes or aborts the sink
        } catch (...) {
            if (age) age->abort();
            observed.abort();
            throw;
        }
        // The final count (the observer emits at most twice a second, so the last bytes
        // were not reported), and the end of this half's progress.
        im_.emit({Event::Kind::progress, half, "uploaded", progress.bytes(), expected,
                  expected.has_value(), true});
        return {progress.bytes(), sha.hex()};
    }

    /// One half: fingerprint, compare with the stored one, produce a new object when changed.
    HalfResult half(const std::string& name, HalfDriver& driver) {
        const auto start = std::chrono::steady_clock::now();
        HalfResult r;
        r.report.half = name;
        r.manifest.format = driver.format();
        try {
            auto ctx = im_.context(name);
            std::optional<StoredFingerprint> prev;
            try {
                prev = im_.catalog->fingerprint(name);
            } catch (const Cancelled&) {
                throw;
            } catch (const Error& e) {
                // A backup is better than none: without the stored fingerprint, upload.
                im_.warn(name, std::string("the stored fingerprint cannot be read (") + e.what() +
                                   "): uploading");
                r.report.reason = "stored fingerprint unreadable";
            }
            if (prev) ctx.stored_state = prev->state;  // for the fingerprint's pre-check
            if (!o_.dry_run && (!prev || o_.force)) {
                // The object is written whatever the fingerprint says: the driver may take
                // both at once, of one state (the database: one snapshot, the scan beside
                // pg_dump).
                unchanged(r, prev, {}, {});  // the reason: no stored fingerprint, or forced
                LiveFingerprint fp;
                store_object(name, r, prev, start, fp, driver.object_kind(), [&](io::Sink& sink) {
                    auto [taken, produced] = driver.fingerprint_and_produce(sink, ctx);
                    fp = std::move(taken);
                    note_fingerprint(r, prev, fp, name);
                    return produced;
                });
            } else {
                // The fingerprint is taken before the object: a change committed in between
                // is in the object and makes the next run upload again, never the other way
                // round.
                const auto fp = driver.fingerprint(ctx);
                note_fingerprint(r, prev, fp, name);
                if (unchanged(r, prev, fp.value, fp.mode)) {
                    if (fp.rescanned && !fp.state.empty() && !o_.dry_run)
                        refresh_state(name, *prev, fp.state);
                    Event e{Event::Kind::info, name, r.report.reason + ": nothing uploaded", 0,
                            std::nullopt};
                    e.key = r.report.key;
                    e.size = r.report.bytes;
                    e.outcome = "unchanged";
                    im_.emit(std::move(e));
                } else if (o_.dry_run) {
                    r.report.outcome = Outcome::would_upload;
                    Event e{Event::Kind::info, name, "would upload (" + r.report.reason + ")", 0,
                            std::nullopt};
                    e.outcome = "would-upload";
                    im_.emit(std::move(e));
                } else {
                    store_object(name, r, prev, start, fp, driver.object_kind(),
                                 [&](io::Sink& sink) { return driver.produce(sink, ctx); });
                }
            }
        } catch (const Cancelled&) {
            throw;
        } catch (const std::exception& e) {
            fail(r, e);
        }
        r.report.seconds = r.manifest.duration_seconds = seconds_since(start);
        return r;
    }

private:
    /// What the live fingerprint says in the report and the manifest; the reason, when it
    /// differs from the stored one (a forced run keeps "forced").
    void note_fingerprint(HalfResult& r, const std::optional<StoredFingerprint>& prev,
                          const LiveFingerprint& fp, const std::string& name) {
        r.manifest.tool_version = fp.tool_version;
        r.manifest.server_version = fp.server_version;
        r.report.fingerprint = fp.value;
        r.manifest.fingerprint_json = fingerprint_json(fp.value, fp.mode);
        if (!prev || prev->value == fp.value) return;
        std::string reason = name == "db"        ? "database changed"
                             : name == "globals" ? "roles changed"
                                                 : "documents changed";
        // Per-table digests compare only within one mode (a mode change says so).
        if (!fp.tables.empty() && prev->mode == fp.mode) {
            r.report.table_changes = table_changes(*prev, fp);
            reason += describe(*r.report.table_changes);
        }
        if (!o_.force) r.report.reason = std::move(reason);
    }

    /// Writes the half's object through `produce` (which fills `fp` when the fingerprint is
    /// taken with the object), records it, then stores the fingerprint `fp`.
    void store_object(const std::string& name, HalfResult& r,
                      const std::optional<StoredFingerprint>& prev,
                      std::chrono::steady_clock::time_point start, const LiveFingerprint& fp,
                      catalog::ObjectKind kind, const std::function<Produced(io::Sink&)>& produce) {
        const bool encrypted = im_.config.encryption.enabled();
        const std::string key = catalog::make_store_key("", kind, t_, encrypted);
        im_.info(name, std::string(name == "docs" ? "archiving" : "dumping") + " into " + key +
                           " (" + r.report.reason + ")");
        Produced produced;
        const auto [bytes, sha] = upload(name, key, produce, produced, estimate(prev, key));
        if (encrypted) {
            // Table names, row counts and file counts stay as private as the object.
            r.manifest.encryption = "age";
            if (!produced.summary_json.empty())
                r.manifest.archive_summary_sealed =
                    io::age_seal(produced.summary_json, im_.recipients());
        } else {
            r.manifest.archive_summary_json = produced.summary_json;
        }
        r.report.exclusions = recorded_exclusions(produced.summary_json);
        if (!produced.tool_version.empty()) r.manifest.tool_version = produced.tool_version;
        if (!produced.server_version.empty()) r.manifest.server_version = produced.server_version;
        stored(r, key, bytes, sha);
        try {
            StoredFingerprint stored_fp{name, fp.value, fp.mode, key, t_, sha, bytes};
            if (!fp.tables.empty()) {
                stored_fp.tables = fp.tables;
                stored_fp.schema_digest = fp.schema_digest;
            }
            stored_fp.state = fp.state;
            im_.catalog->store_fingerprint(stored_fp);
        } catch (const Cancelled&) {
            throw;
        } catch (const Error& e) {
            // The object is stored and the manifest will name it; only the next run's skip
            // is lost (it uploads again).
            im_.warn(name, std::string("the fingerprint could not be stored (") + e.what() +
                               "): the next run uploads this half again");
        }
        Event e{Event::Kind::info, name,
                "stored " + key + " (" + std::to_string(bytes) + " bytes" +
                    (produced.detail.empty() ? "" : ", " + produced.detail) + ")",
                0, std::nullopt};
        e.key = key;
        e.size = bytes;
        e.seconds = seconds_since(start);
        e.outcome = "uploaded";
        im_.emit(std::move(e));
    }

    /// Which tables differ between the stored fingerprint and the live one (unknown when the
    /// stored one predates per-table digests).
    static TableChanges table_changes(const StoredFingerprint& prev, const LiveFingerprint& fp) {
        TableChanges c;
        if (!prev.tables) return c;
        c.known = true;
        c.schema_changed = prev.schema_digest != fp.schema_digest;
        for (const auto& [table, digest] : fp.tables) {
            const auto was = prev.tables->find(table);
            if (was == prev.tables->end())
                c.added.push_back(table);
            else if (was->second != digest)
                c.changed.push_back(table);
        }
        for (const auto& [table, digest] : *prev.tables)
            if (!fp.tables.count(table)) c.removed.push_back(table);
        return c;
    }

    /// ": schema changed; changed public.llx_facture; added public.llx_x" for the reason (five
    /// names of each list at most, then the count).
    static std::string describe(const TableChanges& c) {
        if (!c.known) return " (the stored fingerprint predates per-table digests: tables unknown)";
        std::string s;
        auto list = [&s](const char* what, const std::vector<std::string>& tables) {
            if (tables.empty()) return;
            s += (s.empty() ? ": " : "; ") + std::string(what) + " ";
            for (std::size_t i = 0; i < tables.size(); ++i) {
                if (i == 5) {
                    s += fmt::format(", ... ({} in all)", tables.size());
                    break;
                }
                s += (i ? ", " : "") + tables[i];
            }
        };
        if (c.schema_changed) s = ": schema changed";
        list("changed", c.changed);
        list("added", c.added);
        list("removed", c.removed);
        return s;
    }

    /// Stores the unchanged fingerprint again with the pre-check state of this run's
    /// fingerprint, which read tables again: the next run's pre-check starts from it instead of
    /// reading them once more. Only a lost speed-up when it cannot.
    void refresh_state(const std::string& name, StoredFingerprint stored,
                       const std::string& state) {
        stored.state = state;
        try {
            im_.catalog->store_fingerprint(stored);
        } catch (const Cancelled&) {
            throw;
        } catch (const Error& e) {
            im_.warn(name, std::string("the fingerprint's pre-check state could not be stored (") +
                               e.what() + "): the next run reads the tables again");
        }
    }

    static std::string fingerprint_json(const std::string& value, const std::string& mode) {
        return nlohmann::json{{"fingerprint", value}, {"mode", mode}}.dump();
    }

    static void stored(HalfResult& r, const std::string& key, std::uint64_t bytes,
                       const std::string& sha) {
        r.report.outcome = Outcome::uploaded;
        r.report.key = r.manifest.key = key;
        r.report.bytes = r.manifest.bytes = bytes;
        r.report.sha256 = r.manifest.sha256 = sha;
        r.manifest.status = catalog::ManifestHalf::Status::uploaded;
    }

    void fail(HalfResult& r, const std::exception& e) {
        r.report.outcome = Outcome::failed;
        r.report.error = e.what();
        r.manifest.status = catalog::ManifestHalf::Status::failed;
        r.manifest.error = e.what();
        r.manifest.key.clear();
        Event event{Event::Kind::warning, r.report.half, std::string("failed: ") + e.what(), 0,
                    std::nullopt};
        event.outcome = "failed";
        im_.emit(std::move(event));
    }

    Job::Impl& im_;
    const BackupOptions& o_;
    TimePoint t_;
    catalog::Lease* lease_;
};

HalfDriver& driver_of(HalfDriver* d, const char* half) {
    if (!d) throw ConfigError(std::string("the environment has no driver for the ") + half);
    return *d;
}

}  // namespace

BackupReport Job::Impl::backup(const BackupOptions& options) {
    auto& im = *this;
    const auto start = std::chrono::steady_clock::now();
    const bool want_db = options.db && im.config.db.has_value();
    const bool want_docs = options.docs && im.config.docs.has_value();
    if (options.db && !options.docs && !im.config.db)
        throw ConfigError("--db-only, but no database is configured");
    if (options.docs && !options.db && !im.config.docs)
        throw ConfigError("--docs-only, but no documents directory is configured");
    if (!want_db && !want_docs)
        throw ConfigError("nothing to back up: configure a database and/or a documents directory");

    // A mistake in the configuration stops the backup here, before the lock is taken or a
    // run recorded: it is the operator's to fix, not a failed run of the history.
    if (want_db) driver_of(im.env->database(), "database").validate();
    if (want_docs) driver_of(im.env->documents(), "documents").validate();
    if (want_docs && im.choose_docs_mode(true) && im.config.encryption.enabled())
        im.check_packs_identity();

    BackupReport report;
    report.time = im.now();
    std::unique_ptr<catalog::Lease> lease;
    if (!options.dry_run) {
        lease = im.lock();
        // With the lock held, no other run writes under this prefix: an open multipart upload
        // (S3) or a temporary file (directory) here was left by a run that was killed.
        im.catalog->mark(report.time);
        if (const std::size_t n = im.store().cleanup(std::chrono::seconds(0)))
            im.warn("", fmt::format("removed {} left by an interrupted run",
                                    count_noun(n, "unfinished upload")));
        // Two runs in the same second would share a <ts>, and objects are never overwritten:
        // wait for the next second. A run killed after publishing a half's object (a packs
        // index, published before the manifest) holds its <ts> too.
        auto taken = [&im](TimePoint t) {
            if (im.store().head(catalog::make_store_key("", catalog::ObjectKind::manifest, t)))
                return true;
            const auto ts = format_timestamp(t);
            return !im.store().list("docs/" + ts).empty() || !im.store().list("db/" + ts).empty();
        };
        bool busy = taken(report.time);
        for (int i = 0; i < 3 && busy; ++i) {
            im.env->clock().sleep_for(std::chrono::milliseconds(1100));
            report.time = im.now();
            busy = taken(report.time);
        }
        if (busy)
            throw Error("a run with time stamp " + format_timestamp(report.time) +
                        " already exists in the store");
    }
    BackupRun run(im, options, report.time, lease.get());

    // Both halves at once; a failure of one does not stop the other.
    std::future<HalfResult> db_future, docs_future;
    if (want_db)
        db_future = std::async(std::launch::async, [&] {
            return run.half("db", driver_of(im.env->database(), "database"));
        });
    if (want_docs)
        docs_future = std::async(std::launch::async, [&] {
            return run.half("docs", driver_of(im.env->documents(), "documents"));
        });
    std::vector<HalfResult> results;
    std::exception_ptr cancelled;
    for (auto* f : {&db_future, &docs_future}) {
        if (!f->valid()) continue;
        try {
            results.push_back(f->get());
        } catch (...) {
            cancelled = std::current_exception();
        }
    }
    if (cancelled) std::rethrow_exception(cancelled);

    // The globals have their own fingerprint: a new role is stored even when the database
    // itself did not change.
    if (want_db && im.config.db->globals)
        results.push_back(run.half("globals", driver_of(im.env->globals(), "globals")));

    catalog::Manifest manifest;
    manifest.time = report.time;
    manifest.started_at = report.time;
    manifest.tool_version = std::string(dolibak::version());
    manifest.profile = im.config.profile.name;
    for (auto& r : results) {
        report.halves.push_back(r.report);
        manifest.halves[r.report.half] = r.manifest;
    }
    for (const char* half : {"db", "docs"}) {
        if (manifest.halves.count(half)) continue;
        catalog::ManifestHalf skipped;
        skipped.status = catalog::ManifestHalf::Status::skipped;
        manifest.halves[half] = skipped;
        HalfReport h;
        h.half = half;
        h.outcome = Outcome::skipped;
        const bool configured =
            std::string_view(half) == "db" ? im.config.db.has_value() : im.config.docs.has_value();
        h.reason = configured ? "not asked for" : "not configured";
        report.halves.push_back(h);
    }
    if (!options.dry_run) {
        manifest.finished_at = im.now();
        // Still the lock holder? A run whose lease expired and was taken over publishes no
        // manifest: its objects are left to the next prune, its fingerprints to the next run.
        lease->renew(manifest.finished_at);
        report.manifest_key = im.catalog->publish_manifest(manifest);
        Event e{Event::Kind::info, "",
                "manifest " + report.manifest_key + (report.ok() ? "" : " (run FAILED)"), 0,
                std::nullopt};
        e.key = report.manifest_key;
        e.seconds = seconds_since(start);
        e.outcome = report.ok() ? "success" : "failed";
        im.emit(std::move(e));
    }
    if (lease) lease->release();
    // The run is published: nothing after this point changes what it reports.
    report.prune_requested =
        options.prune.value_or(im.config.prune_after_backup) && !options.dry_run;
    if (report.prune_requested && report.ok()) {
        try {
            report.prune = prune(false, false);
        } catch (const Error& e) {
            report.prune_error = e.what();
            im.warn("", std::string("prune after the run: ") + e.what());
        }
    }
    report.seconds = seconds_since(start);
    if (options.metrics_file && !options.dry_run) {
        io::AtomicFileSink sink(*options.metrics_file, 0644);
        io::write(sink, to_prometheus(report, im.store().url()));
        sink.finish();
    }
    return report;
}

}  // namespace dolibak::job
