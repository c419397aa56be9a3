#pragma once
// Each bind_*.cpp file adds its part of the extension through a static Registrar; the
// module's init function runs them in order of their `order`.
#include <pybind11/pybind11.h>

#include <functional>
#include <vector>

namespace dolibak::python {

struct Binding {
    int order;  // lower first: errors (0) before layers that raise them
    std::function<void(pybind11::module_&)> add;
};

std::vector<Binding>& bindings();

struct Registrar {
    Registrar(int order, std::function<void(pybind11::module_&)> add) {
        bindings().push_back({order, std::move(add)});
    }
};

}  // namespace dolibak::python
