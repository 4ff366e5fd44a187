#!/bin/sh
# Benchmark (not a test): level-2 generation throughput per op and the total
# for every named profile (spec/08-vectors.md 8.13).
#   sh vectors/scripts/bench_level2.sh path/to/mls [jobs]
set -eu
mls=$1
jobs=${2:-2}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
printf '%-11s %10s %9s %9s %12s %9s\n' op cases wall_s cpu_s cases/s_wall MiB
for op in round quantize dequantize philox conv gemm; do
  /usr/bin/time -f '%e %U %S' -o "$d/t" "$mls" gen -q --level 2 --ops "$op" -j "$jobs" -o "$d/$op.h5"
  cases=$("$mls" vinfo --no-verify "$d/$op.h5" | sed -n 's/^  case_count: //p')
  read -r wall user sys < "$d/t"
  mib=$(($(stat -c %s "$d/$op.h5") / 1048576))
  awk -v op="$op" -v c="$cases" -v w="$wall" -v u="$user" -v s="$sys" -v m="$mib" \
    'BEGIN { printf "%-11s %10d %9.2f %9.2f %12.0f %9d\n", op, c, w, u + s, c / w, m }'
  rm -f "$d/$op.h5"
done
/usr/bin/time -f '%e %U %S' -o "$d/t" "$mls" gen -q --level 2 -j "$jobs" -o "$d/all.h5"
read -r wall user sys < "$d/t"
cases=$("$mls" vinfo --no-verify "$d/all.h5" | sed -n 's/^  case_count: //p')
awk -v c="$cases" -v w="$wall" -v u="$user" -v s="$sys" -v m="$(($(stat -c %s "$d/all.h5") / 1048576))" \
  'BEGIN { printf "%-11s %10d %9.2f %9.2f %12.0f %9d\n", "all", c, w, u + s, c / w, m }'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), cores: $(nproc), jobs: $jobs"
