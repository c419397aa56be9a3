#pragma once
// The job's environment, in the spirit of LevelDB's Env: everything a Job touches outside
// its own logic — the store, the clock and one driver per half (database, documents,
// globals) — comes through here. Env::real(config) builds today's objects (the configured
// store, the system clock, pg_dump/pg_restore, the tar writer and extractor); tests inject a
// memory store, a fault-injecting store, a clock they advance and drivers whose content they
// control, so that a decade of runs is simulated in seconds (docs/architecture.md).
#include <dolibak/catalog/keys.hpp>
#include <dolibak/core/cancel.hpp>
#include <dolibak/core/export.hpp>
#include <dolibak/core/timestamp.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/pgdump/restore.hpp>
#include <dolibak/store/store.hpp>
#include <dolibak/tarball/extractor.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dolibak::job {

struct Config;
struct Event;
struct RestoreDbOptions;
struct RestoreDocsOptions;

/// The run's clock. Every time stamp and every wait of a Job goes through it.
class DOLIBAK_API Clock {
public:
    virtual ~Clock() = default;
    virtual TimePoint now() = 0;
    virtual void sleep_for(std::chrono::milliseconds d) = 0;
    /// The system clock and std::this_thread::sleep_for.
    static Clock& system();
};

/// What a driver is given for one call: where to say things, and the job's cancel token.
struct DOLIBAK_API DriverContext {
    std::function<void(const std::string& message)> info;
    std::function<void(const std::string& message)> warn;
    std::shared_ptr<CancelToken> cancel;
    /// The pre-check state stored with the half's fingerprint (LiveFingerprint::state of the
    /// run that stored it), for a fingerprint that can reuse it; empty when none.
    std::string stored_state{};
    /// `verify --quick`: check_object checks what it can without reading every byte (a packs
    /// index: every pack it references is present and large enough); other checks ignore it.
    bool quick = false;
    /// The recipients a driver encrypts the objects it writes itself to (docs_mode packs: its
    /// packs); unset when the configuration stores in the clear. The half's own object is
    /// encrypted by the job.
    std::optional<io::AgeRecipients> encrypt_to{};
    /// The identities that open encrypted objects (read at the first call); throws
    /// ConfigError naming age_identity_file when none is configured. `what` says what needs
    /// them. Unset: none (a context built outside a Job).
    std::function<const io::AgeIdentities&(const std::string& what)> identities{};
};

/// A fingerprint of a half's live content (see fingerprint/).
struct DOLIBAK_API LiveFingerprint {
    std::string value;           ///< hex digest
    std::string mode;            ///< "xmin", "content", "count-tms", "metadata", ...
    std::string tool_version;    ///< of the tool that would produce the object, when known
    std::string server_version;  ///< the database server's, when known
    /// Per-part digests beside the combined value (database: "schema.table" -> digest of its
    /// line, and the schema's digest); empty when the half has no parts. Stored with the
    /// fingerprint so that the next run can name what changed.
    std::map<std::string, std::string> tables{};
    std::string schema_digest{};
    /// What the next fingerprint's pre-check needs (database: see docs/fingerprint.md),
    /// stored with the fingerprint; empty when the half has none.
    std::string state{};
    /// Whether this fingerprint read everything again (the pre-check trusted nothing or found
    /// tables maybe changed): then an unchanged run stores `state` afresh, so that the next
    /// run's pre-check starts from it.
    bool rescanned = false;
};

/// What producing a half's object said about it, for the manifest and the run report.
struct DOLIBAK_API Produced {
    std::string summary_json;  ///< compact archive summary (a JSON object), or empty
    std::string tool_version;
    std::string server_version;
    std::string detail;  ///< for the log line: "308 tables", "1,204 files"
};

/// One half of an instance (database, documents, globals): how to fingerprint its live
/// content, produce its object, check a stored object's format.
class DOLIBAK_API HalfDriver {
public:
    virtual ~HalfDriver() = default;
    /// The kind of object produce() writes (its folder and suffix in the store).
    virtual catalog::ObjectKind object_kind() const = 0;
    /// The manifest's format name ("pg_dump-custom", "tar.gz", "sql", ...).
    virtual std::string format() const = 0;
    /// Checks the half's configuration against the machine before a backup starts (the
    /// documents directory exists, the pg tools directory exists): a mistake there throws
    /// ConfigError, and the backup stops before it takes the lock or records anything.
    /// What can change while a run goes on (an empty directory, an unreachable database)
    /// is not checked here: that is the half's failure, recorded in its run.
    virtual void validate() const {}
    /// The live content's fingerprint. Throws when it cannot be taken (the half fails).
    virtual LiveFingerprint fingerprint(const DriverContext& ctx) = 0;
    /// Writes the half's object into `sink` and finishes it; on any failure aborts it and
    /// throws. Never returns with the sink neither finished nor aborted.
    virtual Produced produce(io::Sink& sink, const DriverContext& ctx) = 0;
    /// The fingerprint and the object at once, of one state, for a run that writes the object
    /// whatever the fingerprint says (no stored fingerprint, or forced): `sink` as produce().
    /// The database driver scans beside pg_dump, both in the fingerprint's exported snapshot.
    /// This default takes the fingerprint, then the object.
    virtual std::pair<LiveFingerprint, Produced> fingerprint_and_produce(io::Sink& sink,
                                                                         const DriverContext& ctx);
    /// Checks a stored object's format (reading as much of it as it needs); returns the
    /// problems found, empty when it is sound.
    virtual std::vector<std::string> check_object(io::Source& object, const std::string& key,
                                                  const DriverContext& ctx) = 0;
};

class DOLIBAK_API DatabaseDriver : public HalfDriver {
public:
    /// Restores a dump object into the target the options name, with proof. `object` is
    /// checked against the manifest's digest by the caller as it is read.
    virtual pgdump::RestoreReport restore(io::Source& object, const std::string& key,
                                          const RestoreDbOptions& options,
                                          const DriverContext& ctx) = 0;
};

class DOLIBAK_API DocumentsDriver : public HalfDriver {
public:
    /// How the next runs store the documents: in packs, or as one archive (the job decides
    /// docs_mode auto before each backup; docs/packs.md, "Choosing the mode"). A driver with
    /// one way of storing ignores it.
    virtual void use_packs(bool packs) { (void)packs; }
    /// Extracts an archive object into `target` (safely: staged, all-or-nothing). `recorded`:
    /// a manifest names the object (else it may come from the old scripts).
    virtual tarball::ExtractSummary restore(io::Source& object, const std::string& key,
                                            const std::filesystem::path& target,
                                            const RestoreDocsOptions& options, bool recorded,
                                            const DriverContext& ctx) = 0;
};

class DOLIBAK_API Env {
public:
    virtual ~Env() = default;
    virtual store::Store& store() = 0;
    virtual Clock& clock() = 0;
    /// The drivers of the configured halves; nullptr for a half that is not configured.
    virtual DatabaseDriver* database() = 0;
    virtual DocumentsDriver* documents() = 0;
    virtual HalfDriver* globals() = 0;

    /// Today's objects for `config`: its store (opened here), the system clock (or
    /// config.now), pg_dump / pg_restore / pg_dumpall, the tar writer and extractor.
    /// `emit` receives the drivers' warnings that come outside a call's context.
    static std::unique_ptr<Env> real(const Config& config);
};

}  // namespace dolibak::job
