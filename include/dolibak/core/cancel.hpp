#pragma once
// Cooperative cancellation: a flag that a signal handler (SIGINT/SIGTERM in the CLI) or a
// caller sets, and that long operations check between blocks. Setting it is async-signal-safe.
#include <atomic>
#include <dolibak/core/export.hpp>
#include <string>

namespace dolibak {

class DOLIBAK_API CancelToken {
public:
    /// Requests cancellation; `signal` (e.g. SIGTERM) is remembered for the exit status.
    void cancel(int signal = 0) noexcept {
        signal_.store(signal, std::memory_order_relaxed);
        cancelled_.store(true, std::memory_order_release);
    }
    bool cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }
    int signal() const noexcept { return signal_.load(std::memory_order_relaxed); }
    /// Throws dolibak::Cancelled ("interrupted by SIGTERM while <what>") when cancelled.
    void check(const std::string& what) const;

private:
    std::atomic<bool> cancelled_{false};
    std::atomic<int> signal_{0};
};

}  // namespace dolibak
