# Driven by tests/packaging/CMakeLists.txt through `cmake -P`.
#   STEP=install:  cmake --install BUILD_DIR into WORK_DIR/prefix, then check the layout.
#   STEP=consumer: configure, build and run the consumer project against WORK_DIR/prefix with
#                  METHOD=find_package or pkg_config.
cmake_minimum_required(VERSION 3.25)
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}")
  endif()
  message(STATUS "${out}")
endfunction()

if(STEP STREQUAL "install")
  file(REMOVE_RECURSE ${prefix})
  run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

  # The layout integrators and packagers rely on. With the default prefix GNUInstallDirs
  # picks lib/ (lib/<multiarch> only for a /usr prefix, where distro rules win).
  set(expected
    include/tresse/receiver.h
    include/tresse/receiver/key.hpp
    include/tresse/receiver/sign.hpp
    include/tresse/receiver/verify.hpp
    include/tresse/receiver/errc.hpp
    include/tresse/receiver/replay_guard.hpp
    ${LIBDIR}/cmake/TresseWebhooks/TresseWebhooksConfig.cmake
    ${LIBDIR}/cmake/TresseWebhooks/TresseWebhooksConfigVersion.cmake
    ${LIBDIR}/cmake/TresseWebhooks/TresseWebhooksTargets.cmake
    ${LIBDIR}/pkgconfig/tresse-webhooks.pc)
  string(REPLACE "," ";" binaries "${BINARIES}")
  foreach(b IN LISTS binaries)
    list(APPEND expected bin/${b})
  endforeach()
  foreach(f IN LISTS expected)
    if(NOT EXISTS ${prefix}/${f})
      message(FATAL_ERROR "not installed: ${f}")
    endif()
  endforeach()
  # Each program's man page (help2man, at build time), a real one: its name, its flags.
  foreach(b IN LISTS binaries)
    set(page ${prefix}/${MANDIR}/man1/${b}.1)
    if(NOT EXISTS ${page})
      message(FATAL_ERROR "not installed: ${MANDIR}/man1/${b}.1")
    endif()
    file(READ ${page} man)
    string(TOUPPER ${b} title)
    string(LENGTH "${man}" size)
    # help2man's title line names the program; its body holds the --help text, flags included.
    if(NOT man MATCHES "\\.TH ${title} " OR NOT man MATCHES "version" OR size LESS 1000)
      message(FATAL_ERROR "${MANDIR}/man1/${b}.1 is not ${b}'s man page:\n${man}")
    endif()
  endforeach()
  # ... and nothing internal: the CLI11 headers stay in the build.
  if(EXISTS ${prefix}/include/CLI OR EXISTS ${prefix}/include/tresse/cli)
    message(FATAL_ERROR "CLI headers installed")
  endif()
  file(GLOB library ${prefix}/${LIBDIR}/libtresse-receiver.*)
  if(NOT library)
    message(FATAL_ERROR "not installed: ${LIBDIR}/libtresse-receiver.{a,so}")
  endif()
  # Nothing internal leaks into the install.
  file(GLOB_RECURSE internal RELATIVE ${prefix} ${prefix}/include/tresse/common/*)
  if(internal)
    message(FATAL_ERROR "internal headers installed: ${internal}")
  endif()
  message(STATUS "installed layout OK in ${prefix}")

elseif(STEP STREQUAL "consumer")
  set(build ${WORK_DIR}/consumer-${METHOD})
  file(REMOVE_RECURSE ${build})
  set(pc_path ${prefix}/${LIBDIR}/pkgconfig)
  if(DEFINED ENV{PKG_CONFIG_PATH})
    set(pc_path "${pc_path}:$ENV{PKG_CONFIG_PATH}")
  endif()
  set(ENV{PKG_CONFIG_PATH} "${pc_path}")
  run(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${build} -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DTRESSE_CONSUMER_METHOD=${METHOD} -DTRESSE_EXPECTED_PREFIX=${prefix})
  run(${CMAKE_COMMAND} --build ${build})
  run(${build}/tresse-consumer)
else()
  message(FATAL_ERROR "unknown STEP '${STEP}'")
endif()
