#include "pgdump/inflate.hpp"

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include <array>
#include <cstring>

namespace dolibak::pgdump::detail {
namespace {

constexpr std::size_t out_size = 64 * 1024;

class Copy final : public Inflater {
public:
    std::string feed(io::Bytes in, const Output& out) override {
        if (!in.empty()) out(in);
        return {};
    }
    std::string end() override { return {}; }
};

class Zlib final : public Inflater {
public:
    Zlib() {
        std::memset(&z_, 0, sizeof z_);
        // 15 + 32: zlib or gzip wrapper, detected from the first bytes.
        if (inflateInit2(&z_, 15 + 32) != Z_OK) throw std::bad_alloc();
    }
    ~Zlib() override { inflateEnd(&z_); }
    Zlib(const Zlib&) = delete;
    Zlib& operator=(const Zlib&) = delete;

    std::string feed(io::Bytes in, const Output& out) override {
        if (in.empty()) return {};
        started_ = true;
        if (ended_) return "data after the end of the zlib stream";
        z_.next_in = const_cast<Bytef*>(reinterpret_cast<const Bytef*>(in.data()));
        z_.avail_in = static_cast<uInt>(in.size());
        do {
            z_.next_out = reinterpret_cast<Bytef*>(buf_.data());
            z_.avail_out = static_cast<uInt>(buf_.size());
            const int rc = inflate(&z_, Z_NO_FLUSH);
            const std::size_t produced = buf_.size() - z_.avail_out;
            if (produced) out(io::Bytes(buf_.data(), produced));
            if (rc == Z_STREAM_END) {
                ended_ = true;
                if (z_.avail_in > 0) return "data after the end of the zlib stream";
                break;
            }
            if (rc == Z_BUF_ERROR) break;  // no progress possible: needs more input
            if (rc != Z_OK) return std::string("zlib error: ") + (z_.msg ? z_.msg : "invalid data");
        } while (z_.avail_in > 0 || z_.avail_out == 0);
        return {};
    }
    std::string end() override {
        if (started_ && !ended_) return "the zlib stream does not end at the block's terminator";
        return {};
    }

private:
    z_stream z_;
    std::array<std::byte, out_size> buf_{};
    bool started_ = false;
    bool ended_ = false;
};

class Zstd final : public Inflater {
public:
    Zstd() : d_(ZSTD_createDStream()) {
        if (!d_) throw std::bad_alloc();
    }
    ~Zstd() override { ZSTD_freeDStream(d_); }
    Zstd(const Zstd&) = delete;
    Zstd& operator=(const Zstd&) = delete;

    std::string feed(io::Bytes in, const Output& out) override {
        ZSTD_inBuffer ib{in.data(), in.size(), 0};
        while (ib.pos < ib.size) {
            ZSTD_outBuffer ob{buf_.data(), buf_.size(), 0};
            const std::size_t rc = ZSTD_decompressStream(d_, &ob, &ib);
            if (ZSTD_isError(rc)) return std::string("zstd error: ") + ZSTD_getErrorName(rc);
            if (ob.pos) out(io::Bytes(buf_.data(), ob.pos));
            frame_done_ = rc == 0;
            pending_ = ob.pos == ob.size;
        }
        // Flush output still held by the decoder.
        while (pending_) {
            ZSTD_outBuffer ob{buf_.data(), buf_.size(), 0};
            const std::size_t rc = ZSTD_decompressStream(d_, &ob, &ib);
            if (ZSTD_isError(rc)) return std::string("zstd error: ") + ZSTD_getErrorName(rc);
            if (ob.pos) out(io::Bytes(buf_.data(), ob.pos));
            frame_done_ = rc == 0;
            pending_ = ob.pos == ob.size;
        }
        if (in.size()) started_ = true;
        return {};
    }
    std::string end() override {
        if (started_ && !frame_done_)
            return "the zstd stream does not end at the block's terminator";
        return {};
    }

private:
    ZSTD_DStream* d_;
    std::array<std::byte, out_size> buf_{};
    bool started_ = false;
    bool frame_done_ = false;
    bool pending_ = false;
};

class Lz4 final : public Inflater {
public:
    Lz4() {
        if (LZ4F_isError(LZ4F_createDecompressionContext(&d_, LZ4F_VERSION)))
            throw std::bad_alloc();
    }
    ~Lz4() override { LZ4F_freeDecompressionContext(d_); }
    Lz4(const Lz4&) = delete;
    Lz4& operator=(const Lz4&) = delete;

    std::string feed(io::Bytes in, const Output& out) override {
        if (in.empty()) return {};
        started_ = true;
        const auto* src = reinterpret_cast<const char*>(in.data());
        std::size_t left = in.size();
        bool more = true;
        while (left > 0 || more) {
            std::size_t dst_size = buf_.size();
            std::size_t src_size = left;
            const std::size_t rc =
                LZ4F_decompress(d_, buf_.data(), &dst_size, src, &src_size, nullptr);
            if (LZ4F_isError(rc)) return std::string("lz4 error: ") + LZ4F_getErrorName(rc);
            if (dst_size) out(io::Bytes(buf_.data(), dst_size));
            src += src_size;
            left -= src_size;
            frame_done_ = rc == 0;
            more = dst_size == buf_.size();
            if (src_size == 0 && dst_size == 0) break;
        }
        return {};
    }
    std::string end() override {
        if (started_ && !frame_done_)
            return "the lz4 stream does not end at the block's terminator";
        return {};
    }

private:
    LZ4F_dctx* d_ = nullptr;
    std::array<std::byte, out_size> buf_{};
    bool started_ = false;
    bool frame_done_ = false;
};

}  // namespace

std::unique_ptr<Inflater> make_inflater(Compression c) {
    switch (c) {
        case Compression::none:
            return std::make_unique<Copy>();
        case Compression::gzip:
            return std::make_unique<Zlib>();
        case Compression::zstd:
            return std::make_unique<Zstd>();
        case Compression::lz4:
            return std::make_unique<Lz4>();
    }
    return nullptr;
}

}  // namespace dolibak::pgdump::detail
