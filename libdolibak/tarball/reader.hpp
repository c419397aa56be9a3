#pragma once
// Private: a libarchive reader fed by an io::Source (gzip, zstd or no compression; tar formats).
// gzip and zstd are decoded here (zlib, libzstd) and libarchive reads the plain tar stream:
// libarchive does not check the gzip CRC-32 and length trailer, and it stops reading at the
// tar end marker, so neither the trailer nor what follows would be checked otherwise.
#include "tarball/archive_handle.hpp"

#include <dolibak/io/io.hpp>
#include <dolibak/tarball/lister.hpp>

#include <array>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace dolibak::tarball::detail {

/// The type of an entry read by libarchive (hard links first: they carry a file type too).
EntryType entry_type(archive_entry* e);

class SourceReader {
public:
    explicit SourceReader(io::Source& source);
    ~SourceReader();
    SourceReader(const SourceReader&) = delete;
    SourceReader& operator=(const SourceReader&) = delete;
    archive* get() const noexcept { return a_.get(); }
    /// Bytes read from the source so far.
    std::uint64_t source_bytes() const noexcept { return read_.bytes(); }
    /// Throws the source's own error if it failed, else a FormatError with `what`, libarchive's
    /// message and the offset in the (compressed) input.
    [[noreturn]] void fail(const std::string& what);
    /// archive_read_next_header with errors turned into exceptions; false at the end.
    bool next(archive_entry** entry);
    /// Reads the current entry's data; returns 0 at its end.
    std::size_t read_data(std::vector<std::byte>& buffer, const std::string& path);
    /// After next() returned false: reads the input to its end. Only the tar's zero padding may
    /// follow the end marker, and the compression stream must end cleanly (gzip trailer).
    void finish();
    std::string compression() const;

private:
    static la_ssize_t on_read(archive* a, void* self, const void** out);
    std::size_t read_decoded(io::MutableBytes buf);
    ScopedUtf8Locale locale_;
    io::Source& source_;
    io::ByteCounter read_;        // bytes read from source_
    io::ObservedSource counted_;  // source_, counted by read_
    std::string compression_ = "none";
    std::unique_ptr<io::Source> replay_;             // counted_ with its first bytes read again
    std::unique_ptr<io::Source> decoder_;            // gunzip or zstd over replay_, if compressed
    io::Source* decoded_ = nullptr;                  // the plain tar stream
    std::array<std::vector<std::byte>, 2> buffers_;  // handed to libarchive in turn
    std::array<std::size_t, 2> lengths_{0, 0};
    unsigned current_ = 1;
    std::uint64_t handed_ = 0;
    std::exception_ptr error_;
    ReadArchive a_;
};

}  // namespace dolibak::tarball::detail
