# Helpers that give every fool target the same shape: one static library per role folder with its
# dependencies declared, warnings from one interface target, tests labelled for CTest.

# The ONNX test fixtures (tests/fixtures/make_onnx_fixtures.py): PyTorch exports two small models and
# writes its probabilities for a seeded batch into ${FOOL_FIXTURES_DIR}, once (again only when the
# script changes). Tests, benchmarks and fuzz replays that read fixtures depend on fool_onnx_fixtures.
set(FOOL_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with Debian's python3-torch, -torchvision, -onnx, -protobuf and -numpy, for tests")
set(FOOL_FIXTURES_DIR ${CMAKE_BINARY_DIR}/fixtures/onnx)
set(fool_fixture_files ${FOOL_FIXTURES_DIR}/fixtures.json)
foreach(model IN ITEMS mnist_bn_cnn squeezenet1_1_random)
  list(APPEND fool_fixture_files ${FOOL_FIXTURES_DIR}/${model}.onnx ${FOOL_FIXTURES_DIR}/${model}.input.f32
       ${FOOL_FIXTURES_DIR}/${model}.probs.f32)
endforeach()
add_custom_command(OUTPUT ${fool_fixture_files}
  COMMAND ${FOOL_PYTHON} ${PROJECT_SOURCE_DIR}/tests/fixtures/make_onnx_fixtures.py --out ${FOOL_FIXTURES_DIR}
  DEPENDS ${PROJECT_SOURCE_DIR}/tests/fixtures/make_onnx_fixtures.py
  COMMENT "Exporting the ONNX test fixtures with PyTorch (tests/fixtures/make_onnx_fixtures.py)" VERBATIM)
add_custom_target(fool_onnx_fixtures DEPENDS ${fool_fixture_files})

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
  target_compile_definitions(${name} PRIVATE FOOL_FIXTURES_DIR="${FOOL_FIXTURES_DIR}"
    FOOL_DATA_DIR="${PROJECT_SOURCE_DIR}/data")
  add_dependencies(${name} fool_onnx_fixtures)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 120 PROPERTIES TIMEOUT ${A_TIMEOUT} LABELS "${A_LABELS}")
endfunction()
