#include "packs/blob_pool.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/hash.hpp>

#include <fmt/format.h>
#include <zstd.h>

namespace dolibak::packs::detail {

struct CctxDeleter {
    void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};

/// A worker's compression context and output buffer, reused from blob to blob (no zero-filled
/// buffer per blob).
struct BlobPool::Scratch {
    std::unique_ptr<ZSTD_CCtx, CctxDeleter> cctx{ZSTD_createCCtx()};
    std::unique_ptr<char[]> out;
    std::size_t capacity = 0;

    std::string compress(std::string_view data, int level) {
        if (!cctx) throw std::bad_alloc();
        const auto bound = ZSTD_compressBound(data.size());
        if (bound > capacity) {
            out = std::make_unique_for_overwrite<char[]>(bound);
            capacity = bound;
        }
        const auto n =
            ZSTD_compressCCtx(cctx.get(), out.get(), bound, data.data(), data.size(), level);
        if (ZSTD_isError(n)) throw FormatError(fmt::format("zstd: {}", ZSTD_getErrorName(n)));
        return std::string(out.get(), n);
    }
};

std::string compress_frame(std::string_view data, int level) {
    BlobPool::Scratch scratch;
    return scratch.compress(data, level);
}

BlobPool::BlobPool(unsigned threads, int level, std::function<bool(const Digest&)> known)
    : threads_(threads), level_(level), known_(std::move(known)) {
    for (unsigned i = 0; i < threads_; ++i) workers_.threads.emplace_back([this] { run_worker(); });
}

BlobPool::~BlobPool() = default;

BlobPool::Workers::~Workers() {
    {
        std::lock_guard lock(pool.mutex_);
        pool.stop_ = true;
    }
    pool.work_ready_.notify_all();
    for (auto& t : threads)
        if (t.joinable()) t.join();
}

void BlobPool::process(Batch& batch, Scratch& scratch) const {
    for (auto& w : batch) {
        w.size = w.data.size();
        w.sha = digest_of(io::sha256_bytes(w.data));
        if (known_ && known_(w.sha)) continue;  // stored already: no frame, keep the bytes
        w.frame = scratch.compress(w.data, level_);
        std::string().swap(w.data);
    }
}

void BlobPool::run_worker() {
    std::unique_ptr<Scratch> scratch;
    for (;;) {
        Slot* slot = nullptr;
        {
            std::unique_lock lock(mutex_);
            work_ready_.wait(lock, [&] {
                if (stop_) return true;
                for (auto& s : slots_)
                    if (!s->claimed) return true;
                return false;
            });
            if (stop_) return;
            for (auto& s : slots_)
                if (!s->claimed) {
                    slot = s.get();
                    break;
                }
            slot->claimed = true;
        }
        std::exception_ptr error;
        try {
            if (!scratch) scratch = std::make_unique<Scratch>();
            process(slot->work, *scratch);
        } catch (...) {
            error = std::current_exception();
        }
        {
            std::lock_guard lock(mutex_);
            slot->error = error;
            slot->done = true;
        }
        work_done_.notify_all();
    }
}

void BlobPool::submit(Batch batch) {
    auto slot = std::make_unique<Slot>();
    slot->work = std::move(batch);
    if (threads_ == 0) {
        try {
            if (!inline_scratch_) inline_scratch_ = std::make_unique<Scratch>();
            process(slot->work, *inline_scratch_);
        } catch (...) {
            slot->error = std::current_exception();
        }
        slot->claimed = slot->done = true;
        slots_.push_back(std::move(slot));
        return;
    }
    {
        std::lock_guard lock(mutex_);
        slots_.push_back(std::move(slot));
    }
    work_ready_.notify_one();
}

std::optional<Batch> BlobPool::take(bool wait) {
    std::unique_ptr<Slot> slot;
    {
        std::unique_lock lock(mutex_);
        if (slots_.empty()) return std::nullopt;
        if (!slots_.front()->done) {
            if (!wait) return std::nullopt;
            work_done_.wait(lock, [&] { return slots_.front()->done; });
        }
        slot = std::move(slots_.front());
        slots_.pop_front();
    }
    if (slot->error) std::rethrow_exception(slot->error);
    return std::move(slot->work);
}

std::size_t BlobPool::in_flight() const {
    std::lock_guard lock(mutex_);
    return slots_.size();
}

}  // namespace dolibak::packs::detail
