#pragma once
// A JSON document of the library (to_json(), summaries) as plain Python data.
#include <pybind11/pybind11.h>

#include <string>

namespace dolibak::python {

/// json.loads(text): the library writes the JSON, Python gets dicts and lists.
inline pybind11::object json_loads(const std::string& text) {
    return pybind11::module_::import("json").attr("loads")(text);
}

}  // namespace dolibak::python
