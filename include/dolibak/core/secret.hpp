#pragma once
// A string that must never reach output, logs, errors or argv: S3 secret keys, session tokens,
// database passwords. It has no implicit conversion and prints as "***".
#include <dolibak/core/export.hpp>
#include <ostream>
#include <string>
#include <string_view>

namespace dolibak {

class DOLIBAK_API Secret {
public:
    Secret() = default;
    explicit Secret(std::string value) : value_(std::move(value)) {}
    Secret(const Secret&) = default;
    Secret& operator=(const Secret&) = default;
    Secret(Secret&&) noexcept = default;
    Secret& operator=(Secret&&) noexcept = default;
    ~Secret();  // wipes the bytes

    /// The value itself: call only where it is handed to the code that needs it.
    const std::string& reveal() const noexcept { return value_; }
    bool empty() const noexcept { return value_.empty(); }

    friend bool operator==(const Secret& a, const Secret& b) noexcept {
        return a.value_ == b.value_;
    }
    friend std::ostream& operator<<(std::ostream& os, const Secret&) { return os << "***"; }

private:
    std::string value_;
};

/// Replaces every occurrence of each non-empty secret in `text` by "***".
DOLIBAK_API std::string redact(std::string text, std::initializer_list<std::string_view> secrets);

}  // namespace dolibak
