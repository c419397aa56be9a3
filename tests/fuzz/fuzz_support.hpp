#pragma once
// Shared by the fuzz harnesses.
#include <dolibak/core/error.hpp>

namespace dolibak::fuzz {

/// Runs `f`: an input it accepts or refuses with a dolibak::Error is fine; any other exception
/// escapes to libFuzzer and is a finding.
template <typename F>
void refused_or_accepted(F&& f) {
    try {
        f();
    } catch (const dolibak::Error&) {
    }
}

}  // namespace dolibak::fuzz
