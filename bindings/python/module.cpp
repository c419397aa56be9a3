#include "registry.hpp"

#include <dolibak/core/version.hpp>

#include <algorithm>

namespace dolibak::python {
std::vector<Binding>& bindings() {
    static std::vector<Binding> all;
    return all;
}
}  // namespace dolibak::python

PYBIND11_MODULE(_core, m) {
    m.doc() = "dolibak: backups of a Dolibarr instance to S3 or a directory (native core)";
    m.attr("__version__") = std::string(dolibak::version());
    auto& all = dolibak::python::bindings();
    std::stable_sort(all.begin(), all.end(),
                     [](const auto& a, const auto& b) { return a.order < b.order; });
    for (auto& b : all) b.add(m);
}
