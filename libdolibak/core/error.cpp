#include <dolibak/core/error.hpp>

#include <cstring>

namespace dolibak {

Error::Error(const std::string& message) : std::runtime_error(message), message_(message) {
    rebuild();
}

Error& Error::with_context(std::string context) {
    context_.insert(context_.begin(), std::move(context));
    rebuild();
    return *this;
}

const char* Error::what() const noexcept {
    return full_.c_str();
}

void Error::rebuild() {
    full_.clear();
    for (const auto& c : context_) {
        full_ += c;
        full_ += ": ";
    }
    full_ += message_;
}

std::string errno_text(int e) {
    char buf[256];
    // GNU strerror_r returns a pointer that may or may not be buf.
    const char* s = strerror_r(e, buf, sizeof buf);
    return s ? std::string(s) : std::string("errno ") + std::to_string(e);
}

IoError::IoError(const std::string& what, const std::string& path, int errno_value)
    : Error(what + (path.empty() ? std::string() : " '" + path + "'") + ": " +
            errno_text(errno_value)),
      path_(path),
      errno_(errno_value) {}

ProcessError::ProcessError(const std::string& message, std::string program, int exit_code,
                           int signal, std::string stderr_tail)
    : Error(message + (stderr_tail.empty() ? std::string() : "\n--- stderr ---\n" + stderr_tail)),
      program_(std::move(program)),
      exit_code_(exit_code),
      signal_(signal),
      stderr_tail_(std::move(stderr_tail)) {}

FormatError::FormatError(const std::string& message, std::optional<std::uint64_t> offset)
    : Error(offset ? message + " (at byte " + std::to_string(*offset) + ")" : message),
      offset_(offset) {}

RemoteError::RemoteError(const std::string& message, Details details)
    : Error(message), details_(std::move(details)) {}

static std::string join_differences(const std::string& message,
                                    const std::vector<std::string>& differences) {
    std::string out = message;
    for (const auto& d : differences) {
        out += "\n  - ";
        out += d;
    }
    return out;
}

VerificationError::VerificationError(const std::string& message,
                                     std::vector<std::string> differences)
    : Error(join_differences(message, differences)), differences_(std::move(differences)) {}

}  // namespace dolibak
