#pragma once
// Peeking at the start of a stream that cannot seek (a pipe, an S3 download): read through a
// RecordingSource to look at the first bytes, then read the whole stream again through a
// ReplaySource, which gives back what was recorded before reading on.
#include <dolibak/core/export.hpp>
#include <dolibak/io/io.hpp>

#include <cstddef>
#include <vector>

namespace dolibak::io {

/// Reads from another source and keeps a copy of what it read, up to `limit` bytes: a read
/// that would record more throws FormatError (what was looked for is not where it should be).
class DOLIBAK_API RecordingSource final : public Source {
public:
    RecordingSource(Source& inner, std::size_t limit) : inner_(inner), limit_(limit) {}
    std::size_t read(MutableBytes buf) override;
    /// What was read so far; recording starts again from empty.
    std::vector<std::byte> take() noexcept;

private:
    Source& inner_;
    std::size_t limit_;
    std::vector<std::byte> recorded_;
};

/// Gives back `head` (bytes already read from `rest`), then reads on from `rest`. The head's
/// memory is released once it has been given back.
class DOLIBAK_API ReplaySource final : public Source {
public:
    ReplaySource(std::vector<std::byte> head, Source& rest) : head_(std::move(head)), rest_(rest) {}
    std::size_t read(MutableBytes buf) override;

private:
    std::vector<std::byte> head_;
    std::size_t pos_ = 0;
    Source& rest_;
};

}  // namespace dolibak::io
