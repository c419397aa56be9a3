#pragma once
// Private: the state a Job shares between its operations (one .cpp file per operation).
#include <dolibak/job.hpp>

#include <map>
#include <mutex>

namespace dolibak::job::detail {

/// Object keys of the store layout (relative to the store's prefix).
inline constexpr const char* fp_db_key = ".fp-db";
inline constexpr const char* fp_docs_key = ".fp-docs";
inline constexpr const char* lock_key = ".lock";

/// The stored fingerprint of a half: a small JSON object naming the object it describes.
struct StoredFingerprint {
    std::string half;
    std::string value;   ///< fingerprint value (hex)
    std::string mode;    ///< "xmin", "content", "count-tms" / "metadata", "content"
    std::string object;  ///< the key of the object it describes
    TimePoint time{};    ///< that object's <ts>
    std::string sha256;  ///< of that object's bytes
    std::uint64_t bytes = 0;
    std::string to_json() const;
    /// Throws FormatError naming the field.
    static StoredFingerprint from_json(std::string_view text);
};

/// A lease on the store: created with no-overwrite, removed on release. A lease older than
/// the TTL (a crashed run) is taken over, with a warning.
class Lease {
public:
    Lease(store::Store& store, std::chrono::seconds ttl, TimePoint now,
          const std::function<void(const Event&)>& emit);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    void release() noexcept;

private:
    store::Store& store_;
    bool held_ = false;
};

}  // namespace dolibak::job::detail

namespace dolibak::job {

/// A `verified/<ts>.json` record read back: which objects a verification of run <ts> checked.
struct Verification {
    TimePoint run{};
    TimePoint at{};
    std::vector<std::pair<std::string, bool>> objects;  ///< key, ok
};
/// Nothing when the text is not such a record (a foreign or damaged object).
std::optional<Verification> parse_verification(std::string_view text);

struct Job::Impl {
    Config config;
    std::unique_ptr<store::Store> store;
    std::mutex event_mutex;

    TimePoint now() const {
        return config.now ? config.now()
                          : std::chrono::time_point_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now());
    }
    void emit(Event e);
    void info(const std::string& half, const std::string& message);
    void warn(const std::string& half, const std::string& message);
    /// Throws Cancelled when the job was cancelled.
    void check_cancel(const std::string& what) const;

    enum class ManifestLoad { none, newest, all };
    /// Every object of the store, classified (used by list, prune, restore, verify, status).
    /// Manifests are read as asked: none, the newest only, or all (one GET each); with all,
    /// the verification records too, which set BackupEntry::verified.
    ListReport scan(ManifestLoad load);
    Manifest load_manifest(const std::string& key);
    /// Stores the verification record of `report` (a warning when the store refuses).
    void record(VerifyReport& report);
    /// The backup of `half` named by "latest" or a <ts> (a run that found the half unchanged
    /// resolves to the object its manifest names). Throws ConfigError when there is none.
    BackupEntry find_backup(const ListReport& listing, const std::string& half,
                            const std::string& which);
    /// The profile's volatile tables plus the configured extra ones.
    std::vector<std::string> volatile_tables() const;
    /// The profile's document excludes plus the configured extra ones.
    std::vector<std::string> document_excludes() const;
};

}  // namespace dolibak::job
