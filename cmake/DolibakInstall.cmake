include(CMakePackageConfigHelpers)

install(TARGETS dolibak EXPORT dolibakTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/dolibak DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/generated/dolibak/core/version_config.hpp
  ${PROJECT_BINARY_DIR}/generated/dolibak/core/export.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dolibak/core)
if(DOLIBAK_BUILD_CLI)
  install(TARGETS dolibak_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

set(DOLIBAK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/dolibak)
install(EXPORT dolibakTargets NAMESPACE dolibak:: DESTINATION ${DOLIBAK_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/dolibakConfig.cmake.in
  ${PROJECT_BINARY_DIR}/dolibakConfig.cmake INSTALL_DESTINATION ${DOLIBAK_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/dolibakConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/dolibakConfig.cmake ${PROJECT_BINARY_DIR}/dolibakConfigVersion.cmake
  DESTINATION ${DOLIBAK_CMAKE_DIR})

# Relocatable: the prefix is found from where the .pc file is installed.
file(RELATIVE_PATH DOLIBAK_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(${PROJECT_SOURCE_DIR}/cmake/dolibak.pc.in ${PROJECT_BINARY_DIR}/dolibak.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/dolibak.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
