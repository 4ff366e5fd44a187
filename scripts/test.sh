#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, and runs every test
# twice -- a normal build and an AddressSanitizer + UBSan build of the tests --
# then every fuzz harness of fuzz/ briefly (MLS_FUZZ_SECONDS each, default 15;
# MLS_SKIP_FUZZ=1 skips; scripts/fuzz.sh runs them as long as asked).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs="$(nproc)"
bash "$root/scripts/build.sh"
echo "== ctest (RelWithDebInfo) =="
ctest --test-dir "$root/build" -j "$jobs" --output-on-failure
if [ "${MLS_SKIP_ASAN:-0}" != "1" ]; then
  echo "== ctest (ASan + UBSan) =="
  cmake -S "$root" -B "$root/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMLS_SANITIZE=ON -DMLS_BUILD_BENCH=OFF \
        -DMLS_BUILD_RTL=OFF -DMLS_BUILD_OPENCL=OFF -DMLS_BUILD_CUDA=OFF \
        -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" >/dev/null
  ninja -C "$root/build-asan"
  # intercept_tls_get_addr=0: GCC 12's sanitizer runtime misreads some dynamic-TLS
  # blocks of dlopen'd libraries (the backends keep a thread_local error message)
  # as pre-2.25 glibc headers, and LeakSanitizer's tracer then segfaults at exit
  # after the test body passed (google/sanitizers#1322). Leak checking stays on.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:intercept_tls_get_addr=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$root/build-asan" -j "$jobs" --output-on-failure
fi
if [ "${MLS_SKIP_FUZZ:-0}" != "1" ]; then
  echo "== fuzz harnesses (libFuzzer, ASan + UBSan; ${MLS_FUZZ_SECONDS:-15} s each on the committed corpora) =="
  MLS_FUZZ_SKIP_DEPS=1 MLS_FUZZ_JOBS="$jobs" MLS_FUZZ_OUT="$root/build-fuzz/out" bash "$root/scripts/fuzz.sh" "${MLS_FUZZ_SECONDS:-15}"
fi
