#pragma once
// The backup job: both halves of a Dolibarr (or Odoo) instance — the database and the
// documents tree — kept in a store, skipped when unchanged, pruned by a tiered retention, and
// restored with proof. The CLI (`dolibak`) and the Python module (`dolibak.Job`) are thin
// layers over this API. See docs/job.md.
//
// Store layout (compatible with the original scripts):
//   <prefix>/db/<ts>.dump | <ts>.dump.zst   pg_dump custom archive (zstd-wrapped or not)
//   <prefix>/docs/<ts>.tar.gz | <ts>.tar.zst documents tree
//   <prefix>/globals/<ts>.sql               roles and other globals (optional)
//   <prefix>/manifests/<ts>.json            one per run (see manifest.hpp)
//   <prefix>/.fp-db, <prefix>/.fp-docs      last stored fingerprint of each half
//   <prefix>/.lock                          lease of the run in progress
#include <dolibak/catalog/catalog.hpp>
#include <dolibak/catalog/manifest.hpp>
#include <dolibak/core/cancel.hpp>
#include <dolibak/core/export.hpp>
#include <dolibak/core/secret.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/fingerprint/db.hpp>
#include <dolibak/job/env.hpp>
#include <dolibak/job/profile.hpp>
#include <dolibak/pgdump/dump.hpp>
#include <dolibak/pgdump/restore.hpp>
#include <dolibak/retention/planner.hpp>
#include <dolibak/store/store.hpp>
#include <dolibak/tarball/extractor.hpp>
#include <dolibak/tarball/writer.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dolibak::job {

/// Something worth telling the user while a job runs. Progress events come often; the CLI
/// draws them as a progress line on a terminal and drops them from logs.
struct DOLIBAK_API Event {
    enum class Kind { info, warning, progress };
    Kind kind = Kind::info;
    std::string half;                    ///< "db", "docs", "globals" or empty
    std::string message;                 ///< never contains a secret
    std::uint64_t bytes = 0;             ///< progress: bytes so far
    std::optional<std::uint64_t> total;  ///< progress: expected total, when known
    /// progress: `total` is an estimate (a backup's: the size of the half's previous object of
    /// the same kind), so `bytes` may pass it.
    bool estimated = false;
    /// progress: the half's transfer is over and `bytes` is its final count (a backup's
    /// upload); no more progress of this half follows in this operation.
    bool done = false;
    /// Structured facts of an info or warning event, when they apply (the JSON log lines
    /// carry them, docs/json.md): the object concerned, its size in bytes, how long the step
    /// took, and the half's or run's outcome ("uploaded", "unchanged", "would-upload",
    /// "failed", "success").
    std::string key{};
    std::optional<std::uint64_t> size{};
    std::optional<double> seconds{};
    std::string outcome{};
};

struct DOLIBAK_API DatabaseSettings {
    pgdump::ConnectionParams conn;                   ///< the source database (read only)
    std::optional<std::filesystem::path> tools_dir;  ///< where pg_dump/pg_restore are
    pgdump::DumpMode dump_mode = pgdump::DumpMode::pg_dump_compressed;
    std::optional<int> pg_dump_level;
    /// dump_mode zstd: level 6 is the first whose output is clearly smaller than pg_dump's
    /// own zlib, still 2x faster (bench/README.md).
    io::ZstdOptions zstd{6, 2};
    std::vector<std::string> extra_dump_args;
    fingerprint::DbMode fingerprint_mode = fingerprint::DbMode::xmin;
    /// More tables left out of the fingerprint, on top of the profile's volatile tables.
    std::vector<std::string> extra_volatile_tables;
    /// Also store roles and other globals (pg_dumpall --globals-only) as a third object.
    bool globals = false;
    /// Include role passwords in the globals (off: --no-role-passwords).
    bool globals_with_passwords = false;
};

/// docs_mode: tar, one archive per changed run (docs/tarball.md); packs, each file's content
/// stored once in content-addressed packs with a per-run index (docs/packs.md); automatic
/// ("auto"), packs for a new store, the store's own kind otherwise (docs/packs.md, "Choosing
/// the mode").
enum class DocsMode { automatic, tar, packs };

struct DOLIBAK_API DocumentsSettings {
    std::filesystem::path root;  ///< the documents directory (only read)
    /// How new runs store the documents (docs_mode; docs/packs.md, "Choosing the mode"):
    /// automatic (the default) chooses packs for a store without documents runs and the
    /// kind of the newest documents run otherwise.
    DocsMode mode = DocsMode::automatic;
    /// The packs mode's index: 2, a tree of pieces in the packs (docs/packs.md, "Objects");
    /// 1, written whole each run, as before (not a configuration key: for tests that need a
    /// store holding such runs).
    int packs_index_version = 2;
    /// zstd for every new run (docs/store-layout.md, "Documents compression"); gzip is still
    /// selectable, and both are read whatever the setting.
    tarball::Compression compression = tarball::Compression::zstd;
    int level = -1;   ///< -1: the compressor's default (zstd 3, gzip 6)
    int threads = 2;  ///< zstd worker threads (0: in the calling thread); ignored for gzip
    /// More excludes, on top of the profile's document excludes.
    std::vector<std::string> extra_excludes;
    /// Hash file contents too in the fingerprint (slower; catches same-size same-mtime edits).
    bool content_fingerprint = false;
    /// An unreadable file: skipped with a warning (true) or the half fails (false).
    bool skip_unreadable = false;
    /// Back up a documents directory that is empty or lacks the profile's required_documents
    /// (dolibarr: install.lock). Off: the half fails, since that is what an unmounted volume
    /// looks like.
    bool allow_missing_required = false;
};

/// Client-side encryption in the age format (docs/encryption.md).
struct DOLIBAK_API EncryptionSettings {
    /// The age1... recipients every object a backup writes is encrypted to (canonical form);
    /// empty: objects are stored in the clear. Changing them affects new objects only.
    std::vector<std::string> recipients;
    /// Identity files (age-keygen's format, several identities each) that restore and verify
    /// read when they meet an encrypted object; read only then, never stored or echoed.
    std::vector<std::filesystem::path> identity_files;
    /// Identities given directly (the Python API); never stored or echoed.
    std::vector<Secret> identities;
    /// Where the identity files were named ("--age-identity-file", "DOLIBAK_AGE_IDENTITY_FILE"),
    /// for the error that says an identity is missing.
    std::string identity_source;

    bool enabled() const noexcept { return !recipients.empty(); }
};

/// Who is told when a backup, a prune or a verify finishes (docs/runbook.md, "Notifications").
/// A notification that fails never changes the operation's result: it is a warning event.
struct DOLIBAK_API NotifySettings {
    /// Commands (argv, no shell) run after a success / a failure, with the notification's
    /// JSON on stdin and DOLIBAK_EVENT, DOLIBAK_OK, DOLIBAK_STORE, DOLIBAK_MESSAGE in their
    /// (minimal) environment; killed after `timeout`. Empty: none.
    std::vector<std::string> on_success;
    std::vector<std::string> on_failure;
    /// http(s) URL the notification's JSON is POSTed to (Slack-compatible `text` field), after
    /// success and failure; a secret (Slack's URLs carry a token). Empty: none.
    Secret webhook_url;
    /// Bound of each hook's run and of all the webhook's attempts together.
    std::chrono::seconds timeout{10};
    bool any() const noexcept {
        return !on_success.empty() || !on_failure.empty() || !webhook_url.empty();
    }
};

struct DOLIBAK_API Config {
    /// "s3://bucket/prefix" or "file:///dir".
    std::string store_url;
    store::StoreOptions store;
    Profile profile = builtin_profile("dolibarr");
    std::optional<DatabaseSettings> db;
    std::optional<DocumentsSettings> docs;
    retention::Policy retention;
    /// A run holds the store's lock at most this long before another may take it over.
    std::chrono::seconds lock_ttl{std::chrono::hours(12)};
    /// Where temporary files go (parallel restores, safety dumps); default the system's.
    std::filesystem::path temp_dir;
    std::function<void(const Event&)> on_event;
    /// Checked between blocks; children are stopped and uploads aborted when set.
    std::shared_ptr<CancelToken> cancel;
    /// Prune after every successful backup unless BackupOptions::prune says otherwise
    /// (setting prune_after_backup). Off by default; on in every shipped schedule.
    bool prune_after_backup = false;
    /// The run's clock for Env::real (tests of the real halves inject one); default the
    /// system clock. A Job built over another Env takes its time from that Env's clock.
    std::function<TimePoint()> now;
    /// Hooks and webhook told when backup, prune and verify finish (not on a dry run).
    NotifySettings notify;
    /// age recipients for new objects, identities for reading encrypted ones.
    EncryptionSettings encryption;
};

// ---- backup ---------------------------------------------------------------------------

struct DOLIBAK_API BackupOptions {
    bool db = true;
    bool docs = true;
    /// Upload even when the fingerprint is unchanged.
    bool force = false;
    /// Compute fingerprints and say what would be uploaded; store nothing.
    bool dry_run = false;
    /// Prune after a successful run; unset: Config::prune_after_backup decides.
    std::optional<bool> prune;
    /// Write Prometheus textfile metrics of the run (its halves and its prune) to this file,
    /// atomically, when the run is published (not on a dry run).
    std::optional<std::filesystem::path> metrics_file;
};

/// How a database half's live fingerprint differs from the stored one, table by table.
struct DOLIBAK_API TableChanges {
    /// False when the stored fingerprint has no per-table digests (written before they were
    /// kept): the tables cannot be named and the lists stay empty.
    bool known = false;
    bool schema_changed = false;       ///< the schema digest differs
    std::vector<std::string> changed;  ///< "schema.table" in both, with different digests
    std::vector<std::string> added;    ///< only in the live database
    std::vector<std::string> removed;  ///< only in the stored fingerprint
};

struct DOLIBAK_API HalfReport {
    enum class Outcome { uploaded, unchanged, would_upload, skipped, failed };
    std::string half;  ///< "db", "docs", "globals"
    Outcome outcome = Outcome::skipped;
    std::string key;  ///< the object holding the half (new, or the unchanged earlier one)
    std::uint64_t bytes = 0;
    std::string sha256;
    double seconds = 0;
    std::string fingerprint;  ///< this run's fingerprint value
    std::string reason;       ///< why uploaded/unchanged ("fingerprint changed: llx_facture")
    std::string error;        ///< outcome failed
    /// Documents uploaded: what each exclude pattern left out (as the manifest records it).
    std::vector<tarball::Exclusion> exclusions;
    /// Database half whose fingerprint differs from the stored one: which tables.
    std::optional<TableChanges> table_changes{};
};
DOLIBAK_API std::string_view to_string(HalfReport::Outcome o) noexcept;

/// A pack in a prune's collection of packs (docs/packs.md): its key, its size and the bytes of
/// its frames some kept run still references (0 for a pack deleted whole).
struct DOLIBAK_API CollectedPack {
    std::string key;
    std::uint64_t bytes = 0;
    std::uint64_t live = 0;
};

/// What the collection of packs after a prune did in a store holding docs_mode packs runs or
/// packs; on a dry run, what it would do once the runs the plan drops are gone (nothing is
/// read but the indexes and the move records: `written` and `bytes_written` stay empty, and
/// only the problems the configuration predicts are named).
struct DOLIBAK_API PacksCollection {
    std::uint64_t indexes = 0;                 ///< indexes that stay, read to find the live packs
    std::vector<CollectedPack> deleted;        ///< packs no index that stays references
    std::vector<CollectedPack> repacked;       ///< packs mostly garbage, their live frames moved
    std::vector<std::string> records_deleted;  ///< move records no reference goes through
    std::vector<std::string> written;          ///< the new packs the repack wrote
    std::uint64_t bytes_written = 0;           ///< their size
    std::uint64_t kept_bytes = 0;       ///< of the packs that stay as they are (not repacked)
    std::vector<std::string> problems;  ///< packs left unrepacked, and why (warnings)
    std::uint64_t deleted_bytes() const noexcept;
    std::uint64_t repacked_bytes() const noexcept;
    std::uint64_t repacked_live_bytes() const noexcept;
};

struct DOLIBAK_API PruneReport {
    /// The planner's decisions over runs: one per run and half, keyed
    /// "manifests/<ts>.json#<half>" (an old script's object: its own key).
    retention::Plan plan;
    /// For each decision's key, the object that run's half names (empty: the half failed).
    std::map<std::string, std::string> objects;
    /// Every key prune removes: the manifests and verification records of the runs that go,
    /// then the objects no kept run names.
    std::vector<std::string> to_delete;
    std::vector<std::string> deleted;  ///< keys removed (empty on a dry run)
    std::vector<store::RemoveFailure> failures;
    bool dry_run = false;
    /// The collection of packs (also in `deleted` and `failures`, on a real prune), or what a
    /// dry run previews; empty when the store holds no packs-mode index or pack, or when a dry
    /// run could not preview it (`packs_error`).
    std::optional<PacksCollection> packs;
    /// Why a dry run did not preview the collection of packs (an encrypted index and no
    /// identity, an index that cannot be read: what would stop the real one); a warning too.
    std::string packs_error;
};

struct DOLIBAK_API BackupReport {
    TimePoint time{};  ///< the run's <ts>
    std::vector<HalfReport> halves;
    std::string manifest_key;  ///< empty on a dry run
    double seconds = 0;
    /// Whether a prune was asked for after this run (BackupOptions::prune or the config).
    bool prune_requested = false;
    std::optional<PruneReport> prune;
    /// Why the prune asked for after the run did not happen or stopped (refused, failed,
    /// cancelled); the run itself stands as reported.
    std::string prune_error;
    bool ok() const noexcept;  ///< no half failed
};

/// The exclusions recorded in a documents archive summary (the manifest's `archive_summary`
/// of a docs half: `"exclusions": [{"pattern", "files", "bytes"}...]`); empty when it has none.
DOLIBAK_API std::vector<tarball::Exclusion> recorded_exclusions(
    std::string_view archive_summary_json);

// ---- list / verify --------------------------------------------------------------------

/// The catalog's view of the store (catalog/catalog.hpp).
using BackupEntry = catalog::BackupEntry;
using RunEntry = catalog::RunEntry;
using ListReport = catalog::Listing;

struct DOLIBAK_API VerifiedObject {
    std::string key;
    std::string half;
    bool ok = false;
    std::uint64_t bytes = 0;
    std::string sha256;
    std::string problem;  ///< empty when ok
    /// A documents archive: what each exclude pattern left out, as its manifest recorded it.
    std::vector<tarball::Exclusion> exclusions;
};

struct DOLIBAK_API VerifyOptions {
    /// Presence and sizes only: each object is in the store with the manifest's size; a packs
    /// index is read (and checked against the manifest) and every pack it references is
    /// present and large enough. Nothing else is downloaded, and nothing is recorded.
    bool quick = false;
};

struct DOLIBAK_API VerifyReport {
    TimePoint time{};
    bool quick = false;  ///< a quick verify (VerifyOptions::quick): not every byte was read
    std::vector<VerifiedObject> objects;
    /// Where the result was recorded (verified/<ts>.json); empty when the store refused it.
    std::string record_key;
    bool ok() const noexcept;
};

// ---- restore --------------------------------------------------------------------------

struct DOLIBAK_API RestoreDbOptions {
    std::string which = "latest";    ///< "latest" or a <ts>
    pgdump::RestoreOptions restore;  ///< target, confirmation, safety dump, proof, list...
    /// TOC exclusions applied before restoring (e.g. "FUNCTION public user_lookup", "ACL").
    std::vector<std::string> exclude;
    /// The target is the configured database, the one backed up, and holds data: a restore
    /// over it rolls back every change made since the backup. Refused (ConfigError) unless
    /// this is set (an empty one, a rebuild after a disaster, needs nothing);
    /// then a safety dump of it is taken first (restore.safety_dump, else
    /// dolibak-safety-<dbname>-<now>.dump in the configured temp_dir or the system's).
    bool overwrite_source = false;
};

struct DOLIBAK_API RestoreDocsOptions {
    std::string which = "latest";
    std::filesystem::path target;
    tarball::ExtractOptions extract;
    /// Replace a non-empty target directory (its old content is removed once the new tree is
    /// in place).
    bool confirm_non_empty = false;
};

struct DOLIBAK_API DocsRestoreReport {
    std::string key;
    tarball::ExtractSummary summary;
    /// Files the profile requires after a restore that are missing (empty when all there).
    std::vector<std::string> missing_required;
};

// ---- status / check / refresh ---------------------------------------------------------

/// The freshness of one half: the newest run in which it succeeded (uploaded or unchanged).
struct DOLIBAK_API HalfStatus {
    std::string half;                       ///< "db", "docs"
    std::optional<TimePoint> last_success;  ///< that run's time stamp
    std::optional<double> age_seconds;      ///< since that run finished
    bool stale = true;
    std::string reason;  ///< why it is stale, when it is
};

/// The newest verification recorded in the store (verified/<ts>.ok.json or .failed.json).
struct DOLIBAK_API VerificationStatus {
    TimePoint run{};  ///< the run it verified
    TimePoint at{};   ///< when it was recorded
    bool ok = false;
    double age_seconds = 0;
};

struct DOLIBAK_API StatusReport {
    std::optional<RunEntry> last_run;      ///< the newest manifest (not future-dated)
    std::optional<RunEntry> last_success;  ///< the newest manifest whose halves all succeeded
    std::optional<double> age_seconds;     ///< of the last success
    bool stale = true;                     ///< no success, or older than max_age, or see below
    /// Why it is stale, when it is ("no successful run", "last success 30 h ago", "a run is
    /// stamped in the future: ...").
    std::string reason;
    /// Runs stamped beyond the clock-skew tolerance in the future (a wrong clock): they
    /// make the store stale, are never taken as the latest, and `check` reports them.
    std::vector<TimePoint> future_runs;
    /// Each configured half (db, docs; without a configured half: those of the newest run),
    /// fresh only when it succeeded within max_age: a half that the runs leave out, or that
    /// keeps failing, makes the status stale although the runs succeed.
    std::vector<HalfStatus> halves;
    std::optional<VerificationStatus> last_verification;
};

struct DOLIBAK_API CheckItem {
    std::string name;
    bool ok = false;
    std::string detail;
};

struct DOLIBAK_API CheckReport {
    std::vector<CheckItem> items;
    bool ok() const noexcept;
};

struct DOLIBAK_API RefreshOptions {
    pgdump::ConnectionParams source;   ///< production (read only)
    pgdump::ConnectionParams sandbox;  ///< the sandbox database, as its owner role
    std::vector<std::string> exclude;  ///< TOC exclusions (default: none)
    pgdump::ProofOptions proof;
    /// Also sync a documents subtree (e.g. "mycompany/") from the production tree to the
    /// sandbox's, when both are set.
    std::filesystem::path docs_source;
    std::filesystem::path docs_target;
    std::string docs_subtree;
    /// Commands run before and after (argv, no shell); the post hook always runs, on failure
    /// and on cancellation too.
    std::vector<std::string> pre_hook;
    std::vector<std::string> post_hook;
    /// Names of variables of dolibak's environment passed to the hooks as they are. Hooks
    /// get a minimal environment (docs/job-restore.md lists it): nothing secret unless named
    /// here (e.g. "PGPASSWORD" for a post hook that runs psql).
    std::vector<std::string> hook_env;
};

struct DOLIBAK_API RefreshReport {
    pgdump::RestoreReport restore;
    std::optional<tarball::ExtractSummary> docs;
    int post_hook_exit = 0;
};

class DOLIBAK_API Job {
public:
    /// Validates the configuration (ConfigError naming what is wrong) and builds the real
    /// environment (Env::real: opens the store).
    explicit Job(Config config);
    /// The same over an environment the caller owns (a memory store, an injected clock, fake
    /// drivers); `env` must outlive the Job.
    Job(Config config, Env& env);
    ~Job();
    Job(Job&&) noexcept;
    Job& operator=(Job&&) noexcept;

    const Config& config() const noexcept;
    store::Store& store();
    Env& env();

    BackupReport backup(const BackupOptions& options = {});
    ListReport list();
    /// Downloads every object of a run ("latest" or a <ts>) and checks every byte: SHA-256
    /// against the manifest, the whole dump archive (every block), the whole tar, every pack
    /// of a packs index. `options.quick`: presence and sizes only (VerifyOptions).
    VerifyReport verify(const std::string& which = "latest", const VerifyOptions& options = {});
    pgdump::RestoreReport restore_db(const RestoreDbOptions& options);
    DocsRestoreReport restore_docs(const RestoreDocsOptions& options);
    /// Plans with the configured policy and deletes what the plan drops (not on a dry run).
    /// Refuses when the newest run failed, unless forced.
    PruneReport prune(bool dry_run = false, bool force = false);
    /// The last successful run and its age, each configured half's last success, and the
    /// newest verification; `max_age` decides `stale`. When metrics_file is set, writes
    /// Prometheus textfile metrics there (atomically), with `dolibak_up 0` (and the error
    /// thrown) when the store cannot be read.
    StatusReport status(std::chrono::seconds max_age,
                        const std::optional<std::filesystem::path>& metrics_file = std::nullopt);
    /// Preflight: tools found and version-matched, database reachable read-only, documents
    /// readable, store reachable (put, get, delete a probe), clock skew, temp space.
    CheckReport check();
    /// Sandbox refresh from production (see RefreshOptions).
    RefreshReport refresh(const RefreshOptions& options);

    /// Internal state, shared by the operations' implementation files.
    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace dolibak::job
