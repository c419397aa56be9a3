#pragma once
// Private: the state a Job shares between its operations (one .cpp file per operation).
#include <dolibak/catalog/catalog.hpp>
#include <dolibak/catalog/lease.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/job/job.hpp>

#include <map>
#include <mutex>

namespace dolibak::job {

struct Job::Impl {
    Config config;
    std::unique_ptr<Env> owned_env;  ///< Env::real, when the Job built its own
    Env* env = nullptr;
    std::unique_ptr<catalog::Catalog> catalog;
    std::mutex event_mutex;
    std::mutex identities_mutex;
    std::optional<io::AgeIdentities> loaded_identities;

    store::Store& store() { return env->store(); }
    TimePoint now() { return env->clock().now(); }
    void emit(Event e);
    void info(const std::string& half, const std::string& message);
    void warn(const std::string& half, const std::string& message);
    /// Throws Cancelled when the job was cancelled.
    void check_cancel(const std::string& what) const;
    /// What a driver working on `half` is given.
    DriverContext context(const std::string& half);
    /// The proof a restore or a refresh runs: each field the caller left unset takes the
    /// application profile's value (the one place those defaults are applied).
    pgdump::ProofOptions proof(const pgdump::ProofOptions& given) const;

    /// The identities that open encrypted objects (Config::encryption), read from their files
    /// at the first call. Throws ConfigError naming age_identity_file when none is given:
    /// `what` says what needed one ("restoring db/<ts>.dump.age").
    const io::AgeIdentities& identities(const std::string& what);
    /// Whether an identity is configured (verify decrypts only then).
    bool has_identities() const;
    /// docs_mode packs with recipients: a backup must read the previous run's encrypted
    /// index, so an identity is required and one of them must open what this run writes.
    /// Throws ConfigError naming age_identity_file otherwise (docs/encryption.md).
    void check_packs_identity();
    /// How the next backup stores the documents (Config::docs->mode; docs_mode auto lists the
    /// store's documents runs): true for packs. Tells the documents driver; with `log`, says
    /// why when auto chose.
    bool choose_docs_mode(bool log);
    /// The recipients new objects are encrypted to (Config::encryption.recipients).
    io::AgeRecipients recipients() const;
    /// A manifest half's archive summary: in the clear, or unsealed with the identities
    /// when it was sealed and they are given; empty otherwise.
    std::string summary_of(const catalog::ManifestHalf& half);

    /// Takes the store's lock for this job (TTL from the configuration, warnings as events).
    std::unique_ptr<catalog::Lease> lock();
    /// Stores the verification record of `report` (a warning when the store refuses).
    void record(VerifyReport& report);

    // The operations themselves; Job::backup, prune and verify add the notification
    // (notify.cpp). A prune after a backup is part of the backup's notification.
    BackupReport backup(const BackupOptions& options);
    PruneReport prune(bool dry_run, bool force);
    /// Deletes the packs no remaining documents index references (packs::collect_garbage).
    void collect_packs(PruneReport& report);
    /// A dry run's collection: what collect_packs would do once the keys the prune would
    /// delete are gone (report.packs), or why it cannot say (report.packs_error).
    void preview_packs(PruneReport& report);
    VerifyReport verify(const std::string& which, const VerifyOptions& options);
    /// Runs the hook of the outcome and posts the webhook (Config::notify). Never throws;
    /// a failure is a warning event. `report_json`: the operation's report (empty when it
    /// threw); `detail`: what failed, for the one-line message.
    void notify(const std::string& event, bool ok, const std::string& report_json,
                const std::string& detail) noexcept;
};

namespace detail {
/// Whether two connection descriptions name the same database: same name and port, and the
/// same host, where every spelling of this machine (empty, a socket directory, localhost,
/// 127.0.0.1, ::1) counts as one.
bool same_database(const pgdump::ConnectionParams& a, const pgdump::ConnectionParams& b);
}  // namespace detail

}  // namespace dolibak::job
