# Finds BoringSSL as Debian ships it (android-libboringssl-dev): headers in
# /usr/include/android, libraries in /usr/lib/<multiarch>/android. The paths
# are searched exclusively so that the system OpenSSL can never be picked up
# instead, and the include directory is put first so <openssl/...> resolves
# to BoringSSL even when libssl-dev is installed too.
#
# Defines BoringSSL::ssl and BoringSSL::crypto, and BORINGSSL_LIBRARY_DIR
# (needed in the runtime path, since the directory is not a linker default).

set(_bssl_arch "${CMAKE_LIBRARY_ARCHITECTURE}")
if(NOT _bssl_arch)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-multiarch
                  OUTPUT_VARIABLE _bssl_arch OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()

find_path(BORINGSSL_INCLUDE_DIR openssl/is_boringssl.h
          PATHS /usr/include/android NO_DEFAULT_PATH)
find_library(BORINGSSL_SSL_LIBRARY NAMES ssl
             PATHS /usr/lib/${_bssl_arch}/android NO_DEFAULT_PATH)
find_library(BORINGSSL_CRYPTO_LIBRARY NAMES crypto
             PATHS /usr/lib/${_bssl_arch}/android NO_DEFAULT_PATH)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(BoringSSL
  REQUIRED_VARS BORINGSSL_INCLUDE_DIR BORINGSSL_SSL_LIBRARY BORINGSSL_CRYPTO_LIBRARY
  FAIL_MESSAGE "BoringSSL not found in /usr/include/android and /usr/lib/${_bssl_arch}/android: install the Debian package android-libboringssl-dev (run `make deps`)")

if(BoringSSL_FOUND AND NOT TARGET BoringSSL::crypto)
  get_filename_component(BORINGSSL_LIBRARY_DIR "${BORINGSSL_CRYPTO_LIBRARY}" DIRECTORY)
  add_library(BoringSSL::crypto SHARED IMPORTED)
  set_target_properties(BoringSSL::crypto PROPERTIES
    IMPORTED_LOCATION "${BORINGSSL_CRYPTO_LIBRARY}"
    IMPORTED_NO_SONAME FALSE
    INTERFACE_INCLUDE_DIRECTORIES "${BORINGSSL_INCLUDE_DIR}")
  add_library(BoringSSL::ssl SHARED IMPORTED)
  set_target_properties(BoringSSL::ssl PROPERTIES
    IMPORTED_LOCATION "${BORINGSSL_SSL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${BORINGSSL_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES BoringSSL::crypto)
  # The directory is not on the loader's default path: binaries carry it in
  # their runtime path, both in the build tree and when installed.
  list(APPEND CMAKE_BUILD_RPATH "${BORINGSSL_LIBRARY_DIR}")
  list(APPEND CMAKE_INSTALL_RPATH "${BORINGSSL_LIBRARY_DIR}")
endif()
mark_as_advanced(BORINGSSL_INCLUDE_DIR BORINGSSL_SSL_LIBRARY BORINGSSL_CRYPTO_LIBRARY)
