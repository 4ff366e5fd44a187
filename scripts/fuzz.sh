#!/usr/bin/env bash
# The fuzz harnesses of fuzz/ (libFuzzer, clang-14, ASan + UBSan), each run for
# a fixed time on its committed corpus and regression inputs. Prints, per
# harness, executions, executions/s, coverage (libFuzzer cov = edges, ft =
# features), corpus size and findings (crash-, timeout-, oom-, leak- inputs
# libFuzzer saved); exits 1 on any finding.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_HARNESS] [HARNESS...]      (default 60 s, every harness)
#   MLS_FUZZ_JOBS=N     harnesses run at once (default 1)
#   MLS_FUZZ_BUILD=DIR  build directory (default build-fuzz)
#   MLS_FUZZ_OUT=DIR    grown corpora, findings and logs (default out/fuzz; findings/<harness>/)
#   MLS_FUZZ_NICE=N     run the harnesses under nice -n N (default 0)
#   MLS_FUZZ_BIN=DIR    run the harness binaries in DIR (built before) instead of building
# scripts/test.sh runs it briefly (MLS_FUZZ_SECONDS, default 15) as its fuzz stage.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-60}"
shift || true
build="${MLS_FUZZ_BUILD:-$root/build-fuzz}"
out="${MLS_FUZZ_OUT:-$root/out/fuzz}"
jobs="${MLS_FUZZ_JOBS:-1}"
nice_n="${MLS_FUZZ_NICE:-0}"
# Every harness: the files fuzz/fuzz_<harness>.cpp (fuzz/CMakeLists.txt reads them the same way).
all=()
for f in "$root"/fuzz/fuzz_*.cpp; do b="$(basename "$f" .cpp)"; all+=("${b#fuzz_}"); done
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all[@]}")

t0=$(date +%s)
if [ -n "${MLS_FUZZ_BIN:-}" ]; then
  bindir="$MLS_FUZZ_BIN"
else
  if [ "${MLS_FUZZ_SKIP_DEPS:-0}" != "1" ]; then bash "$root/scripts/install-deps.sh"; fi
  CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMLS_FUZZ=ON \
    -DMLS_BUILD_BENCH=OFF -DMLS_BUILD_RTL=OFF -DMLS_BUILD_OPENCL=OFF -DMLS_BUILD_CUDA=OFF \
    -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DCMAKE_C_FLAGS_DEBUG="-O1 -g" >/dev/null
  ninja -C "$build" -j "$(nproc)" fuzzers >/dev/null
  bindir="$build/fuzz"
fi
t1=$(date +%s)
echo "fuzz: built ${#harnesses[@]} harnesses in $((t1 - t0)) s; $secs s each, $jobs at a time"

# Per-harness options: input size, per-input time limit, memory.
opts() {
  case "$1" in
    h5_read) echo "-max_len=65536 -timeout=60 -rss_limit_mb=4096" ;;  # each input forks an isolated reader
    serve_request | case_json) echo "-max_len=16384 -timeout=30 -rss_limit_mb=4096" ;;
    *) echo "-max_len=8192 -timeout=30 -rss_limit_mb=4096" ;;
  esac
}

run_one() {
  local h="$1" bin="$bindir/fuzz_$1"
  local corpus="$out/corpus/$h" findings="$out/findings/$h" log="$out/logs/$h.log"
  mkdir -p "$corpus" "$findings" "$out/logs"
  local seeds=("$root/fuzz/corpus/$h")
  [ -d "$root/fuzz/regressions/$h" ] && seeds+=("$root/fuzz/regressions/$h")
  local start end
  start=$(date +%s)
  local TIMEFORMAT='%U %S'
  # shellcheck disable=SC2046
  { time ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:handle_abort=1 LSAN_OPTIONS=suppressions="$root/fuzz/lsan.supp" UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    TMPDIR="${TMPDIR:-/tmp}" nice -n "$nice_n" "$bin" $(opts "$h") -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="$findings/" "$corpus" "${seeds[@]}" >"$log" 2>&1 || true; } 2>"$out/logs/$h.cpu"
  end=$(date +%s)
  local cpu
  cpu=$(awk '{printf "%d", $1 + $2}' "$out/logs/$h.cpu")
  local execs rate cov ft corp found
  execs=$(awk '/stat::number_of_executed_units:/ {v = $2} END {print v}' "$log")
  rate=$(awk '/stat::average_exec_per_sec:/ {v = $2} END {print v}' "$log")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | awk '{print $2}')
  found=$(find "$findings" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  printf '%-15s %6d s %6d s  %10s execs  %7s exec/s  cov %6s  ft %6s  corpus %-12s findings %s\n' "$h" \
    "$((end - start))" "${cpu:-0}" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$found" >"$out/logs/$h.summary"
  if [ "$found" != "0" ] || [ -z "$execs" ]; then
    echo "  $h: FAILED, see $log and $findings/" >>"$out/logs/$h.summary"
    echo fail >"$out/logs/$h.status"
  else
    echo ok >"$out/logs/$h.status"
  fi
}

mkdir -p "$out/logs"
running=0
for h in "${harnesses[@]}"; do
  [ -x "$bindir/fuzz_$h" ] || { echo "fuzz: no harness $bindir/fuzz_$h" >&2; exit 64; }
  rm -f "$out/logs/$h.summary" "$out/logs/$h.status"
  run_one "$h" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true
status=0
echo "harness           wall    cpu        executions    exec/s  coverage (edges, features)  corpus  findings"
for h in "${harnesses[@]}"; do
  cat "$out/logs/$h.summary" 2>/dev/null || echo "$h: no result"
  [ "$(cat "$out/logs/$h.status" 2>/dev/null)" = ok ] || status=1
done
echo "fuzz: $(( $(date +%s) - t0 )) s in all (build $((t1 - t0)) s); logs in $out/logs"
exit $status
