#pragma once
// One error hierarchy for the whole library. Every error carries a message and a chain of
// context lines ("while uploading db/20261123T010000Z.dump", ...) added as it travels up.
// Messages never contain secrets: credentials are held in dolibak::Secret, which does not
// format its value.
#include <cstdint>
#include <dolibak/core/export.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace dolibak {

class DOLIBAK_API Error : public std::runtime_error {
public:
    explicit Error(const std::string& message);

    /// Adds a line of context ("while ..."); the outermost context is shown first by what().
    Error& with_context(std::string context);
    const std::vector<std::string>& context() const noexcept { return context_; }
    /// The message without its context.
    const std::string& message() const noexcept { return message_; }
    /// Context lines (outermost first) joined with ": " and then the message.
    const char* what() const noexcept override;

private:
    void rebuild();
    std::string message_;
    std::vector<std::string> context_;
    std::string full_;
};

/// Bad input from the user or the configuration: a flag, a URL, a time stamp, a setting.
class DOLIBAK_API ConfigError : public Error {
public:
    using Error::Error;
};

/// A system call on a path or descriptor failed.
class DOLIBAK_API IoError : public Error {
public:
    IoError(const std::string& what, const std::string& path, int errno_value);
    const std::string& path() const noexcept { return path_; }
    int error_number() const noexcept { return errno_; }

private:
    std::string path_;
    int errno_;
};

/// A child process could not be started, or exited badly.
class DOLIBAK_API ProcessError : public Error {
public:
    ProcessError(const std::string& message, std::string program, int exit_code, int signal,
                 std::string stderr_tail);
    const std::string& program() const noexcept { return program_; }
    /// Exit code, or -1 when the child was killed by a signal or never ran.
    int exit_code() const noexcept { return exit_code_; }
    /// Signal that killed the child, or 0.
    int signal() const noexcept { return signal_; }
    const std::string& stderr_tail() const noexcept { return stderr_tail_; }

private:
    std::string program_;
    int exit_code_;
    int signal_;
    std::string stderr_tail_;
};

/// Data that does not have the expected format (a dump archive, a tar, XML, JSON): carries the
/// byte offset of the first defect when known.
class DOLIBAK_API FormatError : public Error {
public:
    explicit FormatError(const std::string& message,
                         std::optional<std::uint64_t> offset = std::nullopt);
    std::optional<std::uint64_t> offset() const noexcept { return offset_; }

private:
    std::optional<std::uint64_t> offset_;
};

/// A remote service (S3) answered with an error.
class DOLIBAK_API RemoteError : public Error {
public:
    struct Details {
        int http_status = 0;
        std::string code;     // e.g. "SignatureDoesNotMatch"
        std::string message;  // the server's message
        std::string request_id;
        std::string bucket;
        std::string key;
        bool retryable = false;
    };
    RemoteError(const std::string& message, Details details);
    const Details& details() const noexcept { return details_; }

private:
    Details details_;
};

/// A database operation failed (connection, query, restore).
class DOLIBAK_API DatabaseError : public Error {
public:
    using Error::Error;
};

/// A check of restored or stored data found a difference: the data is not what it should be.
class DOLIBAK_API VerificationError : public Error {
public:
    VerificationError(const std::string& message, std::vector<std::string> differences = {});
    const std::vector<std::string>& differences() const noexcept { return differences_; }

private:
    std::vector<std::string> differences_;
};

/// The operation was cancelled (SIGINT/SIGTERM or a caller's request).
class DOLIBAK_API Cancelled : public Error {
public:
    using Error::Error;
};

/// Text of errno `e`, thread-safe.
DOLIBAK_API std::string errno_text(int e);

}  // namespace dolibak
