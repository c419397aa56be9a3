#pragma once
// Private: observers the job puts in every transfer: progress events and cancellation.
#include <dolibak/core/cancel.hpp>
#include <dolibak/io/io.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace dolibak::job::detail {

/// Emits a progress event at most every `interval`, and throws Cancelled as soon as the token
/// is set (the pipeline then aborts its sink and stops its children).
class ProgressObserver final : public io::Observer {
public:
    using Emit = std::function<void(std::uint64_t bytes)>;
    ProgressObserver(Emit emit, std::shared_ptr<CancelToken> cancel, std::string what,
                     std::chrono::milliseconds interval = std::chrono::milliseconds(500))
        : emit_(std::move(emit)),
          cancel_(std::move(cancel)),
          what_(std::move(what)),
          interval_(interval) {}

    void update(io::Bytes data) override {
        if (cancel_) cancel_->check(what_);
        bytes_ += data.size();
        const auto now = std::chrono::steady_clock::now();
        if (emit_ && now - last_ >= interval_) {
            last_ = now;
            emit_(bytes_);
        }
    }
    std::uint64_t bytes() const noexcept { return bytes_; }

private:
    Emit emit_;
    std::shared_ptr<CancelToken> cancel_;
    std::string what_;
    std::chrono::milliseconds interval_;
    std::uint64_t bytes_ = 0;
    std::chrono::steady_clock::time_point last_{};
};

}  // namespace dolibak::job::detail
