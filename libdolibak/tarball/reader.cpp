#include "tarball/reader.hpp"

#include <dolibak/core/error.hpp>
#include <dolibak/io/replay.hpp>
#include <dolibak/io/zstd.hpp>

#include <fmt/core.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace dolibak::tarball::detail {

// Inflates gzip members one after the other, checking each CRC-32 and length; zero bytes after
// the last member (block padding of some writers) are accepted, anything else is an error.
class GunzipSource final : public io::Source {
public:
    explicit GunzipSource(io::Source& inner) : inner_(inner), in_(io::default_buffer_size) {
        if (::inflateInit2(&z_, 15 + 16) != Z_OK) throw Error("cannot initialise zlib");
    }
    ~GunzipSource() override { ::inflateEnd(&z_); }
    GunzipSource(const GunzipSource&) = delete;
    GunzipSource& operator=(const GunzipSource&) = delete;

    std::size_t read(io::MutableBytes buf) override {
        if (done_ || buf.empty()) return 0;
        z_.next_out = reinterpret_cast<Bytef*>(buf.data());
        z_.avail_out = static_cast<uInt>(std::min<std::size_t>(buf.size(), 1u << 30));
        while (z_.avail_out == buf.size()) {
            if (z_.avail_in == 0) {
                if (in_pos_ >= in_len_ && !refill()) {
                    if (member_started_) throw FormatError("truncated gzip input", offset());
                    done_ = true;
                    break;
                }
                z_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
                z_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
            }
            if (!member_started_) {
                // Between members: another gzip member, or zero padding to the end.
                if (*z_.next_in != 0x1f) {
                    skip_padding();
                    done_ = true;
                    break;
                }
                member_started_ = true;
            }
            const uInt before = z_.avail_in;
            const int rc = ::inflate(&z_, Z_NO_FLUSH);
            in_pos_ += before - z_.avail_in;
            if (rc == Z_STREAM_END) {
                member_started_ = false;
                ::inflateReset(&z_);
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                throw FormatError(
                    fmt::format("corrupt gzip data: {}", z_.msg != nullptr ? z_.msg : "error"),
                    offset());
            }
        }
        return buf.size() - z_.avail_out;
    }

private:
    std::uint64_t offset() const { return read_ - (in_len_ - in_pos_); }
    bool refill() {
        in_pos_ = 0;
        in_len_ = inner_.read(io::MutableBytes(in_.data(), in_.size()));
        read_ += in_len_;
        return in_len_ > 0;
    }
    void skip_padding() {
        for (;;) {
            const auto* p = in_.data() + in_pos_;
            const auto* end = in_.data() + in_len_;
            const auto* bad = std::find_if(p, end, [](std::byte b) { return b != std::byte{0}; });
            if (bad != end) {
                in_pos_ = static_cast<std::size_t>(bad - in_.data());
                throw FormatError("garbage after the end of the gzip stream", offset());
            }
            in_pos_ = in_len_;
            if (!refill()) return;
        }
    }

    io::Source& inner_;
    std::vector<std::byte> in_;
    std::size_t in_pos_ = 0;
    std::size_t in_len_ = 0;
    std::uint64_t read_ = 0;  // bytes read from inner_
    z_stream z_{};
    bool member_started_ = false;
    bool done_ = false;
};

SourceReader::SourceReader(io::Source& source)
    : source_(source), counted_(source_, {&read_}), a_(archive_read_new()) {
    if (!a_) throw Error("out of memory creating the tar reader");
    for (auto& b : buffers_) b.resize(io::default_buffer_size);
    // Look at the first bytes: gzip and zstd are decoded here, libarchive reads plain tar.
    std::vector<std::byte> first(io::default_buffer_size);
    std::size_t n = io::read_full(counted_, io::MutableBytes(first.data(), 4));
    if (n == 4) n += counted_.read(io::MutableBytes(first.data() + 4, first.size() - 4));
    first.resize(n);
    const bool gzip = n >= 2 && first[0] == std::byte{0x1f} && first[1] == std::byte{0x8b};
    const bool zstd = io::is_zstd(io::Bytes(first.data(), first.size()));
    replay_ = std::make_unique<io::ReplaySource>(std::move(first), counted_);
    decoded_ = replay_.get();
    if (gzip) {
        compression_ = "gzip";
        decoder_ = std::make_unique<GunzipSource>(*replay_);
    } else if (zstd) {
        compression_ = "zstd";
        decoder_ = std::make_unique<io::ZstdSource>(*replay_);
    }
    if (decoder_) decoded_ = decoder_.get();
    archive_read_support_filter_none(a_.get());
    archive_read_support_format_tar(a_.get());
    if (archive_read_open(a_.get(), this, nullptr, &SourceReader::on_read, nullptr) != ARCHIVE_OK)
        fail("cannot open the archive");
}

SourceReader::~SourceReader() = default;

std::size_t SourceReader::read_decoded(io::MutableBytes buf) {
    try {
        return decoded_->read(buf);
    } catch (const FormatError& e) {
        if (e.offset()) throw;
        // zstd's errors carry no position: the compressed bytes read so far bound it.
        throw FormatError(e.what(), read_.bytes());
    }
}

la_ssize_t SourceReader::on_read(archive* a, void* self_ptr, const void** out) {
    auto* self = static_cast<SourceReader*>(self_ptr);
    try {
        // Two buffers in turn: the bytes handed last time stay readable for finish().
        self->current_ ^= 1u;
        auto& buf = self->buffers_[self->current_];
        const std::size_t n = self->read_decoded(io::MutableBytes(buf));
        self->lengths_[self->current_] = n;
        self->handed_ += n;
        *out = buf.data();
        return static_cast<la_ssize_t>(n);
    } catch (...) {
        self->error_ = std::current_exception();
        archive_set_error(a, EIO, "the input failed");
        return -1;
    }
}

void SourceReader::finish() {
    // libarchive stops at the end marker. What it was handed beyond it, and the rest of the
    // stream, may only be the zero padding of the last record; reading the stream to its end
    // also checks the gzip trailer (CRC-32, length) and that nothing follows the compression.
    const auto consumed = static_cast<std::uint64_t>(archive_filter_bytes(a_.get(), 0));
    std::uint64_t tar_offset = consumed;
    auto check_zeros = [&](const std::byte* p, std::size_t n) {
        const auto* bad = std::find_if(p, p + n, [](std::byte b) { return b != std::byte{0}; });
        if (bad != p + n) {
            tar_offset += static_cast<std::uint64_t>(bad - p);
            throw FormatError(
                fmt::format("data after the end of the tar archive (byte {} of the tar stream)",
                            tar_offset),
                compression_ == "none" ? tar_offset : read_.bytes());
        }
        tar_offset += n;
    };
    std::uint64_t unconsumed = handed_ - consumed;
    const unsigned cur = current_, prev = current_ ^ 1u;
    if (unconsumed > lengths_[cur] + lengths_[prev])
        throw Error("the tar reader consumed less than it was handed: cannot check the end");
    if (unconsumed > lengths_[cur]) {
        const std::size_t from_prev = unconsumed - lengths_[cur];
        check_zeros(buffers_[prev].data() + lengths_[prev] - from_prev, from_prev);
        unconsumed = lengths_[cur];
    }
    check_zeros(buffers_[cur].data() + lengths_[cur] - unconsumed, unconsumed);
    auto& buf = buffers_[cur];
    for (;;) {
        const std::size_t n = read_decoded(io::MutableBytes(buf));
        if (n == 0) break;
        check_zeros(buf.data(), n);
    }
}

void SourceReader::fail(const std::string& what) {
    if (error_) {
        try {
            std::rethrow_exception(error_);
        } catch (Error& e) {
            e.with_context(what);
            throw;
        }
    }
    // With our inflater in front, libarchive's counters are tar-stream offsets.
    const la_int64_t tar_offset = archive_filter_bytes(a_.get(), 0);
    const la_int64_t raw = archive_filter_bytes(a_.get(), -1);
    const std::uint64_t offset = compression_ != "none"
                                     ? read_.bytes()
                                     : static_cast<std::uint64_t>(std::max<la_int64_t>(raw, 0));
    throw FormatError(
        fmt::format("{}: {} (byte {} of the tar stream)", what, error_text(a_.get()), tar_offset),
        offset);
}

bool SourceReader::next(archive_entry** entry) {
    const int rc = archive_read_next_header(a_.get(), entry);
    if (rc == ARCHIVE_EOF) return false;
    if (rc == ARCHIVE_OK || rc == ARCHIVE_WARN) return true;
    fail("invalid archive");
}

std::size_t SourceReader::read_data(std::vector<std::byte>& buffer, const std::string& path) {
    const la_ssize_t n = archive_read_data(a_.get(), buffer.data(), buffer.size());
    if (n < 0) fail(fmt::format("invalid content of '{}'", path));
    return static_cast<std::size_t>(n);
}

std::string SourceReader::compression() const {
    return compression_;
}

}  // namespace dolibak::tarball::detail
