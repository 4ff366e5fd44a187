#!/usr/bin/env bash
# Opt-in: regenerate the outside-implementations report (docs/outside-implementations.md and .json,
# docs/cases/) by running every adapter of conformance/python/adapters/ (ml_dtypes, gfloat, torch,
# torchao, qtorch) under `mls check`. Installs the pinned libraries first (scripts/install-outside.sh
# --all: torch's PyPI wheel brings several GB of CUDA runtime wheels; only the CPU is used).
#
#   bash scripts/outside-report.sh                 # all libraries, writes the report (about 10 minutes on 2 cores)
#   MLS=build-x/tools/mls MLS_OUTSIDE_VENV=/path/venv bash scripts/outside-report.sh --libs ml_dtypes,gfloat
#   bash scripts/outside-report.sh --no-write      # run and print the summary only
#
# Extra arguments go to scripts/outside_report.py (--libs, --scale, --shrinks).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mls="${MLS:-$root/build/tools/mls}"
venv="${MLS_OUTSIDE_VENV:-$root/build/outside-venv}"
if [ ! -x "$mls" ]; then
  echo "outside-report.sh: $mls not found: build first (bash scripts/build.sh) or set MLS=path/to/mls" >&2
  exit 64
fi
bash "$root/scripts/install-outside.sh" --all "$venv"
write=--write
args=()
for a in "$@"; do
  if [ "$a" = "--no-write" ]; then write=""; else args+=("$a"); fi
done
bench="$(mktemp)"
trap 'rm -f "$bench"' EXIT
"$venv/bin/python" "$root/scripts/outside_bench.py" -o "$bench" >/dev/null
/usr/bin/python3 "$root/scripts/outside_report.py" --mls "$mls" --python "$venv/bin/python" --bench "$bench" \
  $write "${args[@]+"${args[@]}"}"
