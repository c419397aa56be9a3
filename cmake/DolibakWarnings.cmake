add_library(dolibak_warnings INTERFACE)
target_compile_options(dolibak_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
  -Wnull-dereference -Wimplicit-fallthrough -Wformat=2)
if(DOLIBAK_WERROR)
  target_compile_options(dolibak_warnings INTERFACE -Werror)
endif()

add_library(dolibak_sanitizers INTERFACE)
if(DOLIBAK_SANITIZE)
  target_compile_options(dolibak_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(dolibak_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
