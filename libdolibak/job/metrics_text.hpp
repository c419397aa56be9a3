#pragma once
// Helpers shared by the Prometheus textfile writers (status.cpp, backup_metrics.cpp).
#include <dolibak/core/timestamp.hpp>

#include <fmt/core.h>

#include <string>
#include <string_view>
#include <type_traits>

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

/// A Prometheus textfile of gauges, every sample labelled with the store. Floating-point
/// values (times, durations) are written without decimals.
class Gauges {
public:
    explicit Gauges(std::string_view store_url)
        : store_("store=\"" + label_value(store_url) + "\"") {}

    /// The "# HELP" and "# TYPE" lines of a gauge, before its samples.
    void describe(std::string_view name, std::string_view help) {
        text_ += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
    }
    /// One sample; `labels` are more labels ("half=\"db\"") or empty.
    template <class V>
    void sample(std::string_view name, V value, std::string_view labels = {}) {
        text_ += fmt::format("{}{{{}{}{}}} ", name, store_, labels.empty() ? "" : ",", labels);
        if constexpr (std::is_floating_point_v<V>)
            text_ += fmt::format("{:.0f}\n", value);
        else
            text_ += fmt::format("{}\n", value);
    }
    /// A gauge with one sample.
    template <class V>
    void gauge(std::string_view name, std::string_view help, V value) {
        describe(name, help);
        sample(name, value);
    }
    /// The label of a half ("half=\"docs\"").
    static std::string half(std::string_view name) { return "half=\"" + label_value(name) + "\""; }
    const std::string& text() const noexcept { return text_; }

private:
    std::string store_;
    std::string text_;
};

}  // namespace dolibak::job::metrics
