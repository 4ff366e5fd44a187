#!/usr/bin/env bash
# Submits an exhaustive sweep to Slurm: a job array of (checks x shards) tasks
# and a merge job that runs after all of them (spec/11-exhaustive.md, README).
#
#   scripts/slurm/submit.sh --plan PLAN --shards N --out DIR [--mls MLS] [--wait] [-- SBATCH OPTIONS...]
#
# PLAN: one `mls check` argument list per line ('#' comments), each naming the
# implementation and the table, e.g.
#   --backend-lib /path/libmls_fast_backend.so --grid mxfp4 --rounding rne
#   --backend-lib /path/libmls_fast_backend.so --table /shared/fp8_e4m3-sr8.h5
# DIR must be on a file system every node sees. Prints the two job ids; with
# --wait, waits for the merge and exits with its status. Every path must be
# absolute or relative to a directory the nodes share.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mls="$(cd "$here/../.." && pwd)/build/tools/mls"
plan="" shards="" out="" wait=0
while [ $# -gt 0 ]; do
  case "$1" in
    --plan) plan="$2"; shift 2 ;;
    --shards) shards="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --mls) mls="$2"; shift 2 ;;
    --wait) wait=1; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "submit.sh: unknown option $1" >&2; exit 64 ;;
  esac
done
[ -n "$plan" ] && [ -n "$shards" ] && [ -n "$out" ] || { echo "submit.sh: give --plan, --shards and --out" >&2; exit 64; }
case "$shards" in ''|*[!0-9]*) echo "submit.sh: --shards $shards is not a count" >&2; exit 64 ;; esac
[ -f "$plan" ] || { echo "submit.sh: no plan file $plan" >&2; exit 64; }
checks=$(grep -vc '^[[:space:]]*\(#\|$\)' "$plan" || true)
[ "$checks" -gt 0 ] || { echo "submit.sh: $plan holds no check" >&2; exit 64; }
mkdir -p "$out"
abs() { (cd "$(dirname "$1")" && printf '%s/%s' "$(pwd)" "$(basename "$1")"); }
plan=$(abs "$plan"); out=$(cd "$out" && pwd); mls=$(abs "$mls")
export MLS_BIN="$mls" MLS_PLAN="$plan" MLS_SHARDS="$shards" MLS_OUT="$out"
tasks=$((checks * shards))
array=$(sbatch --parsable --export=ALL --array=0-$((tasks - 1)) --output="$out/slurm-%A_%a.out" "$@" \
  "$here/exhaustive-array.sbatch")
array=${array%%;*}
waitopt=(); [ "$wait" = 1 ] && waitopt=(--wait)
echo "array job $array: $tasks tasks ($checks checks x $shards shards); reports in $out"
merge_rc=0
merge=$(sbatch --parsable --export=ALL --dependency=afterany:"$array" --output="$out/slurm-merge-%j.out" \
  "${waitopt[@]}" "$@" "$here/merge.sbatch") || merge_rc=$?
echo "merge job ${merge%%;*}$([ "$wait" = 1 ] && echo " finished with status $merge_rc: $out/summary.tsv")"
exit "$merge_rc"
