#pragma once
// Sources and sinks over files and descriptors.
#include <dolibak/core/export.hpp>
#include <dolibak/io/fd.hpp>
#include <dolibak/io/io.hpp>

#include <filesystem>
#include <string>

namespace dolibak::io {

/// Reads a descriptor (a file, a pipe). Retries on EINTR.
class DOLIBAK_API FdSource : public Source {
public:
    /// `name` is used in error messages (a path, "pg_dump stdout").
    FdSource(UniqueFd fd, std::string name);
    std::size_t read(MutableBytes buf) override;
    int fd() const noexcept { return fd_.get(); }
    void close() noexcept { fd_.reset(); }

private:
    UniqueFd fd_;
    std::string name_;
};

/// Opens a regular file read-only (without updating its access time where allowed).
class DOLIBAK_API FileSource final : public FdSource {
public:
    explicit FileSource(const std::filesystem::path& path);
};

/// Writes to a descriptor; finish() closes it (reporting close errors); abort() closes it.
/// Writing to a pipe whose reader is gone raises IoError(EPIPE), never SIGPIPE.
class DOLIBAK_API FdSink : public Sink {
public:
    FdSink(UniqueFd fd, std::string name);
    void write(Bytes data) override;
    void finish() override;
    void abort() noexcept override;
    bool is_open() const noexcept { return static_cast<bool>(fd_); }

private:
    UniqueFd fd_;
    std::string name_;
};

/// Writes a file so that it appears complete or not at all: data goes to a temporary file in
/// the same directory; finish() fsyncs it, renames it over `path` and fsyncs the directory.
/// abort() (or destruction without finish) removes the temporary file.
class DOLIBAK_API AtomicFileSink final : public Sink {
public:
    explicit AtomicFileSink(std::filesystem::path path, unsigned mode = 0644);
    ~AtomicFileSink() override;
    AtomicFileSink(const AtomicFileSink&) = delete;
    AtomicFileSink& operator=(const AtomicFileSink&) = delete;

    void write(Bytes data) override;
    void finish() override;
    void abort() noexcept override;
    const std::filesystem::path& temp_path() const noexcept { return temp_; }

private:
    std::filesystem::path path_;
    std::filesystem::path temp_;
    UniqueFd fd_;
    bool done_ = false;
};

/// fsync of a directory (after a rename or unlink in it).
DOLIBAK_API void fsync_directory(const std::filesystem::path& dir);

}  // namespace dolibak::io
