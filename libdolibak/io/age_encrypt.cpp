// AgeEncryptSink: writes the header, the nonce, then the payload one 64 KiB chunk at a time;
// a full chunk is sealed only when more data arrives, so the final chunk is never empty
// (unless the whole payload is).
//
// Sealing runs beside the writer: plaintext fills a batch of chunks; once a batch is full and
// more data arrives, a worker thread seals it (each chunk's nonce is its counter, so a batch
// needs nothing from its neighbours) while the caller fills the next batch of a ring of eight.
// Sealed batches are handed to `next` on the caller's thread, in order, so `next` (and
// everything it observes: progress, cancellation) only ever runs on the caller's thread; the
// caller waits only when the whole ring is handed over. The final batch is sealed by the
// caller at finish(). Memory: eight batches (4 MiB).
//
// The sealed observers (a digest of the stored bytes) see each chunk right after it is sealed,
// on whichever thread sealed it, while the chunk is still in that core's cache: one pass over
// the ciphertext instead of two, and off the caller's thread. Batches are sealed one at a
// time and in order, so the observers see the stored bytes in order.
#include "io/age_format.hpp"

#include <dolibak/core/error.hpp>

#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

namespace dolibak::io {

using namespace age;

namespace {

/// Chunks per batch: 512 KiB of plaintext, so a hand-over costs little beside the sealing.
constexpr std::size_t batch_chunks = 8;
constexpr std::size_t batch_bytes = batch_chunks * chunk_size;

/// Chunks are laid out as they are stored: each chunk's plaintext is followed by room for
/// its tag, and is sealed in place, so a batch is one buffer whichever side holds it.
constexpr std::size_t stride = chunk_size + tag_size;

struct Batch {
    std::vector<unsigned char> data;  ///< batch_chunks strides
    std::size_t fill = 0;             ///< plaintext bytes in the batch
    std::size_t sealed_size = 0;
    std::uint64_t first_counter = 0;

    ~Batch() { wipe(data.data(), data.size()); }

    /// Copies plaintext in at `fill`; returns how much fitted.
    std::size_t add(const unsigned char* p, std::size_t n) {
        if (data.empty()) data.resize(batch_chunks * stride);
        const std::size_t at = fill % chunk_size;
        const std::size_t take = std::min(n, chunk_size - at);
        std::memcpy(data.data() + (fill / chunk_size) * stride + at, p, take);
        fill += take;
        return take;
    }

    /// Seals every chunk of the batch in place; with `last`, its final chunk is the
    /// payload's last. The sealed batch is data[0, sealed_size).
    void seal(Aead& aead, bool last, const std::vector<Observer*>& observers) {
        if (data.empty()) data.resize(stride);  // an empty payload: one empty final chunk
        sealed_size = 0;
        std::size_t offset = 0;
        std::uint64_t counter = first_counter;
        do {
            const std::size_t n = std::min(chunk_size, fill - offset);
            unsigned char nonce[12];
            stream_nonce(counter, last && offset + n == fill, nonce);
            unsigned char* at = data.data() + sealed_size;
            aead.seal(nonce, at, n, at);
            const Bytes sealed(reinterpret_cast<const std::byte*>(at), n + tag_size);
            for (auto* o : observers) o->update(sealed);
            sealed_size += n + tag_size;
            offset += n;
            ++counter;
        } while (offset < fill);
    }
};

}  // namespace

struct AgeEncryptSink::Impl {
    /// Batches in the ring: the one filling and up to ring - 1 handed over (being sealed,
    /// or sealed and waiting for `next`). On two cores the worker shares a core with the
    /// compressor's threads and falls behind for a time slice or more; 3.5 MiB handed over
    /// absorbs that where 1.5 MiB did not (bench/README.md, backup_encrypted.sh).
    static constexpr std::size_t ring = 8;

    Sink& next;
    std::vector<Observer*> observers;  ///< shown the stored bytes as they are sealed
    SymKey key;
    std::unique_ptr<Aead> aead;
    Batch batches[ring];
    std::size_t current = 0;    ///< the batch filling
    std::size_t oldest = 0;     ///< the oldest batch handed over and not yet written to next
    std::size_t handed = 0;     ///< batches handed over and not yet written to next
    std::uint64_t counter = 0;  ///< the counter of the current batch's first chunk
    bool done = false;

    // The sealing worker, started at the first full batch. It seals the handed batches in
    // order, from the oldest; `queued` of them (the newest) are not sealed yet.
    std::thread worker;
    std::mutex mutex;
    std::condition_variable cv;
    std::size_t queued = 0;
    std::size_t seal_at = 0;  ///< the worker's next batch
    std::exception_ptr failure;
    bool stopping = false;

    Impl(Sink& n, std::vector<Observer*> o) : next(n), observers(std::move(o)) {}
    ~Impl() { stop(); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    void run() {
        std::unique_ptr<Aead> own;
        std::unique_lock lock(mutex);
        for (;;) {
            cv.wait(lock, [&] { return queued > 0 || stopping; });
            if (queued == 0) return;
            Batch* b = &batches[seal_at];
            const bool failed = failure != nullptr;
            lock.unlock();
            std::exception_ptr error;
            try {
                if (!failed) {  // after a failure the rest is only drained
                    if (!own) own = std::make_unique<Aead>(key);
                    b->seal(*own, false, observers);
                }
            } catch (...) {
                error = std::current_exception();
            }
            lock.lock();
            if (error && !failure) failure = error;
            seal_at = (seal_at + 1) % ring;
            --queued;
            cv.notify_all();
        }
    }

    /// Writes to next the handed batches already sealed, oldest first; with `wait`, waits
    /// for at least the oldest (or, with `all`, for every one of them).
    void write_sealed(bool wait, bool all = false) {
        if (handed == 0) return;
        std::size_t sealed = 0;
        {
            std::unique_lock lock(mutex);
            if (wait)
                cv.wait(lock, [&] { return (all ? queued == 0 : handed > queued) || failure; });
            if (failure) std::rethrow_exception(failure);
            sealed = handed - queued;
        }
        for (; sealed > 0; --sealed) {
            Batch& b = batches[oldest];
            next.write(Bytes(reinterpret_cast<const std::byte*>(b.data.data()), b.sealed_size));
            b.fill = 0;
            oldest = (oldest + 1) % ring;
            --handed;
        }
    }

    /// The current batch is full and more data comes: hand it to the worker, write what is
    /// sealed, and make sure the next batch of the ring is free.
    void dispatch() {
        Batch& b = batches[current];
        b.first_counter = counter;
        counter += batch_chunks;
        {
            std::lock_guard lock(mutex);
            ++queued;
        }
        ++handed;
        if (!worker.joinable()) worker = std::thread([this] { run(); });
        cv.notify_all();
        current = (current + 1) % ring;
        write_sealed(handed == ring);  // waits only when the ring is full
    }

    /// Ends the worker (after the batches handed to it, if any). Never throws.
    void stop() noexcept {
        if (!worker.joinable()) return;
        {
            std::unique_lock lock(mutex);
            cv.wait(lock, [&] { return queued == 0; });
            stopping = true;
        }
        cv.notify_all();
        worker.join();
    }
};

AgeEncryptSink::AgeEncryptSink(Sink& next, const AgeRecipients& r,
                               std::vector<Observer*> sealed_observers)
    : impl_(std::make_unique<Impl>(next, std::move(sealed_observers))) {
    if (r.passphrase && !r.x25519.empty())
        throw ConfigError(
            "age: a passphrase cannot be combined with X25519 recipients (an scrypt stanza "
            "must be alone)");
    if (!r.passphrase && r.x25519.empty())
        throw ConfigError("age: no recipient and no passphrase to encrypt to");
    std::vector<Key32> keys;
    for (const auto& text : r.x25519) {
        const auto key = decode_recipient(text);
        if (!key) (void)age_parse_recipient(text);  // throws, naming the recipient
        keys.push_back(*key);
    }
    FileKey file_key;
    random_bytes(file_key.data(), file_key.size());
    std::string header(version_line);
    header += '\n';
    if (r.passphrase) {
        header += encode_stanza(wrap_scrypt(file_key, *r.passphrase, r.scrypt_work_factor));
    } else {
        for (const auto& key : keys) header += encode_stanza(wrap_x25519(file_key, key));
    }
    header += "---";
    const std::string mac = header_mac(file_key, header);
    header += ' ';
    header += base64_unpadded(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
    header += '\n';
    unsigned char nonce[nonce_size];
    random_bytes(nonce, nonce_size);
    payload_key(file_key, nonce, impl_->key);
    impl_->aead = std::make_unique<Aead>(impl_->key);
    header.append(reinterpret_cast<const char*>(nonce), nonce_size);
    for (auto* o : impl_->observers) o->update(as_bytes(header));
    next.write(as_bytes(header));
}

AgeEncryptSink::~AgeEncryptSink() {
    if (!impl_->done) abort();
}

void AgeEncryptSink::write(Bytes data) {
    auto& m = *impl_;
    if (m.done) throw Error("age: write after finish or abort");
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    std::size_t left = data.size();
    while (left > 0) {
        Batch* b = &m.batches[m.current];
        if (b->fill == batch_bytes) {
            m.dispatch();
            b = &m.batches[m.current];
        }
        const std::size_t n = b->add(p, left);
        p += n;
        left -= n;
    }
}

void AgeEncryptSink::finish() {
    auto& m = *impl_;
    if (m.done) throw Error("age: finish after finish or abort");
    try {
        m.write_sealed(true, true);
        m.stop();
        Batch& b = m.batches[m.current];
        b.first_counter = m.counter;
        b.seal(*m.aead, true, m.observers);  // an empty payload is one empty final chunk
        m.done = true;
        m.next.write(Bytes(reinterpret_cast<const std::byte*>(b.data.data()), b.sealed_size));
        m.next.finish();
    } catch (...) {
        m.done = true;
        m.stop();
        m.next.abort();
        throw;
    }
}

void AgeEncryptSink::abort() noexcept {
    impl_->done = true;
    impl_->stop();
    impl_->next.abort();
}

}  // namespace dolibak::io
