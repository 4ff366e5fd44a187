# The CUDA backend builds (sm_90 + PTX) and its library loads through the
# runner. Without a CUDA device (CI) every call must fail with a clear
# message, which the runner reports as a backend failure (exit 2); with a
# device the same small campaign must pass (exit 0).
add_test(NAME cuda.library_loads_and_reports
         COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:mls>;check;--backend-lib;$<TARGET_FILE:mls_cuda_backend>;--random;--cases;20;--seed;1"
                 -DRC=2 "-DRE=CUDA: no usable device;BACKEND FAILURE" -DRC_ALT=0 "-DRE_ALT=result: PASS"
                 -P ${CMAKE_CURRENT_SOURCE_DIR}/../opencl/expect.cmake)
