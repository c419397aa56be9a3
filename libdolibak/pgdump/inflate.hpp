#pragma once
// Private: streaming decompressors of the data blocks of a custom archive. Each block (each
// large object in a BLOBS block) is one compressed stream cut into chunks; feed() takes the
// chunks in order and hands the inflated bytes to a callback, end() says whether the stream
// ended exactly at the block's terminator.
#include <dolibak/io/io.hpp>
#include <dolibak/pgdump/archive.hpp>

#include <functional>
#include <memory>
#include <string>

namespace dolibak::pgdump::detail {

class Inflater {
public:
    using Output = std::function<void(io::Bytes)>;
    virtual ~Inflater() = default;
    /// Feeds compressed bytes; returns an error text (empty when fine).
    virtual std::string feed(io::Bytes in, const Output& out) = 0;
    /// The stream is over (terminator reached): returns an error text unless the compressed
    /// stream ended properly (an empty stream, no byte at all, is accepted).
    virtual std::string end() = 0;
};

/// A decompressor for `c`; nullptr when the algorithm is not supported.
std::unique_ptr<Inflater> make_inflater(Compression c);

}  // namespace dolibak::pgdump::detail
