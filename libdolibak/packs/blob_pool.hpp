#pragma once
// Hashing and compressing blobs on worker threads (layer-private). The writer hands over
// batches of blobs in walk order and takes them back in the same order, hashed (SHA-256) and,
// unless `known` said the content is stored already, compressed (one zstd frame each): the
// packs come out the same whatever the number of threads. With no thread, the work is done
// in submit(), on the caller's thread.
//
// A batch whose work failed (zstd, memory) carries its exception, rethrown by take(). The
// destructor stops the workers once their current batch is done and joins them: the workers
// never wait for the caller, so a caller that stops taking (an exception, a cancel) cannot
// deadlock them.
#include "packs/known_blobs.hpp"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace dolibak::packs::detail {

struct BlobWork {
    std::string data;       ///< in: the blob's bytes (kept only when no frame is made)
    std::size_t size = 0;   ///< the blob's size (data.size() as submitted)
    void* owner = nullptr;  ///< the caller's tag (the file this blob belongs to)
    Digest sha{};           ///< out: SHA-256 of the bytes
    std::string frame;      ///< out: the zstd frame; empty when `known` said it is stored
};

using Batch = std::vector<BlobWork>;

/// Compresses `data` as one zstd frame with its content size (what ZSTD_compress writes).
std::string compress_frame(std::string_view data, int level);

class BlobPool {
public:
    /// `known(sha)` (called from the workers, may be called concurrently) tells whether a
    /// content needs no frame. `threads` 0: inline.
    BlobPool(unsigned threads, int level, std::function<bool(const Digest&)> known);
    ~BlobPool();
    BlobPool(const BlobPool&) = delete;
    BlobPool& operator=(const BlobPool&) = delete;

    /// Queues a batch (never blocks: the caller bounds what is in flight with in_flight()).
    void submit(Batch batch);
    /// The oldest batch once it is done (rethrowing its failure); with `wait` false, nothing
    /// while it is still being worked on; nothing when no batch is in flight.
    std::optional<Batch> take(bool wait);
    std::size_t in_flight() const;
    unsigned threads() const noexcept { return threads_; }

    struct Scratch;

private:
    struct Slot {
        Batch work;
        bool claimed = false;
        bool done = false;
        std::exception_ptr error;
    };
    void process(Batch& batch, Scratch& scratch) const;
    void run_worker();

    const unsigned threads_;
    const int level_;
    const std::function<bool(const Digest&)> known_;
    mutable std::mutex mutex_;
    std::condition_variable work_ready_;
    std::condition_variable work_done_;
    std::deque<std::unique_ptr<Slot>> slots_;  ///< in submission order
    bool stop_ = false;
    std::unique_ptr<Scratch> inline_scratch_;  ///< with no thread

    /// Declared last: destroyed first, it stops and joins the workers before the members
    /// they use go away (also when the constructor fails after starting some of them).
    struct Workers {
        BlobPool& pool;
        std::vector<std::thread> threads;
        ~Workers();
    } workers_{*this, {}};
};

}  // namespace dolibak::packs::detail
