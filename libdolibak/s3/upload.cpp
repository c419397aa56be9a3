// Streaming upload (a Sink: one PutObject, or a multipart upload with parallel part workers)
// and streaming download (a Source fed by a background GET).
#include "s3/transport.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <thread>

namespace dolibak::s3 {

namespace {
constexpr std::uint64_t max_part_size = 5ull * 1024 * 1024 * 1024;
constexpr int max_parts = 10000;
constexpr int hinted_parts = 9000;  // a size hint leaves room for 1,000 more parts
constexpr int parts_per_doubling = 1000;
}  // namespace

std::uint64_t PartSizes::size(int part_number) const {
    std::uint64_t s = base;
    if (part_number > steady_parts) {
        const int doublings = (part_number - steady_parts - 1) / parts_per_doubling + 1;
        for (int i = 0; i < doublings && s < max_part_size; ++i) s *= 2;
    }
    return std::min(s, max_part_size);
}

PartSizes part_sizes(const ClientOptions& options, std::optional<std::uint64_t> size_hint) {
    PartSizes p;
    p.base =
        std::min<std::uint64_t>(std::max(options.part_size, options.min_part_size), max_part_size);
    p.steady_parts = parts_per_doubling;
    if (size_hint) {
        const std::uint64_t need = (*size_hint + hinted_parts - 1) / hinted_parts;
        p.base = std::max(p.base, std::min(need, max_part_size));
        const std::uint64_t parts = (*size_hint + p.base - 1) / p.base;
        p.steady_parts =
            static_cast<int>(std::clamp<std::uint64_t>(parts, parts_per_doubling, max_parts));
    }
    return p;
}

namespace detail {

class UploadSink final : public ObjectUpload {
public:
    UploadSink(Client& client, std::string bucket, std::string key, PutOptions options)
        : client_(client),
          bucket_(std::move(bucket)),
          key_(std::move(key)),
          options_(std::move(options)),
          sizes_(part_sizes(client_.options(), options_.size_hint)) {
        // A stream that may fit in one PutObject starts small; part buffers are reserved
        // whole (no regrowth copies) and recycled between parts (no fresh page faults).
        const std::size_t first = current_part_size();
        const bool multipart_expected = options_.size_hint && *options_.size_hint > first;
        buffer_.reserve(multipart_expected ? first : std::min<std::size_t>(first, 1 << 20));
    }

    ~UploadSink() override { abort(); }

    std::string etag() const override { return state_ == State::done ? etag_ : std::string(); }

    void write(io::Bytes data) override {
        if (state_ != State::open) throw Error("write to " + what() + " after it was completed");
        rethrow_failure();
        while (!data.empty()) {
            // A full buffer is sent only when more data comes: a stream that fits in one
            // part becomes a single PutObject.
            if (buffer_.size() >= current_part_size()) flush_part();
            const std::size_t n = std::min(current_part_size() - buffer_.size(), data.size());
            buffer_.append(io::as_chars(data.subspan(0, n)));
            account(static_cast<std::int64_t>(n));
            data = data.subspan(n);
        }
    }

    void finish() override {
        if (state_ != State::open) throw Error("completing " + what() + " twice");
        try {
            if (upload_id_.empty()) {
                // Everything fits in one part: a single PutObject.
                etag_ = client_.put_object(bucket_, key_, io::as_bytes(buffer_), options_);
                account(-static_cast<std::int64_t>(buffer_.size()));
                buffer_.clear();
                buffer_.shrink_to_fit();
                state_ = State::done;
                return;
            }
            if (!buffer_.empty()) flush_part();
            wait_all();
            rethrow_failure();
            std::sort(parts_.begin(), parts_.end(),
                      [](const auto& a, const auto& b) { return a.number < b.number; });
            etag_ = client_.complete_multipart_upload(bucket_, key_, upload_id_, parts_,
                                                      options_.if_none_match);
            stop_workers();
            state_ = State::done;
        } catch (...) {
            abort();
            throw;
        }
    }

    void abort() noexcept override {
        if (state_ == State::done || state_ == State::aborted) return;
        state_ = State::aborted;
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            for (const auto& p : queue_) account(-static_cast<std::int64_t>(p.data.size()));
            queue_.clear();
        }
        cv_.notify_all();
        stop_workers();
        account(-static_cast<std::int64_t>(buffer_.size()));
        buffer_.clear();
        if (!upload_id_.empty()) {
            try {
                client_.abort_multipart_upload(bucket_, key_, upload_id_);
            } catch (...) {
                // Nothing more to do here: a later abort_stale_uploads() cleans it up.
            }
        }
    }

private:
    enum class State { open, done, aborted };
    struct Part {
        int number;
        std::string data;
    };

    std::string what() const { return Client::describe(bucket_, key_); }
    void account(std::int64_t delta) { client_.impl_->note_buffered(delta); }

    // The size of the part being filled (see PartSizes).
    std::size_t current_part_size() const {
        return static_cast<std::size_t>(sizes_.size(next_part_));
    }

    void flush_part() {
        if (upload_id_.empty() && !options_.if_match.empty())
            throw ConfigError(what() + ": a conditional replace (If-Match) is limited to " +
                              std::to_string(current_part_size()) +
                              " bytes (one part); this object is larger");
        if (upload_id_.empty()) start_multipart();
        if (next_part_ > max_parts)
            throw Error(what() +
                        ": more than 10,000 parts; give a size hint or a larger part size");
        {
            std::unique_lock lock(mutex_);
            // Bounded memory: at most parallel parts queued or in flight, plus the one we
            // fill; the next buffer is taken only once this one has a worker's slot.
            cv_.wait(lock, [&] { return in_flight_ < workers_.size() || failure_ || stopping_; });
            if (failure_) {
                lock.unlock();
                rethrow_failure();
            }
            ++in_flight_;
            queue_.push_back(Part{next_part_++, std::move(buffer_)});
        }
        cv_.notify_all();
        buffer_ = take_buffer();
    }

    std::string take_buffer() {
        std::string b;
        {
            std::lock_guard lock(mutex_);
            if (!free_.empty()) {
                b = std::move(free_.back());
                free_.pop_back();
            }
        }
        b.clear();
        b.reserve(current_part_size());
        return b;
    }

    void start_multipart() {
        upload_id_ = client_.create_multipart_upload(bucket_, key_, options_);
        const unsigned n = std::max(1u, client_.options().parallel_parts);
        for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
    }

    void work() {
        for (;;) {
            Part p;
            {
                std::unique_lock lock(mutex_);
                cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
                if (stopping_ && queue_.empty()) return;
                p = std::move(queue_.front());
                queue_.pop_front();
            }
            try {
                auto etag =
                    client_.upload_part(bucket_, key_, upload_id_, p.number, io::as_bytes(p.data));
                std::lock_guard lock(mutex_);
                parts_.push_back({p.number, std::move(etag)});
            } catch (...) {
                std::lock_guard lock(mutex_);
                if (!failure_) failure_ = std::current_exception();
                stopping_ = true;
                for (const auto& q : queue_) account(-static_cast<std::int64_t>(q.data.size()));
                in_flight_ -= queue_.size();
                queue_.clear();
            }
            account(-static_cast<std::int64_t>(p.data.size()));
            {
                std::lock_guard lock(mutex_);
                p.data.clear();  // keeps its capacity for the next part
                free_.push_back(std::move(p.data));
            }
            {
                std::lock_guard lock(mutex_);
                --in_flight_;
            }
            cv_.notify_all();
        }
    }

    void wait_all() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return in_flight_ == 0 || failure_; });
    }

    void stop_workers() noexcept {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        cv_.notify_all();
        for (auto& t : workers_)
            if (t.joinable()) t.join();
        workers_.clear();
    }

    void rethrow_failure() {
        std::exception_ptr f;
        {
            std::lock_guard lock(mutex_);
            f = failure_;
        }
        if (f) std::rethrow_exception(f);
    }

    Client& client_;
    std::string bucket_, key_;
    PutOptions options_;
    PartSizes sizes_;
    std::string buffer_;
    State state_ = State::open;
    std::string upload_id_;
    std::string etag_;
    int next_part_ = 1;

    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Part> queue_;
    std::size_t in_flight_ = 0;
    bool stopping_ = false;
    std::exception_ptr failure_;
    std::vector<CompletedPart> parts_;
    std::vector<std::string> free_;  // recycled part buffers (at most parallel_parts)
    std::vector<std::thread> workers_;
};

}  // namespace detail

namespace {

// A bounded byte pipe between a background GET (writer) and the caller (reader).

struct Pipe {
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::string> chunks;
    std::size_t buffered = 0;
    std::size_t capacity = 8 * 1024 * 1024;
    bool writer_done = false;
    bool reader_gone = false;
    std::exception_ptr error;
};

class PipeWriter final : public io::Sink {
public:
    explicit PipeWriter(Pipe& p) : pipe_(p) {}
    void write(io::Bytes data) override {
        std::unique_lock lock(pipe_.mutex);
        pipe_.cv.wait(lock, [&] {
            return pipe_.reader_gone || pipe_.buffered + data.size() <= pipe_.capacity ||
                   pipe_.buffered == 0;
        });
        if (pipe_.reader_gone) throw Cancelled("download no longer wanted");
        pipe_.chunks.emplace_back(io::as_chars(data));
        pipe_.buffered += data.size();
        pipe_.cv.notify_all();
    }
    void finish() override {}
    void abort() noexcept override {}

private:
    Pipe& pipe_;
};

class ObjectSource final : public io::Source {
public:
    ObjectSource(Client& client, std::string bucket, std::string key, GetOptions options)
        : writer_(pipe_) {
        thread_ = std::thread([this, &client, bucket = std::move(bucket), key = std::move(key),
                               options = std::move(options)] {
            std::exception_ptr error;
            try {
                client.get_object(bucket, key, writer_, options);
            } catch (...) {
                error = std::current_exception();
            }
            std::lock_guard lock(pipe_.mutex);
            pipe_.error = error;
            pipe_.writer_done = true;
            pipe_.cv.notify_all();
        });
    }

    ~ObjectSource() override {
        {
            std::lock_guard lock(pipe_.mutex);
            pipe_.reader_gone = true;
        }
        pipe_.cv.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    std::size_t read(io::MutableBytes buf) override {
        if (buf.empty()) return 0;
        std::unique_lock lock(pipe_.mutex);
        pipe_.cv.wait(lock, [&] { return !pipe_.chunks.empty() || pipe_.writer_done; });
        if (pipe_.chunks.empty()) {
            if (pipe_.error) {
                auto e = pipe_.error;
                pipe_.error = nullptr;
                std::rethrow_exception(e);
            }
            return 0;
        }
        auto& front = pipe_.chunks.front();
        const std::size_t n = std::min(buf.size(), front.size() - offset_);
        std::memcpy(buf.data(), front.data() + offset_, n);
        offset_ += n;
        if (offset_ == front.size()) {
            pipe_.buffered -= front.size();
            pipe_.chunks.pop_front();
            offset_ = 0;
            pipe_.cv.notify_all();
        }
        return n;
    }

private:
    Pipe pipe_;
    PipeWriter writer_;
    std::size_t offset_ = 0;
    std::thread thread_;
};

}  // namespace

std::unique_ptr<ObjectUpload> Client::upload(const std::string& bucket, const std::string& key,
                                             const PutOptions& options) {
    if (bucket.empty() || key.empty()) throw ConfigError("S3 upload: empty bucket or key");
    return std::make_unique<detail::UploadSink>(*this, bucket, key, options);
}

std::unique_ptr<io::Source> Client::open_object(const std::string& bucket, const std::string& key,
                                                const GetOptions& options) {
    if (bucket.empty() || key.empty()) throw ConfigError("S3 download: empty bucket or key");
    return std::make_unique<ObjectSource>(*this, bucket, key, options);
}

}  // namespace dolibak::s3
