add_library(dolibak_warnings INTERFACE)
target_compile_options(dolibak_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
  -Wimplicit-fallthrough -Wformat=2)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports false positives inside libstdc++'s std::string at -O3 (GCC bug 105329).
  target_compile_options(dolibak_warnings INTERFACE -Wno-restrict)
endif()
if(DOLIBAK_WERROR)
  target_compile_options(dolibak_warnings INTERFACE -Werror)
endif()

add_library(dolibak_sanitizers INTERFACE)
if(DOLIBAK_FUZZ)
  # The library is instrumented for libFuzzer's coverage feedback too (fuzzer-no-link: the
  # fuzz targets bring libFuzzer's main); otherwise the fuzzer would only see its harness.
  target_compile_options(dolibak_sanitizers INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  target_link_options(dolibak_sanitizers INTERFACE -fsanitize=address,undefined)
elseif(DOLIBAK_SANITIZE)
  target_compile_options(dolibak_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(dolibak_sanitizers INTERFACE -fsanitize=address,undefined)
endif()

# GCC 12 at -O3 reports false positives inside libstdc++'s std::string (GCC bugs 105329,
# 105651): -Wrestrict and -Wnull-dereference on plain string concatenation and
# vector<string>::insert. Keep them as warnings there, not errors.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(dolibak_warnings INTERFACE -Wno-error=restrict -Wno-error=null-dereference)
endif()
