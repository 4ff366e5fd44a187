# Exhaustive checks (spec/11-exhaustive.md): the C ABI fixtures that
# tests/test_exhaustive.cpp and tests/fixtures/exhaustive_cli_test.sh run the
# checker against. Included from tests/CMakeLists.txt once mls_tests exists.
if(NOT TARGET mls_tests OR NOT TARGET mls_conformance)
  return()
endif()
# The golden model behind the C ABI; wrong on one input; without a round entry.
foreach(v golden_abi golden_abi_bug golden_abi_noround)
  add_library(mls_test_${v} SHARED ${CMAKE_CURRENT_LIST_DIR}/fixtures/golden_abi_backend.cpp)
  target_link_libraries(mls_test_${v} PRIVATE mls_reference mls_backend_abi)
  set_target_properties(mls_test_${v} PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
endforeach()
target_compile_definitions(mls_test_golden_abi_bug PRIVATE MLS_FIXTURE_BAD_INPUT=0x3f9d70a4)
target_compile_definitions(mls_test_golden_abi_noround PRIVATE MLS_FIXTURE_NO_ROUND=1)
# Any backend (MLS_SHIM_TARGET) made wrong on one input (MLS_SHIM_BAD_INPUT).
add_library(mls_single_input_bug SHARED ${CMAKE_CURRENT_LIST_DIR}/fixtures/single_input_bug_shim.c)
find_package(Threads REQUIRED)
target_link_libraries(mls_single_input_bug PRIVATE mls_backend_abi ${CMAKE_DL_LIBS} Threads::Threads)
set_target_properties(mls_single_input_bug PROPERTIES C_VISIBILITY_PRESET hidden)
add_dependencies(mls_tests mls_test_golden_abi mls_test_golden_abi_bug mls_test_golden_abi_noround mls_single_input_bug)
target_compile_definitions(mls_tests PRIVATE
  MLS_TEST_GOLDEN_ABI_LIB="$<TARGET_FILE:mls_test_golden_abi>"
  MLS_TEST_GOLDEN_ABI_BUG_LIB="$<TARGET_FILE:mls_test_golden_abi_bug>"
  MLS_TEST_GOLDEN_ABI_NOROUND_LIB="$<TARGET_FILE:mls_test_golden_abi_noround>"
  MLS_TEST_SINGLE_INPUT_BUG_LIB="$<TARGET_FILE:mls_single_input_bug>")
# The README's commands on small ranges: tables in three forms, a check, the
# seeded single-input bug, bad input (exit codes 64, 65, 2), four shards merged.
add_test(NAME exhaustive_cli
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/fixtures/exhaustive_cli_test.sh $<TARGET_FILE:mls>
                 $<TARGET_FILE:mls_test_golden_abi> $<TARGET_FILE:mls_test_golden_abi_bug>
                 $<TARGET_FILE:mls_test_golden_abi_noround> $<TARGET_FILE:mls_single_input_bug>
                 ${CMAKE_CURRENT_BINARY_DIR}/exhaustive-cli)
set_tests_properties(exhaustive_cli PROPERTIES TIMEOUT 300)
