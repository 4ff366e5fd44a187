# Tests of the OpenCL backend through the runner (`mls check`). They need an
# OpenCL platform with a device (CI: PoCL on the CPU, which compiles the
# kernels on first use and caches them in ~/.cache/pocl).
set(MLS_OCL_LIB $<TARGET_FILE:mls_opencl_backend>)
set(MLS_OCL_NAIVE $<TARGET_FILE:mls_opencl_naive>)
set(MLS_OCL_WORK ${CMAKE_CURRENT_BINARY_DIR}/test-work)
file(MAKE_DIRECTORY ${MLS_OCL_WORK})
set(MLS_EXPECT ${CMAKE_CURRENT_SOURCE_DIR}/expect.cmake)

# Level-1 vectors of the four ops a backend computes (spec/08-vectors.md).
add_test(NAME opencl.gen_level1
         COMMAND $<TARGET_FILE:mls> gen --level 1 --ops quantize dequantize conv gemm -q
                 -o ${MLS_OCL_WORK}/level1.h5)
set_tests_properties(opencl.gen_level1 PROPERTIES FIXTURES_SETUP mls_opencl_level1)

# Level-1 replay at the exact tier (accumulator-profile cases are skips).
add_test(NAME opencl.replay_level1
         COMMAND $<TARGET_FILE:mls> check --backend-lib ${MLS_OCL_LIB} --replay ${MLS_OCL_WORK}/level1.h5)
set_tests_properties(opencl.replay_level1 PROPERTIES FIXTURES_REQUIRED mls_opencl_level1 TIMEOUT 300)

# A random campaign over every op, format and mode at the exact tier.
add_test(NAME opencl.random_campaign
         COMMAND $<TARGET_FILE:mls> check --backend-lib ${MLS_OCL_LIB} --random --cases 150 --seed 7
                 --save-failures ${MLS_OCL_WORK}/failures)
set_tests_properties(opencl.random_campaign PROPERTIES TIMEOUT 300)

# The fast-but-wrong lesson: the runner must find it (exit 1) and name both
# causes: fp32_reciprocal for quantize, summation_order for conv2d/gemm.
add_test(NAME opencl.naive_variant_is_caught
         COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:mls>;check;--backend-lib;${MLS_OCL_NAIVE};--random;--cases;200;--seed;1;--ops;quantize;conv2d;gemm;--save-failures;${MLS_OCL_WORK}/naive-failures"
                 -DRC=1 "-DRE=likely cause \\[fp32_reciprocal\\];likely cause \\[summation_order\\];result: MISMATCH"
                 -P ${MLS_EXPECT})
set_tests_properties(opencl.naive_variant_is_caught PROPERTIES TIMEOUT 300)

# Bad input 1: no OpenCL platform (an empty ICD vendor directory).
file(MAKE_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/no-icd)
add_test(NAME opencl.no_platform_is_backend_failure
         COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:mls>;check;--backend-lib;${MLS_OCL_LIB};--random;--cases;3;--ops;quantize"
                 -DRC=2 "-DRE=OpenCL: no platform found;BACKEND FAILURE" -P ${MLS_EXPECT})
set_tests_properties(opencl.no_platform_is_backend_failure PROPERTIES
                     ENVIRONMENT "OCL_ICD_VENDORS=${CMAKE_CURRENT_BINARY_DIR}/no-icd;OCL_ICD_FILENAMES=")

# Bad input 2: a kernel that does not compile (a macro breaks the source):
# the build log reaches the runner's message.
add_test(NAME opencl.build_error_is_backend_failure
         COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:mls>;check;--backend-lib;${MLS_OCL_LIB};--random;--cases;3;--ops;quantize"
                 -DRC=2 "-DRE=clBuildProgram failed;build log:;error;BACKEND FAILURE" -P ${MLS_EXPECT})
set_tests_properties(opencl.build_error_is_backend_failure PROPERTIES
                     ENVIRONMENT "MLS_OPENCL_BUILD_OPTIONS=-Dmls_round_mag=1" TIMEOUT 120)

# Bad input 3: out of device memory (a buffer above the allocation cap).
add_test(NAME opencl.out_of_memory_is_backend_failure
         COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:mls>;check;--backend-lib;${MLS_OCL_LIB};--random;--cases;3;--ops;quantize"
                 -DRC=2 "-DRE=OpenCL: out of device memory;BACKEND FAILURE" -P ${MLS_EXPECT})
set_tests_properties(opencl.out_of_memory_is_backend_failure PROPERTIES ENVIRONMENT "MLS_OPENCL_MAX_ALLOC=8")

# The format family (issue 12): OCP MX (E8M0 scales, tensor scale one, the
# ocp scale rules, NaN blocks), NVFP4 (E4M3 scales with zero and
# subnormals, amax tensor scale, nearest) -- quantize and dequantize at the
# exact profile, and the two fp32 pipeline profiles (4.12.1-2); gemm/conv2d
# on MX and NVFP4 operands (exact sums; MXINT8 is a skip).
set(MLS_OCL_FAMILY mxfp4,mxfp8-e4m3,mxfp8-e5m2,mxfp6-e2m3,mxfp6-e3m2,nvfp4)
add_test(NAME opencl.family_random
         COMMAND $<TARGET_FILE:mls> check --backend-lib ${MLS_OCL_LIB} --random --cases 100 --seed 11
                 --formats ${MLS_OCL_FAMILY} --save-failures ${MLS_OCL_WORK}/family-failures)
set_tests_properties(opencl.family_random PROPERTIES TIMEOUT 300)
add_test(NAME opencl.family_fp32_pipelines
         COMMAND $<TARGET_FILE:mls> check --backend-lib ${MLS_OCL_LIB} --random --cases 120 --seed 12 --ops quantize
                 --formats ${MLS_OCL_FAMILY},mls-e2m1,mls-e3m3 --arith exact,fp32_div,fp32_reciprocal
                 --save-failures ${MLS_OCL_WORK}/pipeline-failures)
set_tests_properties(opencl.family_fp32_pipelines PROPERTIES TIMEOUT 300)

# Seeded bugs of the family, compiled into the same kernel source by a
# build option (mls_kernels.cl): the runner must fail the campaign (exit 1)
# and name the cause.
foreach(bug IN ITEMS "E4M3_NAN;overflow_nan;e4m3_overflow_nan" "NAN_BLOCK;nan_block;nan_block")
  list(GET bug 0 define)
  list(GET bug 1 cause)
  list(GET bug 2 name)
  add_test(NAME opencl.bug_${name}_is_caught
           COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:mls>;check;--backend-lib;${MLS_OCL_LIB};--random;--cases;80;--seed;3;--ops;quantize;--formats;mxfp8-e4m3;--max-shrinks;50;--save-failures;${MLS_OCL_WORK}/bug-${name}"
                   -DRC=1 "-DRE=likely cause \\[${cause}\\];result: MISMATCH" -P ${MLS_EXPECT})
  set_tests_properties(opencl.bug_${name}_is_caught PROPERTIES
                       ENVIRONMENT "MLS_OPENCL_BUILD_OPTIONS=-DMLS_BUG_${define}" TIMEOUT 300)
endforeach()
