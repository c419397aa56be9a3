#pragma once
// zstd as stream filters: a compressing Sink in front of another sink (multi-threaded, level
// configurable) and a decompressing Source over another source. Memory stays bounded.
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>

#include <memory>

namespace dolibak::io {

struct DOLIBAK_API ZstdOptions {
    int level = 3;    ///< 1..19 (negative levels are zstd's fast modes)
    int threads = 0;  ///< 0: compress in the caller's thread; N >= 1: N worker threads
};

/// Compresses what is written and writes the zstd frame to `next`. finish() ends the frame
/// and finishes `next`; abort() aborts `next`.
class DOLIBAK_API ZstdSink final : public Sink {
public:
    explicit ZstdSink(Sink& next, ZstdOptions options = {});
    ~ZstdSink() override;
    ZstdSink(const ZstdSink&) = delete;
    ZstdSink& operator=(const ZstdSink&) = delete;
    void write(Bytes data) override;
    void finish() override;
    void abort() noexcept override;
    std::uint64_t bytes_in() const noexcept;
    std::uint64_t bytes_out() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Decompresses a zstd stream (one or more frames) read from `inner`. A stream that ends in
/// the middle of a frame, or is not zstd, raises FormatError.
class DOLIBAK_API ZstdSource final : public Source {
public:
    explicit ZstdSource(Source& inner);
    ~ZstdSource() override;
    ZstdSource(const ZstdSource&) = delete;
    ZstdSource& operator=(const ZstdSource&) = delete;
    std::size_t read(MutableBytes buf) override;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Whether bytes start with the zstd frame magic.
DOLIBAK_API bool is_zstd(Bytes prefix) noexcept;

}  // namespace dolibak::io
