#pragma once
// JSON string literals written straight into a text buffer, for output streamed without
// building a document first (retention::write_json). The text is what nlohmann::json's
// dump() writes for the same string: `"` and `\` escaped, \b \f \n \r \t, other control
// characters as \u00xx (lower-case hex), everything else (UTF-8 included) as is.
#include <dolibak/core/export.hpp>

#include <string>
#include <string_view>

namespace dolibak {

/// Appends `s` as a quoted JSON string to `out`. Throws Error (naming the byte's offset) when
/// `s` is not well-formed UTF-8; `out` may then hold part of the string.
DOLIBAK_API void append_json_string(std::string& out, std::string_view s);

}  // namespace dolibak
