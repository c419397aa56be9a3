#pragma once
// The library's version, at compile time (macros) and at run time (the loaded library).
#include <dolibak/core/export.hpp>
#include <dolibak/core/version_config.hpp>

#include <string_view>

namespace dolibak {

/// Version of the libdolibak that is loaded, e.g. "0.1.0".
DOLIBAK_API std::string_view version() noexcept;

}  // namespace dolibak
