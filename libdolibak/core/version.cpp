#include <dolibak/core/version.hpp>

namespace dolibak {

std::string_view version() noexcept {
    return DOLIBAK_VERSION_STRING;
}

}  // namespace dolibak
