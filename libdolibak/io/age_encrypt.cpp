// AgeEncryptSink: writes the header, the nonce, then the payload one 64 KiB chunk at a time;
// a full chunk is sealed only when more data arrives, so the final chunk is never empty
// (unless the whole payload is).
//
// Sealing runs beside the writer: plaintext fills a batch of chunks; once a batch is full and
// more data arrives, a worker thread seals it (each chunk's nonce is its counter, so a batch
// needs nothing from its neighbours) while the caller fills the other batch. The sealed batch
// is handed to `next` on the caller's thread, in order, before the following batch leaves, so
// `next` (and everything it observes: digests, progress, cancellation) only ever runs on the
// caller's thread. The final batch is sealed by the caller at finish(). Memory: two batches.
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
    void seal(Aead& aead, bool last) {
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
            sealed_size += n + tag_size;
            offset += n;
            ++counter;
        } while (offset < fill);
    }
};

}  // namespace

struct AgeEncryptSink::Impl {
    Sink& next;
    SymKey key;
    std::unique_ptr<Aead> aead;
    Batch batches[2];
    int current = 0;
    std::uint64_t counter = 0;  ///< the counter of the current batch's first chunk
    bool done = false;

    // The sealing worker, started at the first full batch.
    std::thread worker;
    std::mutex mutex;
    std::condition_variable cv;
    Batch* job = nullptr;        ///< handed to the worker, not yet sealed
    Batch* in_flight = nullptr;  ///< the caller's view: handed over, not yet written to next
    std::exception_ptr failure;
    bool stopping = false;

    explicit Impl(Sink& n) : next(n) {}
    ~Impl() { stop(); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    void run() {
        std::unique_ptr<Aead> own;
        std::unique_lock lock(mutex);
        for (;;) {
            cv.wait(lock, [&] { return job != nullptr || stopping; });
            if (job == nullptr) return;
            Batch* b = job;
            lock.unlock();
            std::exception_ptr error;
            try {
                if (!own) own = std::make_unique<Aead>(key);
                b->seal(*own, false);
            } catch (...) {
                error = std::current_exception();
            }
            lock.lock();
            failure = error;
            job = nullptr;
            cv.notify_all();
        }
    }

    /// Waits for the batch in flight and writes it to next.
    void collect() {
        if (in_flight == nullptr) return;
        {
            std::unique_lock lock(mutex);
            cv.wait(lock, [&] { return job == nullptr; });
            if (failure) {
                in_flight = nullptr;
                std::rethrow_exception(failure);
            }
        }
        Batch* b = in_flight;
        in_flight = nullptr;
        next.write(Bytes(reinterpret_cast<const std::byte*>(b->data.data()), b->sealed_size));
        b->fill = 0;
    }

    /// The current batch is full and more data comes: seal it beside the caller.
    void dispatch() {
        collect();
        Batch& b = batches[current];
        b.first_counter = counter;
        counter += batch_chunks;
        {
            std::lock_guard lock(mutex);
            job = &b;
            in_flight = &b;
        }
        if (!worker.joinable()) worker = std::thread([this] { run(); });
        cv.notify_all();
        current ^= 1;
    }

    /// Ends the worker (after the batch it is sealing, if any). Never throws.
    void stop() noexcept {
        if (!worker.joinable()) return;
        {
            std::unique_lock lock(mutex);
            cv.wait(lock, [&] { return job == nullptr; });
            stopping = true;
        }
        cv.notify_all();
        worker.join();
    }
};

AgeEncryptSink::AgeEncryptSink(Sink& next, const AgeRecipients& r)
    : impl_(std::make_unique<Impl>(next)) {
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
        m.collect();
        m.stop();
        Batch& b = m.batches[m.current];
        b.first_counter = m.counter;
        b.seal(*m.aead, true);  // an empty payload is one empty final chunk
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
