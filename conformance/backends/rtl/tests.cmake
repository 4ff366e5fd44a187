# mls-rtl tests, each a few seconds. Included from CMakeLists.txt.
include(GoogleTest)
set(MLS_EXPECT_RTL ${CMAKE_CURRENT_SOURCE_DIR}/../opencl/expect.cmake)  # run a command, check status and output

# Lint: clean under verilator --lint-only -Wall for the parameter sets built.
find_program(MLS_VERILATOR verilator)
if(NOT MLS_VERILATOR)
  set(MLS_VERILATOR ${VERILATOR_BIN})
endif()
add_test(NAME rtl.lint COMMAND ${CMAKE_COMMAND} -DVERILATOR=${MLS_VERILATOR} -DRTL_DIR=${MLS_RTL_DIR}
                               -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/lint.cmake)

# A random campaign through `mls check` against the RTL (quantize, gemm, conv2d).
add_test(NAME rtl.check_random
         COMMAND $<TARGET_FILE:mls> check --backend-lib $<TARGET_FILE:mls_rtl_backend> --random --cases 200 --seed 7
                 --ops quantize gemm conv2d --formats mls-e2m1 mls-e2m4 mls-e3m3 --save-failures "")

# A level-1 suite (quantize, gemm, conv2d, mls-e2m1) replayed through `mls check`.
set(MLS_RTL_VEC ${CMAKE_CURRENT_BINARY_DIR}/vectors)
file(MAKE_DIRECTORY ${MLS_RTL_VEC})
add_test(NAME rtl.gen_level1 COMMAND $<TARGET_FILE:mls> gen --level 1 --ops quantize gemm conv round -f mls-e2m1 -q
                                     -o ${MLS_RTL_VEC}/level1-e2m1.h5)
add_test(NAME rtl.export_level1 COMMAND $<TARGET_FILE:mls> export ${MLS_RTL_VEC}/level1-e2m1.h5 -o ${MLS_RTL_VEC}/hex)
set_tests_properties(rtl.gen_level1 PROPERTIES FIXTURES_SETUP rtl_vectors)
set_tests_properties(rtl.export_level1 PROPERTIES FIXTURES_SETUP rtl_hex FIXTURES_REQUIRED rtl_vectors)
# Every op is judged, not only skipped: some cases pass and none mismatch
# (the conv2d skips are the acc24 profile, inter_group = fp32).
add_test(NAME rtl.check_replay
         COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:mls>;check;--backend-lib;$<TARGET_FILE:mls_rtl_backend>;--replay;${MLS_RTL_VEC}/level1-e2m1.h5;--save-failures;${MLS_RTL_VEC}/replay-failures"
                 -DRC=0 "-DRE=conv2d +[1-9][0-9]* +0 ;gemm +[1-9][0-9]* +0 ;quantize +[1-9][0-9]* +0 ;result: PASS"
                 -P ${MLS_EXPECT_RTL})
set_tests_properties(rtl.check_replay PROPERTIES FIXTURES_REQUIRED rtl_vectors)

# The exported round and gemm groups under Icarus Verilog ($fgets testbenches).
if(MLS_IVERILOG AND MLS_VVP)
  add_test(NAME rtl.icarus_replay COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/scripts/icarus_replay.sh ${MLS_RTL_VEC}/hex
                                         ${MLS_IVERILOG} ${MLS_VVP})
  set_tests_properties(rtl.icarus_replay PROPERTIES FIXTURES_REQUIRED rtl_hex)
else()
  message(STATUS "mls-rtl: iverilog/vvp not found: the Icarus testbench test is not registered")
endif()

# Mutants and the campaign checks in C++ (conformance runner).
add_executable(mls_rtl_tests test/test_rtl.cpp)
target_link_libraries(mls_rtl_tests PRIVATE mls_conformance GTest::gtest GTest::gtest_main)
add_dependencies(mls_rtl_tests mls_rtl_backend ${MLS_RTL_MUTANT_TARGETS})
target_compile_definitions(mls_rtl_tests PRIVATE MLS_RTL_LIB_DIR="$<TARGET_FILE_DIR:mls_rtl_backend>"
                                                 MLS_RTL_BACKEND_LIB="$<TARGET_FILE:mls_rtl_backend>")
gtest_discover_tests(mls_rtl_tests TEST_PREFIX "rtl." DISCOVERY_TIMEOUT 60)

# Figures (not a test): simulated cases/s, latency and throughput in clocks.
add_executable(mls_rtl_bench test/bench_rtl.cpp)
target_link_libraries(mls_rtl_bench PRIVATE mls_conformance)
add_dependencies(mls_rtl_bench mls_rtl_backend)
target_compile_definitions(mls_rtl_bench PRIVATE MLS_RTL_BACKEND_LIB="$<TARGET_FILE:mls_rtl_backend>")

# cocotb (Python) bench of the quantizer under Icarus Verilog: the round groups
# of the level-1 file read with h5py, every case checked (cocotb/README.md).
# The venv comes from PyPI on the first run (cocotb/requirements.txt, pinned);
# exit 77 (no PyPI, no iverilog) is a skip, never a pass.
if(MLS_IVERILOG AND MLS_VVP)
  set(MLS_COCOTB ${CMAKE_CURRENT_SOURCE_DIR}/cocotb/run.sh)
  set(MLS_COCOTB_DIR ${CMAKE_CURRENT_BINARY_DIR}/cocotb)
  add_test(NAME rtl.cocotb_setup COMMAND bash ${MLS_COCOTB} ${MLS_COCOTB_DIR} --setup)
  set_tests_properties(rtl.cocotb_setup PROPERTIES FIXTURES_SETUP rtl_cocotb SKIP_RETURN_CODE 77 TIMEOUT 300)
  add_test(NAME rtl.cocotb_replay COMMAND bash ${MLS_COCOTB} ${MLS_COCOTB_DIR} ${MLS_RTL_VEC}/level1-e2m1.h5)
  set_tests_properties(rtl.cocotb_replay PROPERTIES FIXTURES_REQUIRED "rtl_cocotb;rtl_vectors" SKIP_RETURN_CODE 77
                       PASS_REGULAR_EXPRESSION "cocotb replay: 7 groups, 10300 cases, 0 mismatches" TIMEOUT 120)
  add_test(NAME rtl.cocotb_catches_seeded_bug
           COMMAND ${CMAKE_COMMAND} "-DCMD=bash;${MLS_COCOTB};${MLS_COCOTB_DIR};${MLS_RTL_VEC}/level1-e2m1.h5;--define;MLS_RTL_BUG_TIE"
                   -DRC=1 "-DRE=MISMATCH /round/0000 case [0-9]+: x=0x[0-9a-f]+;cocotb: 1 test\\(s\\), 1 failed" -P ${MLS_EXPECT_RTL})
  set_tests_properties(rtl.cocotb_catches_seeded_bug PROPERTIES FIXTURES_REQUIRED "rtl_cocotb;rtl_vectors" TIMEOUT 120)
endif()
