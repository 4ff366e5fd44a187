#!/usr/bin/env bash
# Runs the DPI-C scoreboard once per `mls export` round hex file.
#   run_hex.sh SCOREBOARD HEXDIR   -- exit 0 when every file passes, 1 otherwise, 2 with no file
set -uo pipefail
sb=$1 dir=$2
files=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for f in "$dir"/round-*.hex; do
  [ -e "$f" ] || continue
  files=$((files + 1))
  if "$sb" "+hex=$f" >"$log" 2>&1; then rc=0; else rc=$?; fi
  grep -E "^(scoreboard: (PASS|FAIL)|MISMATCH|FILE|DPI)" "$log" | head -12
  if [ "$rc" -ne 0 ]; then
    failed=$((failed + 1))
    echo "run_hex: $f: exit status $rc"
  fi
done
echo "run_hex: $files files, $failed failed"
[ "$files" -gt 0 ] || exit 2
[ "$failed" -eq 0 ]
