// Job::backup: both halves concurrently, each skipped when its fingerprint is unchanged and
// the object it names still exists; objects published atomically; the fingerprint object
// written only after its half's object is stored; a manifest per run; optional prune.
#include "job/job_impl.hpp"
#include "job/pipeline.hpp"

#include <dolibak/error.hpp>
#include <dolibak/fingerprint/docs.hpp>
#include <dolibak/hash.hpp>
#include <dolibak/process.hpp>
#include <dolibak/version.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <future>
#include <thread>

namespace dolibak::job {

namespace {

using detail::StoredFingerprint;
using Outcome = HalfReport::Outcome;

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// What the run needs to write a half's manifest entry.
struct HalfResult {
    HalfReport report;
    ManifestHalf manifest;
};

class BackupRun {
public:
    BackupRun(Job::Impl& im, const BackupOptions& o, TimePoint t) : im_(im), o_(o), t_(t) {}

    /// The stored fingerprint of a half, when there is a readable one.
    std::optional<StoredFingerprint> stored(const std::string& key, const std::string& half) {
        if (!im_.store->head(key)) return std::nullopt;
        try {
            return StoredFingerprint::from_json(im_.store->get_bytes(key, 1024 * 1024));
        } catch (const Error& e) {
            im_.warn(half, std::string("stored fingerprint ignored: ") + e.what());
            return std::nullopt;
        }
    }

    /// Decides whether a half may be skipped; fills `r` when it is.
    bool unchanged(HalfResult& r, const std::optional<StoredFingerprint>& prev,
                   const std::string& value, const std::string& mode) {
        if (!prev) {
            r.report.reason = "no stored fingerprint";
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
        const auto head = im_.store->head(prev->object);
        if (!head) {
            r.report.reason = "unchanged, but " + prev->object + " is gone from the store";
            return false;
        }
        r.report.outcome = Outcome::unchanged;
        r.report.key = prev->object;
        r.report.bytes = head->size;
        r.report.sha256 = prev->sha256;
        r.report.reason = "fingerprint unchanged since " + format_timestamp(prev->time);
        r.manifest.status = ManifestHalf::Status::unchanged;
        r.manifest.key = prev->object;
        r.manifest.bytes = head->size;
        r.manifest.sha256 = prev->sha256;
        return true;
    }

    /// The size the next object `key` will probably have: that of the half's previous object
    /// (the stored fingerprint names it) when it is of the same kind.
    static std::optional<std::uint64_t> estimate(const std::optional<StoredFingerprint>& prev,
                                                 const std::string& key) {
        if (!prev || prev->bytes == 0) return std::nullopt;
        const auto was = parse_store_key(prev->object);
        const auto will = parse_store_key(key);
        if (!was || !will || was->kind != will->kind) return std::nullopt;
        return prev->bytes;
    }

    /// Streams `produce` into a new object `key`: hash, count, progress (with the estimated
    /// total, when there is one) and cancellation on the way. `produce` finishes the sink it
    /// is given (or leaves it to us when it returns false). Returns bytes and SHA-256 of what
    /// was stored.
    std::pair<std::uint64_t, std::string> upload(const std::string& half, const std::string& key,
                                                 const std::function<bool(io::Sink&)>& produce,
                                                 std::optional<std::uint64_t> expected = {}) {
        store::PutOptions po;
        po.no_overwrite = true;
        auto sink = im_.store->put(key, po);
        Sha256 sha;
        detail::ProgressObserver progress(
            [this, half, expected](std::uint64_t bytes) {
                im_.emit({Event::Kind::progress, half, "uploading", bytes, expected,
                          expected.has_value()});
            },
            im_.config.cancel, "backing up the " + half + " half");
        io::ObservedSink observed(*sink, {&progress, &sha});
        try {
            if (!produce(observed)) observed.finish();
        } catch (...) {
            observed.abort();
            throw;
        }
        return {progress.bytes(), sha.hex()};
    }

    void write_fingerprint(const std::string& fp_key, const StoredFingerprint& fp) {
        store::PutOptions po;
        po.content_type = "application/json";
        im_.store->put_bytes(fp_key, fp.to_json(), po);
    }

    HalfResult db() {
        const auto start = std::chrono::steady_clock::now();
        const auto& s = *im_.config.db;
        HalfResult r;
        r.report.half = "db";
        r.manifest.format =
            s.dump_mode == pgdump::DumpMode::zstd ? "pg_dump-custom+zstd" : "pg_dump-custom";
        try {
            const int server = pgdump::server_version_num(s.conn);
            const auto tools = pgdump::find_tools(server / 10000, s.tools_dir);
            r.manifest.tool_version = "pg_dump (PostgreSQL) " + tools.version;
            r.manifest.server_version =
                std::to_string(server / 10000) + "." + std::to_string(server % 10000);
            // The fingerprint is taken before the dump: a change committed in between is in
            // the dump and makes the next run upload again, never the other way round.
            fingerprint::DbOptions fo;
            fo.mode = s.fingerprint_mode;
            fo.include_tables = {im_.config.profile.table_prefix + "*"};
            fo.exclude_tables = im_.volatile_tables();
            fo.change_column = im_.config.profile.change_column;
            im_.info("db", "fingerprinting " + s.conn.describe());
            const auto fp = fingerprint::fingerprint_database(s.conn, fo);
            const std::string mode(fingerprint::to_string(fo.mode));
            r.report.fingerprint = fp.value;
            const auto prev = stored(detail::fp_db_key, "db");
            if (prev && prev->value != fp.value) {
                r.report.reason = "database changed";
            }
            r.manifest.fingerprint_json = fingerprint_json(fp.value, mode);
            if (unchanged(r, prev, fp.value, mode)) {
                im_.info("db", r.report.reason + ": nothing uploaded");
            } else if (o_.dry_run) {
                r.report.outcome = Outcome::would_upload;
            } else {
                const auto kind = s.dump_mode == pgdump::DumpMode::zstd ? ObjectKind::db_dump_zst
                                                                        : ObjectKind::db_dump;
                const std::string key = make_store_key("", kind, t_);
                pgdump::DumpOptions d;
                d.conn = s.conn;
                d.tools = tools;
                d.mode = s.dump_mode;
                d.pg_dump_level = s.pg_dump_level;
                d.zstd = s.zstd;
                d.extra_args = s.extra_dump_args;
                im_.info("db", "dumping into " + key + " (" + r.report.reason + ")");
                pgdump::DumpResult dumped;
                const auto [bytes, sha] = upload(
                    "db", key,
                    [&](io::Sink& sink) {
                        dumped = pgdump::dump(d, sink);  // finishes or aborts the sink
                        return true;
                    },
                    estimate(prev, key));
                r.manifest.archive_summary_json =
                    pgdump::verification_json(pgdump::VerifyResult{}, dumped.summary);
                StoredFingerprint sf{"db", fp.value, mode, key, t_, sha, bytes};
                write_fingerprint(detail::fp_db_key, sf);
                r.report.outcome = Outcome::uploaded;
                r.report.key = key;
                r.report.bytes = bytes;
                r.report.sha256 = sha;
                r.manifest.status = ManifestHalf::Status::uploaded;
                r.manifest.key = key;
                r.manifest.bytes = bytes;
                r.manifest.sha256 = sha;
                im_.info("db", "stored " + key + " (" + std::to_string(bytes) + " bytes, " +
                                   std::to_string(dumped.summary.tables.size()) + " tables)");
            }
        } catch (const Cancelled&) {
            throw;
        } catch (const std::exception& e) {
            fail(r, e);
        }
        r.report.seconds = r.manifest.duration_seconds = seconds_since(start);
        return r;
    }

    /// Roles and other globals, stored beside an uploaded dump.
    HalfResult globals() {
        const auto start = std::chrono::steady_clock::now();
        const auto& s = *im_.config.db;
        HalfResult r;
        r.report.half = "globals";
        r.manifest.format = "sql";
        try {
            const int server = pgdump::server_version_num(s.conn);
            const auto tools = pgdump::find_tools(server / 10000, s.tools_dir);
            const auto pg_dumpall = tools.pg_dump.parent_path() / "pg_dumpall";
            ProcessOptions p;
            p.argv = {pg_dumpall.string(), "--globals-only", "--database=" + s.conn.dbname};
            if (!s.globals_with_passwords) p.argv.emplace_back("--no-role-passwords");
            p.env = s.conn.env();
            p.env.emplace_back("PGOPTIONS", "-c default_transaction_read_only=on");
            r.manifest.tool_version = "pg_dumpall (PostgreSQL) " + tools.version;
            const std::string key = make_store_key("", ObjectKind::globals_sql, t_);
            const auto [bytes, sha] = upload("globals", key, [&](io::Sink& sink) {
                Process child(p);
                io::pump(child.out(), sink);
                child.check();
                sink.finish();
                return true;
            });
            if (bytes == 0) throw Error("pg_dumpall wrote nothing");
            r.report.outcome = Outcome::uploaded;
            r.report.key = r.manifest.key = key;
            r.report.bytes = r.manifest.bytes = bytes;
            r.report.sha256 = r.manifest.sha256 = sha;
            r.manifest.status = ManifestHalf::Status::uploaded;
        } catch (const Cancelled&) {
            throw;
        } catch (const std::exception& e) {
            fail(r, e);
        }
        r.report.seconds = r.manifest.duration_seconds = seconds_since(start);
        return r;
    }

    HalfResult docs() {
        const auto start = std::chrono::steady_clock::now();
        const auto& s = *im_.config.docs;
        HalfResult r;
        r.report.half = "docs";
        r.manifest.format = "tar." + tarball::file_extension(s.compression);
        try {
            auto st = std::filesystem::status(s.root);
            if (!std::filesystem::is_directory(st))
                throw ConfigError("the documents directory " + s.root.string() +
                                  " does not exist or is not a directory");
            fingerprint::DocsOptions fo;
            fo.excludes = im_.document_excludes();
            fo.excludes.insert(fo.excludes.end(), im_.config.profile.fingerprint_excludes.begin(),
                               im_.config.profile.fingerprint_excludes.end());
            fo.content = s.content_fingerprint;
            im_.info("docs", "fingerprinting " + s.root.string());
            const auto fp = fingerprint::docs_fingerprint(s.root, fo);
            const std::string mode = fo.content ? "content" : "metadata";
            r.report.fingerprint = fp.sha256;
            const auto prev = stored(detail::fp_docs_key, "docs");
            if (prev && prev->value != fp.sha256) r.report.reason = "documents changed";
            r.manifest.fingerprint_json = fingerprint_json(fp.sha256, mode);
            if (unchanged(r, prev, fp.sha256, mode)) {
                im_.info("docs", r.report.reason + ": nothing uploaded");
            } else if (o_.dry_run) {
                r.report.outcome = Outcome::would_upload;
            } else {
                const auto kind = s.compression == tarball::Compression::zstd
                                      ? ObjectKind::docs_tar_zst
                                      : ObjectKind::docs_tar_gz;
                const std::string key = make_store_key("", kind, t_);
                tarball::WriteOptions w;
                w.compression = s.compression;
                w.level = s.level;
                w.threads = s.threads;
                w.excludes = im_.document_excludes();
                w.skip_unreadable = s.skip_unreadable;
                w.on_warning = [this](const tarball::Warning& warning) {
                    im_.warn("docs", warning.path + ": " + warning.message);
                };
                im_.info("docs", "archiving into " + key + " (" + r.report.reason + ")");
                tarball::WriteSummary written;
                const auto [bytes, sha] = upload(
                    "docs", key,
                    [&](io::Sink& sink) {
                        written = tarball::write_tar(s.root, sink, w);
                        return false;  // the writer leaves finishing to us
                    },
                    estimate(prev, key));
                nlohmann::json summary = {
                    {"entries", written.entries},         {"files", written.files},
                    {"directories", written.directories}, {"symlinks", written.symlinks},
                    {"excluded", written.excluded},       {"content_bytes", written.content_bytes},
                    {"warnings", written.warnings.size()}};
                r.manifest.archive_summary_json = summary.dump();
                StoredFingerprint sf{"docs", fp.sha256, mode, key, t_, sha, bytes};
                write_fingerprint(detail::fp_docs_key, sf);
                r.report.outcome = Outcome::uploaded;
                r.report.key = r.manifest.key = key;
                r.report.bytes = r.manifest.bytes = bytes;
                r.report.sha256 = r.manifest.sha256 = sha;
                r.manifest.status = ManifestHalf::Status::uploaded;
                im_.info("docs", "stored " + key + " (" + std::to_string(bytes) + " bytes, " +
                                     std::to_string(written.files) + " files)");
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
    static std::string fingerprint_json(const std::string& value, const std::string& mode) {
        return nlohmann::json{{"fingerprint", value}, {"mode", mode}}.dump();
    }

    void fail(HalfResult& r, const std::exception& e) {
        r.report.outcome = Outcome::failed;
        r.report.error = e.what();
        r.manifest.status = ManifestHalf::Status::failed;
        r.manifest.error = e.what();
        r.manifest.key.clear();
        im_.emit({Event::Kind::warning, r.report.half, std::string("failed: ") + e.what(), 0,
                  std::nullopt});
    }

    Job::Impl& im_;
    const BackupOptions& o_;
    TimePoint t_;
};

}  // namespace

BackupReport Job::backup(const BackupOptions& options) {
    auto& im = *impl_;
    const auto start = std::chrono::steady_clock::now();
    const bool want_db = options.db && im.config.db.has_value();
    const bool want_docs = options.docs && im.config.docs.has_value();
    if (options.db && !options.docs && !im.config.db)
        throw ConfigError("--db-only, but no database is configured");
    if (options.docs && !options.db && !im.config.docs)
        throw ConfigError("--docs-only, but no documents directory is configured");
    if (!want_db && !want_docs)
        throw ConfigError("nothing to back up: configure a database and/or a documents directory");

    BackupReport report;
    report.time = im.now();
    std::optional<detail::Lease> lease;
    if (!options.dry_run) {
        lease.emplace(*im.store, im.config.lock_ttl, report.time,
                      [&im](const Event& e) { im.emit(e); });
        // With the lock held, no other run writes under this prefix: an open multipart upload
        // (S3) or a temporary file (directory) here was left by a run that was killed.
        if (const std::size_t n = im.store->cleanup(std::chrono::seconds(0)))
            im.warn("",
                    fmt::format("removed {} unfinished upload(s) left by an interrupted run", n));
        // Two runs in the same second would share a <ts>, and objects are never overwritten:
        // wait for the next second.
        for (int i = 0;
             i < 3 && im.store->head(make_store_key("", ObjectKind::manifest, report.time)); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1100));
            report.time = im.now();
        }
        if (im.store->head(make_store_key("", ObjectKind::manifest, report.time)))
            throw Error("a run with time stamp " + format_timestamp(report.time) +
                        " already exists in the store");
    }
    BackupRun run(im, options, report.time);

    // Both halves at once; a failure of one does not stop the other.
    std::future<HalfResult> db_future, docs_future;
    if (want_db) db_future = std::async(std::launch::async, [&] { return run.db(); });
    if (want_docs) docs_future = std::async(std::launch::async, [&] { return run.docs(); });
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

    const bool db_uploaded = !results.empty() && results.front().report.half == "db" &&
                             results.front().report.outcome == Outcome::uploaded;
    if (db_uploaded && im.config.db->globals) results.push_back(run.globals());

    Manifest manifest;
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
        ManifestHalf skipped;
        skipped.status = ManifestHalf::Status::skipped;
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
        report.manifest_key = make_store_key("", ObjectKind::manifest, report.time);
        store::PutOptions po;
        po.no_overwrite = true;
        po.content_type = "application/json";
        im.store->put_bytes(report.manifest_key, manifest.to_json(), po);
        im.info("", "manifest " + report.manifest_key + (report.ok() ? "" : " (run FAILED)"));
    }
    if (lease) lease->release();
    if (options.prune && !options.dry_run && report.ok()) report.prune = prune(false, false);
    report.seconds = seconds_since(start);
    return report;
}

}  // namespace dolibak::job
