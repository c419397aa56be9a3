#pragma once
// Private: a libarchive reader fed by an io::Source (gzip, zstd or no compression; tar formats).
// gzip is decompressed here with zlib rather than by libarchive, because libarchive does not
// check the gzip CRC-32 and length trailer: the verifier must catch a flipped bit.
#include "tarball/archive_handle.hpp"

#include <dolibak/io.hpp>
#include <dolibak/tarball/lister.hpp>

#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace dolibak::tarball::detail {

/// The type of an entry read by libarchive (hard links first: they carry a file type too).
EntryType entry_type(archive_entry* e);

class GunzipSource;

class SourceReader {
public:
    explicit SourceReader(io::Source& source);
    ~SourceReader();
    SourceReader(const SourceReader&) = delete;
    SourceReader& operator=(const SourceReader&) = delete;
    archive* get() const noexcept { return a_.get(); }
    /// Bytes read from the source so far.
    std::uint64_t source_bytes() const noexcept { return total_; }
    /// Throws the source's own error if it failed, else a FormatError with `what`, libarchive's
    /// message and the offset in the (compressed) input.
    [[noreturn]] void fail(const std::string& what);
    /// archive_read_next_header with errors turned into exceptions; false at the end.
    bool next(archive_entry** entry);
    /// Reads the current entry's data; returns 0 at its end.
    std::size_t read_data(std::vector<std::byte>& buffer, const std::string& path);
    std::string compression() const;

private:
    static la_ssize_t on_read(archive* a, void* self, const void** out);
    ScopedUtf8Locale locale_;
    io::Source& source_;
    std::vector<std::byte> buffer_;
    std::size_t pending_ = 0;  // bytes of the first read not yet handed to libarchive
    std::uint64_t total_ = 0;
    std::unique_ptr<GunzipSource> gunzip_;
    std::exception_ptr error_;
    ReadArchive a_;
};

}  // namespace dolibak::tarball::detail
