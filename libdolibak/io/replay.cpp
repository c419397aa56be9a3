#include <dolibak/core/error.hpp>
#include <dolibak/io/replay.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cstring>

namespace dolibak::io {

std::size_t RecordingSource::read(MutableBytes buf) {
    const std::size_t n = inner_.read(buf);
    if (n > limit_ - recorded_.size())
        throw FormatError(
            fmt::format("more than {} bytes before the end of what was looked for", limit_));
    recorded_.insert(recorded_.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    return n;
}

std::vector<std::byte> RecordingSource::take() noexcept {
    std::vector<std::byte> out;
    out.swap(recorded_);
    return out;
}

std::size_t ReplaySource::read(MutableBytes buf) {
    if (pos_ < head_.size()) {
        const std::size_t n = std::min(buf.size(), head_.size() - pos_);
        std::memcpy(buf.data(), head_.data() + pos_, n);
        pos_ += n;
        if (pos_ == head_.size()) {
            std::vector<std::byte>().swap(head_);
            pos_ = 0;
        }
        return n;
    }
    return rest_.read(buf);
}

}  // namespace dolibak::io
