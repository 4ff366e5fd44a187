#!/usr/bin/env bash
# The README's main-job command. Installs dependencies and builds, quantizes the
# bundled tensor (explaining one element), generates a level-1 vector suite for
# every named profile, and runs conformance of every bundled implementation --
# replay of the suite and a random campaign -- printing one summary table.
# Output goes to out/ (reports as JSON and JUnit XML, minimal failing cases).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/build.sh" >/dev/null
mls="$root/build/tools/mls"
fast="$root/build/conformance/backends/fast/libmls_fast_backend.so"
out="$root/out"
mkdir -p "$out"
cd "$out"

"$mls" demo "$@"
echo
echo "== generating the level-1 vector suite (all named profiles) =="
"$mls" gen --level 1 -o "$out/level1.h5"

cases="${MLS_DEMO_CASES:-300}"
run() {  # name, way, backend args...
  local name="$1" way="$2"; shift 2
  local tag="${name// /_}-${way}"
  set +e
  "$mls" check "$@" --replay "$out/level1.h5" --report-json "$out/$tag-replay.json" --junit "$out/$tag-replay.xml" \
    --save-failures "$out/failures" >"$out/$tag-replay.log" 2>&1
  # shellcheck disable=SC2086  # MLS_RANDOM_EXTRA: extra words for the random campaign only
  "$mls" check "$@" --random --cases "$cases" --seed 1 ${MLS_RANDOM_EXTRA:-} --report-json "$out/$tag-random.json" \
    --junit "$out/$tag-random.xml" --save-failures "$out/failures" >"$out/$tag-random.log" 2>&1
  set -e
}
echo "== conformance of the bundled implementations =="
run "golden" "protocol" --backend-cmd "$mls serve"
run "mls-fast" "C-ABI" --backend-lib "$fast"
run "mls-fast" "protocol" --backend-cmd "$mls serve --backend-lib $fast"
ocl="$root/build/conformance/backends/opencl/libmls_opencl_backend.so"
if [ -f "$ocl" ]; then run "mls-opencl-pocl" "C-ABI" --backend-lib "$ocl"; fi
rtl="$root/build/conformance/backends/rtl/libmls_rtl_backend.so"
# The RTL is built for the four named element profiles only: its random campaign draws from those.
if [ -f "$rtl" ]; then
  MLS_RANDOM_EXTRA="--formats mls-e2m1,mls-e2m4,mls-e3m3,mls-e2m1-g3m0" run "mls-rtl-verilator" "C-ABI" --backend-lib "$rtl"
fi
run "numpy" "protocol" --backend-cmd "/usr/bin/python3 $root/conformance/python/examples/numpy_backend.py" --timeout 60000

/usr/bin/python3 "$root/scripts/summary_table.py" "$out"
