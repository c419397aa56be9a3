#pragma once
// Helpers shared by the Prometheus textfile writers (status.cpp, backup_metrics.cpp).
#include <dolibak/core/timestamp.hpp>

#include <fmt/core.h>

#include <string>
#include <string_view>

namespace dolibak::job::metrics {

/// A label value escaped as the text exposition format wants (\\, \", \n).
inline std::string label_value(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

inline double epoch(TimePoint t) {
    return static_cast<double>(t.time_since_epoch().count());
}

/// Appends "# HELP" and "# TYPE" lines.
inline void describe(std::string& out, std::string_view name, std::string_view type,
                     std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace dolibak::job::metrics
