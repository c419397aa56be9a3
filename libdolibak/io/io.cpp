#include <dolibak/core/error.hpp>
#include <dolibak/io/io.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

namespace dolibak::io {

std::uint64_t pump(Source& src, Sink& dst, std::size_t buffer_size) {
    std::vector<std::byte> buf(buffer_size == 0 ? default_buffer_size : buffer_size);
    std::uint64_t total = 0;
    for (;;) {
        const std::size_t n = src.read(buf);
        if (n == 0) return total;
        dst.write(Bytes(buf.data(), n));
        total += n;
    }
}

std::string read_all(Source& src, std::size_t max_bytes) {
    std::string out;
    std::vector<std::byte> buf(64 * 1024);
    for (;;) {
        const std::size_t n = src.read(buf);
        if (n == 0) return out;
        if (out.size() + n > max_bytes)
            throw FormatError("stream is larger than the " + std::to_string(max_bytes) +
                              " bytes expected");
        out.append(as_chars(Bytes(buf.data(), n)));
    }
}

std::size_t read_full(Source& src, MutableBytes buf) {
    std::size_t got = 0;
    while (got < buf.size()) {
        const std::size_t n = src.read(buf.subspan(got));
        if (n == 0) break;
        got += n;
    }
    return got;
}

std::string read_sized(Source& src, std::size_t size, bool* more) {
    std::string out(size, '\0');
    out.resize(read_full(src, MutableBytes(reinterpret_cast<std::byte*>(out.data()), size)));
    if (more) {
        std::byte extra[1];
        *more = out.size() == size && src.read(extra) != 0;
    }
    return out;
}

std::size_t MemorySource::read(MutableBytes buf) {
    const std::size_t n = std::min(buf.size(), data_.size() - pos_);
    if (n) std::memcpy(buf.data(), data_.data() + pos_, n);
    pos_ += n;
    return n;
}

void MemorySink::write(Bytes data) {
    data_.append(as_chars(data));
}

void TeeSink::write(Bytes data) {
    first_.write(data);
    second_.write(data);
}

void TeeSink::finish() {
    try {
        first_.finish();
    } catch (...) {
        second_.abort();
        throw;
    }
    second_.finish();
}

void TeeSink::abort() noexcept {
    first_.abort();
    second_.abort();
}

void ObservedSink::write(Bytes data) {
    for (auto* o : observers_) o->update(data);
    next_.write(data);
}

std::size_t ObservedSource::read(MutableBytes buf) {
    const std::size_t n = inner_.read(buf);
    if (n) {
        const Bytes got(buf.data(), n);
        for (auto* o : observers_) o->update(got);
    }
    return n;
}

}  // namespace dolibak::io
