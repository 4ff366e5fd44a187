#!/usr/bin/env bash
# The Slurm engine of the exhaustive checks on a real (single-node) cluster:
# installs slurm-wlm and munge from Debian (scripts/slurm/install.sh), starts
# munged, slurmctld and slurmd on localhost with a configuration of its own
# (ports, state and spool directories under WORKDIR; nothing under /etc/slurm
# is touched), submits a 4-task array of one exhaustive check with
# scripts/slurm/submit.sh, waits for the merge job, and checks that the merged
# report equals the unsharded run (every member but "run"). Stops its daemons
# at the end. Opt-in (root, network for apt): not part of scripts/test.sh.
#
#   bash scripts/slurm/test_local_cluster.sh [BUILD_DIR] [WORKDIR]
#
# BUILD_DIR (default build) holds tools/mls and the backend: mls-fast when it
# computes `round`, else the golden C ABI fixture of the tests (over a range:
# it is exact and slow). MLS_SLURM_RANGE sets the range (default: all 2^32 for
# mls-fast, 2^24 inputs for the fixture); MLS_SLURM_BACKEND another library.
# When the range holds 0x3f9d70a4 and BUILD_DIR has the single-input bug shim,
# a second check runs the backend made wrong on that input. Exit 0 when every
# merged report equals its unsharded run (and the shim's names that input).
# About 15 s with MLS_SLURM_RANGE=0x3f000000:0x3fffffff (2^24 inputs).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
work="${2:-$build/slurm-test}"
mls="$build/tools/mls"
[ -x "$mls" ] || { echo "test_local_cluster: $mls not built" >&2; exit 2; }
bash "$root/scripts/slurm/install.sh"

rm -rf "$work"; mkdir -p "$work"/{state,spool,log,out}
work="$(cd "$work" && pwd)"
host="$(hostname -s)"
cpus="$(nproc)"
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
port=$(( 16800 + RANDOM % 500 ))
cat >"$work/slurm.conf" <<EOF
ClusterName=mlsref-test
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$work/slurm.conf"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$work/slurmd.pid" "$work/slurmctld.pid" "$work/munged.pid"; do
    p=$(cat "$f" 2>/dev/null) && kill "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT

# munge: its own socket, key and pid file (a munged already running elsewhere is left alone).
mkdir -p "$work/munge"
chmod 700 "$work/munge"
if command -v mungekey >/dev/null; then mungekey -c -k "$work/munge/munge.key" -f; else
  dd if=/dev/urandom of="$work/munge/munge.key" bs=1 count=1024 2>/dev/null; fi
chmod 400 "$work/munge/munge.key"
sock="$work/munge/munge.socket"
munged --key-file="$work/munge/munge.key" --socket="$sock" --pid-file="$work/munged.pid" \
  --log-file="$work/log/munged.log" --seed-file="$work/munge/seed" -f
echo "AuthInfo=socket=$sock" >>"$work/slurm.conf"
slurmctld -D -f "$work/slurm.conf" >"$work/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N "$host" -f "$work/slurm.conf" >"$work/log/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 60); do
  sinfo -h -N -o '%t' 2>/dev/null | grep -Eq '^(idle|mix|alloc)' && break
  sleep 1
done
sinfo -N -l || true
sinfo -h -N -o '%t' | grep -Eq '^(idle|mix|alloc)' || {
  echo "test_local_cluster: the node did not come up" >&2
  tail -20 "$work"/log/*.log "$work"/log/*.out >&2 || true
  exit 2
}

# The check: mls-fast over every input when it computes round, else the golden fixture over a range.
backend="${MLS_SLURM_BACKEND:-}" range="${MLS_SLURM_RANGE:-}"
if [ -z "$backend" ]; then
  fast="$build/conformance/backends/fast/libmls_fast_backend.so"
  if [ -f "$fast" ] && "$mls" check --backend-lib "$fast" --exhaustive --grid mxfp4 --range 0x3f800000:0x3f8000ff \
       --no-progress --no-baseline >/dev/null 2>&1; then
    backend="$fast"
  else
    backend="$build/tests/libmls_test_golden_abi.so"
    range="${range:-0x3f000000:0x3fffffff}"
  fi
fi
# Check 0: the backend, which passes. Check 1 (when the range holds 0x3f9d70a4): the same backend
# made wrong on that one input (tests/fixtures/single_input_bug_shim.c), so that the merge joins a
# mismatch class found by one task; the variable reaches the tasks through sbatch --export=ALL.
plan=("--backend-lib $backend --grid mxfp4 --rounding rne${range:+ --range $range}")
shim="$build/tests/libmls_single_input_bug.so"
bad=$((0x3f9d70a4))
lo=$(( ${range:+${range%%:*}}+0 )) hi=$(( ${range:+${range##*:}}+0 ))
[ -n "$range" ] || hi=$((0xffffffff))
if [ -f "$shim" ] && [ "$lo" -le "$bad" ] && [ "$bad" -le "$hi" ]; then
  export MLS_SHIM_TARGET="$backend"
  plan+=("--backend-lib $shim --grid mxfp4 --rounding rne${range:+ --range $range}")
fi
printf '%s\n' "${plan[@]}" >"$work/plan.txt"
echo "== 4-task array per check:"; sed 's/^/   mls check /' "$work/plan.txt"
bash "$root/scripts/slurm/submit.sh" --plan "$work/plan.txt" --shards 4 --out "$work/out" --mls "$mls" --wait
squeue || true
status=0
for i in "${!plan[@]}"; do
  dir="$work/out/$(printf '%04d' "$i")"
  echo "== unsharded run of check $i"
  # shellcheck disable=SC2086
  "$mls" check ${plan[$i]} --exhaustive --no-progress --report-json "$dir/unsharded.json" || [ $? -le 1 ]
  /usr/bin/python3 - "$dir/unsharded.json" "$dir/merged.json" "$i" <<'PY' || status=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for r in (a, b):
    r.pop("run")
if a != b:
    print("check %s: the merged report differs from the unsharded run" % sys.argv[3])
    sys.exit(1)
if sys.argv[3] == "1" and [c["first_inputs"] for c in a["classes"]] != [["0x3f9d70a4"]]:
    print("check 1: the single wrong input 0x3f9d70a4 is not the one mismatch reported")
    sys.exit(1)
print("check %s: merged report of 4 Slurm tasks == unsharded run: %s, %d inputs checked, %d mismatched%s"
      % (sys.argv[3], a["result"], a["inputs"]["checked"], a["inputs"]["mismatched"],
         "".join(" (%s)" % " ".join(c["first_inputs"]) for c in a["classes"])))
PY
done
cat "$work/out/summary.tsv"
exit "$status"
