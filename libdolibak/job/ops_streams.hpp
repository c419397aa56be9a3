#pragma once
// Private: stream plumbing shared by verify, restore and refresh — a checked download
// (SHA-256, size, cancellation, progress), a peek at a dump's TOC before a filtered restore
// starts, a replay of peeked bytes, and a bounded in-process pipe between a producer thread
// (pg_dump, the tar writer) and a consumer (pg_restore, the extractor).
#include <dolibak/core/cancel.hpp>
#include <dolibak/io/age.hpp>
#include <dolibak/io/hash.hpp>
#include <dolibak/io/io.hpp>
#include <dolibak/io/replay.hpp>
#include <dolibak/job/job.hpp>
#include <dolibak/pgdump/archive.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dolibak::job::detail {

/// Reads a stored object: every byte hashed and counted, the cancel token checked on each read,
/// progress reported (at most twice a second, and at the end). When an expected digest or size is
/// given and does not match, the read that would hand out the last bytes fails (VerificationError)
/// instead: the source reads one chunk ahead, so a consumer that stops at its own end marker
/// without asking for EOF (the tar reader) is refused too, and one that commits only at the end
/// (pg_restore
/// --single-transaction, the staged extractor) commits nothing.
class CheckedSource final : public io::Source {
public:
    struct Expect {
        std::string sha256;  ///< empty: not checked
        std::optional<std::uint64_t> bytes;
    };
    CheckedSource(io::Source& inner, std::string what, Expect expect,
                  std::shared_ptr<CancelToken> cancel,
                  std::function<void(std::uint64_t)> on_progress = {});
    std::size_t read(io::MutableBytes buf) override;
    std::uint64_t bytes() const noexcept { return bytes_; }
    /// The digest of everything read so far.
    std::string sha256() const { return hash_.hex(); }
    bool at_end() const noexcept { return ended_; }

private:
    void fetch_next();
    void check_end();
    io::Source& inner_;
    std::string what_;
    Expect expect_;
    std::shared_ptr<CancelToken> cancel_;
    std::function<void(std::uint64_t)> on_progress_;
    io::Sha256 hash_;
    std::uint64_t bytes_ = 0;
    std::chrono::steady_clock::time_point reported_{};
    bool ended_ = false;  ///< the inner source reached its end
    // Two buffers allocated once (a read that returns a few bytes, as an S3 download does,
    // must not cost a zero-filled buffer each time): cur_len_/next_len_ bytes of them hold data.
    std::vector<std::byte> cur_, next_;
    std::size_t cur_len_ = 0, next_len_ = 0;
    std::size_t cur_pos_ = 0;
    std::exception_ptr failure_;
};

/// What an operation reads of a stored object: the stored bytes themselves or, for an
/// encrypted object, their age decryption (every 64 KiB chunk authenticated before it is
/// released). The one place verify, both restores and the packs driver make that choice.
class ObjectContent {
public:
    /// `identities`: those that open the object, nullptr for an object read as stored (in
    /// the clear, or encrypted but checked on its ciphertext only). The age header is read
    /// and checked here.
    ObjectContent(io::Source& stored, const io::AgeIdentities* identities) : stored_(stored) {
        if (identities) age_.emplace(stored, *identities);
    }
    io::Source& source() noexcept { return age_ ? static_cast<io::Source&>(*age_) : stored_; }
    bool decrypted() const noexcept { return age_.has_value(); }

private:
    io::Source& stored_;
    std::optional<io::AgeDecryptSource> age_;
};

/// Whether a store key names an age-encrypted object (a half's object ending in ".age").
bool is_encrypted_object(const std::string& key);

/// The TOC of a dump archive (plain or zstd-wrapped) read from the start of `source`, and
/// the raw bytes consumed to get it (replay them before the rest of `source`). Throws
/// FormatError when the stream ends or breaks before the TOC is complete.
struct PeekedToc {
    pgdump::ArchiveSummary toc;
    std::vector<std::byte> head;
};
PeekedToc peek_toc(io::Source& source, const std::string& name);

/// The pg_restore -L list of an archive with `exclude` rules ("desc:schema:tag:owner") taken
/// out, their dependents with them.
std::string exclusion_list(const pgdump::ArchiveSummary& toc,
                           const std::vector<std::string>& exclude);

/// A bounded pipe between two threads: the producer writes to sink(), the consumer reads from
/// source(). The producer's abort(), or the consumer's close(), makes the other side fail
/// promptly; both sides also fail with Cancelled when the token is set.
class ThreadPipe {
public:
    explicit ThreadPipe(std::shared_ptr<CancelToken> cancel, std::size_t capacity = 8u << 20);
    ~ThreadPipe();
    io::Sink& sink();
    io::Source& source();
    /// The consumer gives up: pending and later writes fail.
    void close() noexcept;
    /// Whether the producer aborted the stream (before any close(): a producer that fails
    /// on its own, as opposed to one whose writes failed because the consumer closed).
    bool producer_aborted() noexcept;

private:
    class PipeSink;
    class PipeSource;
    friend class PipeSink;
    friend class PipeSource;
    void write(io::Bytes data);
    std::size_t read(io::MutableBytes buf);
    void finish_writing();
    void abort_writing() noexcept;

    std::shared_ptr<CancelToken> cancel_;
    std::size_t capacity_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<std::vector<std::byte>> chunks_;
    std::size_t front_pos_ = 0;  ///< bytes of chunks_.front() already read
    std::size_t buffered_ = 0;
    bool finished_ = false;
    bool aborted_ = false;
    bool closed_ = false;
    std::unique_ptr<PipeSink> sink_;
    std::unique_ptr<PipeSource> source_;
};

/// The environment of a refresh hook (docs/job-restore.md): the minimal base (PATH, HOME,
/// locale...), KUBECONFIG and KUBERNETES_SERVICE_HOST/PORT when set, DOLIBAK_REFRESH_PHASE
/// ("pre"/"post"), DOLIBAK_REFRESH_SANDBOX (the sandbox, no password), DOLIBAK_REFRESH_RESULT
/// (post: "ok", "failed", "cancelled"), and the variables named in options.hook_env, taken
/// from dolibak's environment as they are: the only way a secret reaches a hook.
std::vector<std::pair<std::string, std::optional<std::string>>> hook_environment(
    const RefreshOptions& options, const std::string& phase, const std::string& outcome = {});

/// Runs `argv` (no shell) with the minimal environment plus `env` and returns its exit code
/// (-1 when it was killed by a signal). Throws ProcessError when it cannot be started.
int run_hook(const std::vector<std::string>& argv,
             const std::vector<std::pair<std::string, std::optional<std::string>>>& env,
             std::string* stderr_tail);

}  // namespace dolibak::job::detail
