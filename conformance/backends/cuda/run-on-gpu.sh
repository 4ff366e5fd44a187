#!/usr/bin/env bash
# Builds the CUDA backend and checks it on this machine's NVIDIA GPU, in one
# short run (a few minutes on 16 cores; the build is most of it):
#   1. nvidia-smi: the device (the run fails early without one);
#   2. build mls, libmls_cuda_backend.so (sm_90 + PTX) and the benchmark;
#   3. `mls gen --level 1` (quantize, dequantize, conv, gemm) and a replay of
#      it through the CUDA backend at the exact tier (exit 0 = every case
#      bit-exact; accumulator-profile cases are skips);
#   4. a random campaign (every op, format and mode; --cases, default 500);
#   5. the format family: a random campaign over the MX and NVFP4 profiles
#      (quantize, dequantize, conv2d, gemm), and one over the quantizer
#      arithmetic profiles exact, fp32_div, fp32_reciprocal (quantize);
#   6. mls_gpu_bench: quantize el/s and conv MAC/s, CUDA vs golden model
#      and mls-fast, same run, for mls-e2m1, mxfp4 and nvfp4.
# Usage: conformance/backends/cuda/run-on-gpu.sh [BUILD_DIR] [CASES]
# Results (logs, JSON reports) go to $OUT if set, else BUILD_DIR/cuda-run.
# Exit status: 0 all passed; otherwise the first failing step's status.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${1:-$root/build-cuda}
cases=${2:-500}
out=${OUT:-$build/cuda-run}
mkdir -p "$out"
log() { echo "== $*" | tee -a "$out/summary.txt"; }

log "device"
nvidia-smi -L | tee -a "$out/summary.txt"
nvcc=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
"$nvcc" --version | tail -2 | tee -a "$out/summary.txt"

log "build ($build)"
t0=$(date +%s)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMLS_BUILD_BENCH=OFF \
  -DCMAKE_CUDA_COMPILER="$nvcc" > "$out/cmake.log" 2>&1 || { tail -30 "$out/cmake.log"; exit 3; }
targets="mls mls_cuda_backend mls_fast_backend"
grep -q "mls_gpu_bench" "$build/build.ninja" && targets="$targets mls_gpu_bench"
grep -q "mls_opencl_backend" "$build/build.ninja" && targets="$targets mls_opencl_backend"
ninja -C "$build" $targets > "$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 3; }
log "built in $(( $(date +%s) - t0 )) s"
mls="$build/tools/mls"
lib="$build/conformance/backends/cuda/libmls_cuda_backend.so"

log "level-1 vectors"
"$mls" gen --level 1 --ops quantize dequantize conv gemm -q -o "$out/level1.h5"

status=0
log "replay of level 1 through $lib"
t0=$(date +%s)
set +e
"$mls" check --backend-lib "$lib" --replay "$out/level1.h5" --report-json "$out/replay.json" \
  --save-failures "$out/failures" > "$out/replay.txt" 2>&1
rc=$?
set -e
tail -12 "$out/replay.txt"; log "replay exit $rc in $(( $(date +%s) - t0 )) s"; [ "$rc" = 0 ] || status=$rc

log "random campaign, $cases cases per op, seed 1"
t0=$(date +%s)
set +e
"$mls" check --backend-lib "$lib" --random --cases "$cases" --seed 1 --report-json "$out/random.json" \
  --save-failures "$out/failures" > "$out/random.txt" 2>&1
rc=$?
set -e
tail -12 "$out/random.txt"; log "random exit $rc in $(( $(date +%s) - t0 )) s"; [ "$status" != 0 ] || status=$rc

family=mxfp4,mxfp8-e4m3,mxfp8-e5m2,mxfp6-e2m3,mxfp6-e3m2,nvfp4
run_check() {  # name, then the arguments of mls check
  local name=$1; shift
  log "$name"
  t0=$(date +%s)
  set +e
  "$mls" check --backend-lib "$lib" "$@" --report-json "$out/$name.json" --save-failures "$out/failures" \
    > "$out/$name.txt" 2>&1
  rc=$?
  set -e
  tail -12 "$out/$name.txt"; log "$name exit $rc in $(( $(date +%s) - t0 )) s"; [ "$status" != 0 ] || status=$rc
}
run_check family-random --random --cases "$cases" --seed 11 --formats "$family"
run_check family-arith --random --cases "$cases" --seed 12 --ops quantize --formats "$family,mls-e2m1" \
  --arith exact,fp32_div,fp32_reciprocal

if [ -x "$build/conformance/backends/opencl/mls_gpu_bench" ]; then
  for f in mls-e2m1 mxfp4 nvfp4; do
    log "benchmark $f (same run: golden model, CUDA, fast C++)"
    "$build/conformance/backends/opencl/mls_gpu_bench" --format "$f" --elements 4194304 --lib "$lib" \
      --lib "$build/conformance/backends/fast/libmls_fast_backend.so" --reps 3 2>&1 | tee -a "$out/summary.txt" || true
  done
fi
log "overall exit $status"
exit "$status"
