#include <dolibak/core/error.hpp>
#include <dolibak/io/zstd.hpp>

#include <zstd.h>

#include <vector>

namespace dolibak::io {

bool is_zstd(Bytes p) noexcept {
    return p.size() >= 4 && p[0] == std::byte{0x28} && p[1] == std::byte{0xB5} &&
           p[2] == std::byte{0x2F} && p[3] == std::byte{0xFD};
}

namespace {
void check_zstd(std::size_t rc, const char* what) {
    if (ZSTD_isError(rc)) throw Error(std::string(what) + ": " + ZSTD_getErrorName(rc));
}
}  // namespace

struct ZstdSink::Impl {
    Sink& next;
    ZSTD_CCtx* cctx = nullptr;
    std::vector<std::byte> out;
    std::uint64_t in_bytes = 0;
    std::uint64_t out_bytes = 0;
    bool done = false;

    explicit Impl(Sink& n) : next(n), out(ZSTD_CStreamOutSize()) {}
    ~Impl() { ZSTD_freeCCtx(cctx); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    void run(Bytes data, ZSTD_EndDirective mode) {
        ZSTD_inBuffer in{data.data(), data.size(), 0};
        for (;;) {
            ZSTD_outBuffer ob{out.data(), out.size(), 0};
            const std::size_t rc = ZSTD_compressStream2(cctx, &ob, &in, mode);
            check_zstd(rc, "zstd compression failed");
            if (ob.pos) {
                next.write(Bytes(out.data(), ob.pos));
                out_bytes += ob.pos;
            }
            if (mode == ZSTD_e_continue) {
                if (in.pos == in.size) break;
            } else if (rc == 0) {
                break;
            }
        }
    }
};

ZstdSink::ZstdSink(Sink& next, ZstdOptions o) : impl_(std::make_unique<Impl>(next)) {
    impl_->cctx = ZSTD_createCCtx();
    if (!impl_->cctx) throw std::bad_alloc();
    check_zstd(ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_compressionLevel, o.level), "zstd level");
    if (o.threads > 0) {
        // Without multi-threading support in libzstd this fails: fall back to one thread.
        const std::size_t rc = ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_nbWorkers, o.threads);
        // Jobs of 4 MiB instead of zstd's default (4 windows: 8 MiB at level 6) bound the
        // workers' buffers: a 1 GB dump at level 6 with 2 threads peaks at 47 MiB instead of
        // 69 MiB, with the same CPU and output (bench/README.md).
        if (!ZSTD_isError(rc)) (void)ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_jobSize, 4 << 20);
    }
    check_zstd(ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_checksumFlag, 1), "zstd checksum");
}

ZstdSink::~ZstdSink() {
    if (!impl_->done) abort();
}

void ZstdSink::write(Bytes data) {
    impl_->in_bytes += data.size();
    impl_->run(data, ZSTD_e_continue);
}

void ZstdSink::finish() {
    try {
        impl_->run({}, ZSTD_e_end);
        impl_->done = true;
        impl_->next.finish();
    } catch (...) {
        impl_->done = true;
        impl_->next.abort();
        throw;
    }
}

void ZstdSink::abort() noexcept {
    impl_->done = true;
    impl_->next.abort();
}

std::uint64_t ZstdSink::bytes_in() const noexcept {
    return impl_->in_bytes;
}
std::uint64_t ZstdSink::bytes_out() const noexcept {
    return impl_->out_bytes;
}

struct ZstdSource::Impl {
    Source& inner;
    ZSTD_DStream* d = nullptr;
    std::vector<std::byte> in;
    ZSTD_inBuffer ib{nullptr, 0, 0};
    bool eof = false;
    std::size_t last_rc = 0;  // 0: at a frame boundary
    bool any = false;

    explicit Impl(Source& s) : inner(s), in(ZSTD_DStreamInSize()) {}
    ~Impl() { ZSTD_freeDStream(d); }
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
};

ZstdSource::ZstdSource(Source& inner) : impl_(std::make_unique<Impl>(inner)) {
    impl_->d = ZSTD_createDStream();
    if (!impl_->d) throw std::bad_alloc();
}
ZstdSource::~ZstdSource() = default;

std::size_t ZstdSource::read(MutableBytes buf) {
    auto& m = *impl_;
    if (buf.empty()) return 0;
    for (;;) {
        if (m.ib.pos == m.ib.size && !m.eof) {
            const std::size_t n = m.inner.read(m.in);
            if (n == 0) {
                m.eof = true;
            } else {
                m.ib = ZSTD_inBuffer{m.in.data(), n, 0};
                m.any = true;
            }
        }
        ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
        if (m.ib.pos < m.ib.size || m.last_rc != 0) {
            const std::size_t rc = ZSTD_decompressStream(m.d, &ob, &m.ib);
            if (ZSTD_isError(rc))
                throw FormatError(std::string("invalid zstd stream: ") + ZSTD_getErrorName(rc));
            m.last_rc = rc;
        }
        if (ob.pos > 0) return ob.pos;
        if (m.eof && m.ib.pos == m.ib.size) {
            if (m.last_rc != 0) throw FormatError("truncated zstd stream: it ends inside a frame");
            if (!m.any) return 0;
            return 0;
        }
    }
}

}  // namespace dolibak::io
