# Install rules for everything but the binary (systemd unit, example config, man page, bash completion,
# Prometheus rules, Grafana dashboard), the Debian package (`cpack -G DEB`) and the packaging tests.
#
# Include it from the top-level CMakeLists.txt after project() and the binary's install(TARGETS):
#   include(Packaging)
# and, where the tests are registered (after include(CTest), inside if(BUILD_TESTING)):
#   c4c_add_packaging_tests()
#
# Building the package (the config must land in /etc, so the prefix must be /usr):
#   cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build && (cd build && cpack -G DEB)
# Needs dpkg-dev (dpkg-shlibdeps computes the library dependencies) and gzip.
include_guard(GLOBAL)
include(GNUInstallDirs)

get_filename_component(C4C_PACKAGING_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(C4C_PACKAGE_NAME c4c-alm-collector)

# --- Where things go. With prefix /usr, GNUInstallDirs' full sysconfdir is /etc (not /usr/etc):
# use that absolute path so both `cmake --install` and the package put the config in /etc. Any
# other prefix keeps the relative etc/ under it (e.g. /usr/local/etc, or a staging --prefix).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(C4C_CONFIG_INSTALL_DIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/${C4C_PACKAGE_NAME}")
else()
  set(C4C_CONFIG_INSTALL_DIR "${CMAKE_INSTALL_SYSCONFDIR}/${C4C_PACKAGE_NAME}")
endif()
set(C4C_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Install directory of the systemd unit, relative to the prefix")
set(C4C_DATA_INSTALL_DIR "${CMAKE_INSTALL_DATADIR}/${C4C_PACKAGE_NAME}")

install(FILES "${C4C_PACKAGING_ROOT}/systemd/c4c-alm-collector.service"
        DESTINATION "${C4C_SYSTEMD_UNIT_DIR}")

# The example config is written separately; a tree without it still configures and installs.
set(C4C_CONFIG_FILE "${C4C_PACKAGING_ROOT}/conf/c4c-alm-collector.toml")
if(EXISTS "${C4C_CONFIG_FILE}")
  install(FILES "${C4C_CONFIG_FILE}" DESTINATION "${C4C_CONFIG_INSTALL_DIR}")
else()
  message(WARNING "conf/c4c-alm-collector.toml not found: neither installed nor packaged")
endif()

# Man page, gzip'ed as Debian wants it (-n: no name or timestamp inside, so the build is
# reproducible); as plain roff where there is no gzip.
set(C4C_MAN_PAGE "${C4C_PACKAGING_ROOT}/doc/c4c-alm-collector.8")
find_program(C4C_GZIP gzip)
if(C4C_GZIP)
  set(C4C_MAN_PAGE_GZ "${CMAKE_CURRENT_BINARY_DIR}/man/c4c-alm-collector.8.gz")
  add_custom_command(
    OUTPUT "${C4C_MAN_PAGE_GZ}"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${CMAKE_CURRENT_BINARY_DIR}/man"
    COMMAND "${CMAKE_COMMAND}" -E copy "${C4C_MAN_PAGE}" "${CMAKE_CURRENT_BINARY_DIR}/man/c4c-alm-collector.8"
    COMMAND "${C4C_GZIP}" -9nf "${CMAKE_CURRENT_BINARY_DIR}/man/c4c-alm-collector.8"
    DEPENDS "${C4C_MAN_PAGE}"
    COMMENT "Compressing the man page"
    VERBATIM)
  add_custom_target(c4c_man_page ALL DEPENDS "${C4C_MAN_PAGE_GZ}")
  install(FILES "${C4C_MAN_PAGE_GZ}" DESTINATION "${CMAKE_INSTALL_MANDIR}/man8")
else()
  install(FILES "${C4C_MAN_PAGE}" DESTINATION "${CMAKE_INSTALL_MANDIR}/man8")
endif()

# Bash completion of the options and operator commands, where bash-completion loads it on demand.
install(FILES "${C4C_PACKAGING_ROOT}/conf/bash-completion/c4c-alm-collector"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions")

# Monitoring: /usr/share/c4c-alm-collector/{alerts.yml,*.json}, to be copied or referenced by the
# Prometheus and Grafana set-ups.
file(GLOB C4C_GRAFANA_DASHBOARDS CONFIGURE_DEPENDS "${C4C_PACKAGING_ROOT}/conf/grafana/*.json")
install(FILES "${C4C_PACKAGING_ROOT}/conf/prometheus/alerts.yml" ${C4C_GRAFANA_DASHBOARDS}
        DESTINATION "${C4C_DATA_INSTALL_DIR}")

# Debian wants the licence as /usr/share/doc/<package>/copyright.
if(EXISTS "${C4C_PACKAGING_ROOT}/LICENSE")
  install(FILES "${C4C_PACKAGING_ROOT}/LICENSE" RENAME copyright
          DESTINATION "${CMAKE_INSTALL_DOCDIR}")
endif()

# --- Debian package.
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "cpack -G DEB needs -DCMAKE_INSTALL_PREFIX=/usr (now ${CMAKE_INSTALL_PREFIX})")
endif()

set(CPACK_PACKAGE_NAME "${C4C_PACKAGE_NAME}")
set(C4C_PACKAGE_MAINTAINER "c4c-alm-collector maintainers <c4c-alm-collector@example.com>" CACHE STRING
    "Maintainer field of the Debian package")
set(CPACK_PACKAGE_VENDOR "c4c-alm-collector maintainers")
set(CPACK_PACKAGE_CONTACT "${C4C_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "SAP Cloud for Customer to SAP Cloud ALM monitoring collector")
# Becomes the control file's extended description, one line per line.
string(JOIN "\n" CPACK_PACKAGE_DESCRIPTION
  "A daemon that polls SAP Cloud for Customer (C4C) tenants for web-service"
  "message monitoring, response time analysis and business object changes,"
  "and delivers them as OpenTelemetry logs to SAP Cloud ALM (integration,"
  "real user and business process monitoring), at least once, through a"
  "durable on-disk outbox."
  ""
  "It runs as a sandboxed systemd service and exposes Prometheus metrics;"
  "alerting rules and a Grafana dashboard are included.")
if(NOT CPACK_GENERATOR)
  set(CPACK_GENERATOR DEB)
endif()
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_PACKAGE_NAME "${C4C_PACKAGE_NAME}")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies come from dpkg-shlibdeps (dpkg-dev) run over the binary; the unit's
# sandboxing options need systemd 247 or later.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd (>= 247)")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus")

# conffiles: dpkg keeps local edits of the config across upgrades (and asks on conflicts).
set(C4C_DEBIAN_CONTROL_DIR "${CMAKE_CURRENT_BINARY_DIR}/debian")
file(MAKE_DIRECTORY "${C4C_DEBIAN_CONTROL_DIR}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${C4C_PACKAGING_ROOT}/systemd/debian/postinst"
    "${C4C_PACKAGING_ROOT}/systemd/debian/prerm"
    "${C4C_PACKAGING_ROOT}/systemd/debian/postrm")
if(EXISTS "${C4C_CONFIG_FILE}")
  file(WRITE "${C4C_DEBIAN_CONTROL_DIR}/conffiles"
       "/etc/${C4C_PACKAGE_NAME}/c4c-alm-collector.toml\n")
  list(APPEND CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${C4C_DEBIAN_CONTROL_DIR}/conffiles")
endif()
# Maintainer scripts 0755 and conffiles 0644 whatever the checkout's modes (lintian insists).
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# A package built with another prefix would put the config under /usr/etc: refuse it.
set(C4C_CPACK_OPTIONS "${CMAKE_CURRENT_BINARY_DIR}/C4CCPackOptions.cmake")
file(WRITE "${C4C_CPACK_OPTIONS}"
     "if(CPACK_GENERATOR STREQUAL \"DEB\" AND NOT \"${CMAKE_INSTALL_PREFIX}\" STREQUAL \"/usr\")\n"
     "  message(FATAL_ERROR \"The DEB package needs a build configured with -DCMAKE_INSTALL_PREFIX=/usr \"\n"
     "                      \"(this one has ${CMAKE_INSTALL_PREFIX}), or its config would not be in /etc.\")\n"
     "endif()\n")
set(CPACK_PROJECT_CONFIG_FILE "${C4C_CPACK_OPTIONS}")

include(CPack)

# --- Packaging tests: the unit's sandboxing score and `systemd-analyze verify`, and the alert
# rules' promtool checks and unit tests. Exit 77 (tool missing) is reported as skipped; the
# project's install script installs systemd, man-db and prometheus so CI runs them.
function(c4c_add_packaging_tests)
  find_program(C4C_BASH bash REQUIRED)
  add_test(NAME packaging.systemd_unit
           COMMAND "${C4C_BASH}" "${C4C_PACKAGING_ROOT}/tests/packaging/check_systemd_unit.sh"
                   "${C4C_PACKAGING_ROOT}")
  add_test(NAME packaging.alert_rules
           COMMAND "${C4C_BASH}" "${C4C_PACKAGING_ROOT}/tests/packaging/check_alert_rules.sh"
                   "${C4C_PACKAGING_ROOT}")
  # Builds the .deb, installs it (as root, unless the package is already installed here), starts the
  # installed daemon against the simulator, purges it.
  find_package(Python3 3.9 REQUIRED COMPONENTS Interpreter)
  add_test(NAME packaging.deb
           COMMAND ${Python3_EXECUTABLE} "${C4C_PACKAGING_ROOT}/tests/packaging/check_deb.py" "${PROJECT_BINARY_DIR}")
  set_tests_properties(packaging.deb PROPERTIES
    ENVIRONMENT "C4C_SIM_BIN=${PROJECT_BINARY_DIR}/tests/c4c-sim;C4C_BIN=$<TARGET_FILE:c4c-alm-collector>")
  set_tests_properties(packaging.systemd_unit packaging.alert_rules packaging.deb PROPERTIES
                       LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 300)
endfunction()
