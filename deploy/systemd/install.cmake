# Run by `cmake --install` (deploy/CMakeLists.txt): writes the systemd unit with the paths of the
# install-time prefix, and the sample config and secrets file unless they are there already (an
# upgrade never overwrites what ops edited).
# In: SOURCE_DIR, STAGE_DIR (a build folder), BINDIR, SYSCONFDIR (as GNUInstallDirs gives
# them), UNITDIR (prefix-relative).
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(IS_ABSOLUTE "${SYSCONFDIR}")
  set(etc "${SYSCONFDIR}")
elseif(prefix STREQUAL "/usr")
  set(etc "/etc")  # GNUInstallDirs' rule for a /usr prefix
else()
  set(etc "${prefix}/${SYSCONFDIR}")
endif()
if(IS_ABSOLUTE "${BINDIR}")
  set(TRESSE_BIN "${BINDIR}/tresse-dispatcher")
else()
  set(TRESSE_BIN "${prefix}/${BINDIR}/tresse-dispatcher")
endif()
set(TRESSE_CONF_DIR "${etc}/tresse")

set(staged "${STAGE_DIR}/tresse-dispatcher.service")
configure_file("${SOURCE_DIR}/deploy/systemd/tresse-dispatcher.service.in" "${staged}" @ONLY)
file(INSTALL "${staged}" DESTINATION "${prefix}/${UNITDIR}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

foreach(sample IN ITEMS dispatcher.conf dispatcher.env)
  if(EXISTS "$ENV{DESTDIR}${TRESSE_CONF_DIR}/${sample}")
    message(STATUS "Kept: $ENV{DESTDIR}${TRESSE_CONF_DIR}/${sample}")
    continue()
  endif()
  if(sample STREQUAL "dispatcher.env")
    set(mode OWNER_READ OWNER_WRITE)  # secrets
  else()
    set(mode OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()
  file(INSTALL "${SOURCE_DIR}/deploy/systemd/${sample}" DESTINATION "${TRESSE_CONF_DIR}"
       PERMISSIONS ${mode})
endforeach()
