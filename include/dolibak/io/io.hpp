#pragma once
// Streaming core: a backup is a pipeline from a Source (pg_dump's stdout, the tar writer)
// through observers (hashes, counters, the archive verifier) into a Sink (a multipart upload,
// an atomically published file). Memory stays bounded whatever the size of the data.
#include <cstddef>
#include <cstdint>
#include <dolibak/core/export.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dolibak::io {

using Bytes = std::span<const std::byte>;
using MutableBytes = std::span<std::byte>;

/// Buffer size used by pump() and the built-in sources: large enough for throughput, small
/// enough that many pipelines can run at once.
inline constexpr std::size_t default_buffer_size = 256 * 1024;

inline Bytes as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::string_view as_chars(Bytes b) noexcept {
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

/// A stream of bytes read in order.
class DOLIBAK_API Source {
public:
    virtual ~Source() = default;
    /// Reads up to buf.size() bytes into buf; returns 0 only at the end of the stream.
    /// Throws dolibak::Error on failure.
    virtual std::size_t read(MutableBytes buf) = 0;
};

/// A destination of bytes. A sink is used as: write()* then exactly one of finish() (the data
/// is complete and may be published) or abort() (nothing may be published). A sink destroyed
/// without finish() behaves as if aborted.
class DOLIBAK_API Sink {
public:
    virtual ~Sink() = default;
    virtual void write(Bytes data) = 0;
    /// Completes the stream. For publishing sinks, the object appears under its final name
    /// only when finish() returns.
    virtual void finish() = 0;
    /// Discards what was written; never throws; may be called after a failed finish().
    virtual void abort() noexcept = 0;
};

/// Writes text (or any bytes held in a string) to a sink.
inline void write(Sink& sink, std::string_view text) {
    sink.write(as_bytes(text));
}

/// Something that looks at every byte passing through a pipeline (a hash, a counter, a
/// verifier), in order, without changing it.
class DOLIBAK_API Observer {
public:
    virtual ~Observer() = default;
    virtual void update(Bytes data) = 0;
};

/// Copies src to dst until the end of src, with one buffer of buffer_size bytes. Neither
/// finishes nor aborts dst. Returns the number of bytes copied.
DOLIBAK_API std::uint64_t pump(Source& src, Sink& dst,
                               std::size_t buffer_size = default_buffer_size);

/// Reads src to its end into a string (for small streams: XML answers, JSON objects).
/// Throws FormatError when more than max_bytes would be read.
DOLIBAK_API std::string read_all(Source& src, std::size_t max_bytes = 64 * 1024 * 1024);

/// Reads exactly buf.size() bytes, or fewer only at the end of the stream; returns the count.
DOLIBAK_API std::size_t read_full(Source& src, MutableBytes buf);

/// The first `size` bytes of src (fewer only at the end of the stream) in a string allocated
/// once at that size, for a stream of known length (read_all grows its string as it reads).
/// `more`, when given, says whether src held bytes past them (one more byte is read).
DOLIBAK_API std::string read_sized(Source& src, std::size_t size, bool* more = nullptr);

/// A source over bytes held in memory (not owned: the bytes must outlive the source).
class DOLIBAK_API MemorySource final : public Source {
public:
    explicit MemorySource(Bytes data) noexcept : data_(data) {}
    explicit MemorySource(std::string_view data) noexcept : data_(as_bytes(data)) {}
    std::size_t read(MutableBytes buf) override;

private:
    Bytes data_;
    std::size_t pos_ = 0;
};

/// A sink that keeps everything in a string; finish() marks it complete.
class DOLIBAK_API MemorySink final : public Sink {
public:
    void write(Bytes data) override;
    void finish() override { finished_ = true; }
    void abort() noexcept override {
        aborted_ = true;
        data_.clear();
    }
    const std::string& data() const noexcept { return data_; }
    bool finished() const noexcept { return finished_; }
    bool aborted() const noexcept { return aborted_; }

private:
    std::string data_;
    bool finished_ = false;
    bool aborted_ = false;
};

/// A sink that drops its data (and counts it).
class DOLIBAK_API NullSink final : public Sink {
public:
    void write(Bytes data) override { bytes_ += data.size(); }
    void finish() override {}
    void abort() noexcept override {}
    std::uint64_t bytes() const noexcept { return bytes_; }

private:
    std::uint64_t bytes_ = 0;
};

/// Writes every byte to two sinks. finish() finishes both (first, then second); if either
/// fails, both are aborted and the error is rethrown.
class DOLIBAK_API TeeSink final : public Sink {
public:
    TeeSink(Sink& first, Sink& second) noexcept : first_(first), second_(second) {}
    void write(Bytes data) override;
    void finish() override;
    void abort() noexcept override;

private:
    Sink& first_;
    Sink& second_;
};

/// Passes data through to the next sink and shows it to observers first.
class DOLIBAK_API ObservedSink final : public Sink {
public:
    ObservedSink(Sink& next, std::vector<Observer*> observers)
        : next_(next), observers_(std::move(observers)) {}
    void write(Bytes data) override;
    void finish() override { next_.finish(); }
    void abort() noexcept override { next_.abort(); }

private:
    Sink& next_;
    std::vector<Observer*> observers_;
};

/// Reads from another source and shows each chunk to observers.
class DOLIBAK_API ObservedSource final : public Source {
public:
    ObservedSource(Source& inner, std::vector<Observer*> observers)
        : inner_(inner), observers_(std::move(observers)) {}
    std::size_t read(MutableBytes buf) override;

private:
    Source& inner_;
    std::vector<Observer*> observers_;
};

/// Counts bytes.
class DOLIBAK_API ByteCounter final : public Observer {
public:
    void update(Bytes data) override { bytes_ += data.size(); }
    std::uint64_t bytes() const noexcept { return bytes_; }

private:
    std::uint64_t bytes_ = 0;
};

}  // namespace dolibak::io
