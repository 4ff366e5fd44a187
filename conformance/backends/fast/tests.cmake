# Wires tests/test_fast_backend.cpp, test_fast_family.cpp and test_mutants.cpp
# to the mls-fast libraries; included from tests/CMakeLists.txt once mls_tests
# exists. The tests dlopen them, so they are dependencies, not link libraries;
# the seeded-bug catalogue is read from its one definition (mutants.def).
if(NOT TARGET mls_fast_backend OR NOT TARGET mls_tests)
  return()
endif()
add_dependencies(mls_tests mls_fast_backend ${MLS_FAST_MUTANT_TARGETS})
list(JOIN MLS_FAST_MUTANTS "," _mls_fast_mutants)
target_compile_definitions(mls_tests PRIVATE
  MLS_FAST_BACKEND_LIB="$<TARGET_FILE:mls_fast_backend>"
  MLS_FAST_LIB_DIR="$<TARGET_FILE_DIR:mls_fast_backend>"
  MLS_FAST_MUTANTS="${_mls_fast_mutants}"
  MLS_FAST_CATALOGUE="${CMAKE_CURRENT_LIST_DIR}/mutants.def")
target_link_libraries(mls_tests PRIVATE mls_backend_abi ${CMAKE_DL_LIBS})
