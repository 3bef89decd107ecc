# Run by `cmake --install`, not at configure time: the systemd unit names the
# binary and the config where this install puts them, so that
# `cmake --install build --prefix P` gets P's paths without a new configure.
# DESTDIR (from the environment) is left out of the paths, as a package needs.
#
# In: WSEDGE_SOURCE_DIR, WSEDGE_BINARY_DIR, and WSEDGE_BINDIR, WSEDGE_SYSCONFDIR,
# WSEDGE_DOCDIR as GNUInstallDirs has them (relative to the prefix, or absolute).

function(wsedge_full_dir out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

wsedge_full_dir(WSEDGE_BIN_DIR "${WSEDGE_BINDIR}")
wsedge_full_dir(WSEDGE_DOC_DIR "${WSEDGE_DOCDIR}")
# As GNUInstallDirs' CMAKE_INSTALL_FULL_SYSCONFDIR: a package for /usr keeps its config in /etc.
if(CMAKE_INSTALL_PREFIX MATCHES "^/(usr/?)?$" AND NOT IS_ABSOLUTE "${WSEDGE_SYSCONFDIR}")
  set(WSEDGE_CONF_DIR "/${WSEDGE_SYSCONFDIR}/wsedge")
else()
  wsedge_full_dir(WSEDGE_CONF_DIR "${WSEDGE_SYSCONFDIR}/wsedge")
endif()

configure_file("${WSEDGE_SOURCE_DIR}/conf/systemd/wsedge.service.in"
               "${WSEDGE_BINARY_DIR}/conf/systemd/wsedge.service" @ONLY)
file(INSTALL "${WSEDGE_BINARY_DIR}/conf/systemd/wsedge.service"
     DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")

# The example is a starting point: an operator's edited config survives a reinstall.
if(EXISTS "$ENV{DESTDIR}${WSEDGE_CONF_DIR}/wsedge.yaml")
  message(STATUS "Keeping: $ENV{DESTDIR}${WSEDGE_CONF_DIR}/wsedge.yaml")
else()
  file(INSTALL "${WSEDGE_SOURCE_DIR}/conf/examples/echo.yaml" DESTINATION "${WSEDGE_CONF_DIR}"
       RENAME wsedge.yaml)
endif()
