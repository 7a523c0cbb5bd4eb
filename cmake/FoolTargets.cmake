# Helpers that give every fool target the same shape: one static library per role folder with its
# dependencies declared, warnings from one interface target, tests labelled for CTest.

# fool_library(NAME SOURCES ... [PUBLIC deps...] [PRIVATE deps...])
# Builds fool_NAME (alias fool::NAME) from SOURCES, headers found as "fool/<folder>/<file>.h".
function(fool_library name)
  cmake_parse_arguments(A "" "" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  set(target fool_${name})
  add_library(${target} STATIC ${A_SOURCES})
  add_library(fool::${name} ALIAS ${target})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/src> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} PUBLIC ${A_PUBLIC} PRIVATE ${A_PRIVATE} $<BUILD_INTERFACE:fool_warnings>)
  target_compile_features(${target} PUBLIC cxx_std_17)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON EXPORT_NAME ${name})
  set_property(GLOBAL APPEND PROPERTY FOOL_LIBRARIES ${target})
endfunction()

# fool_test(NAME SOURCES ... DEPS ... [LABELS unit|e2e|slow|browser ...] [TIMEOUT s])
# A gtest executable whose tests CTest discovers and labels.
function(fool_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT FOOL_BUILD_TESTS)
    return()
  endif()
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 600)
  endif()
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} fool_warnings GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    FOOL_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/../shared/fixtures/onnx"
    FOOL_DATA_DIR="${PROJECT_SOURCE_DIR}/data")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 120 PROPERTIES TIMEOUT ${A_TIMEOUT} LABELS "${A_LABELS}")
endfunction()
