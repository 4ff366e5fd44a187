#!/usr/bin/env bash
# Replays `mls export` hex files under Icarus Verilog, one vvp run per file:
# round groups through the quantizer (tb/tb_round.sv), gemm groups through
# the dot-product unit (tb/tb_gemm.sv; the exact profile and accumulator
# profiles with inter_group = exact; fp32 inter-group files are skipped and
# counted). A testbench is compiled once per parameter set found in the headers.
#   icarus_replay.sh HEXDIR [IVERILOG] [VVP]
# Exit status 0 when every file passes, 1 otherwise (2: nothing to replay).
set -euo pipefail
hexdir=$1
iverilog=${2:-iverilog}
vvp=${3:-vvp}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
files=0 failed=0 cases=0 skipped=0
num() { sed -E "s/.*\"$1\":([0-9]+).*/\\1/" <<<"$2"; }
str() { sed -E "s/.*\"$1\":\"([a-z0-9_]+)\".*/\\1/" <<<"$2"; }
mode() { case $1 in rne) echo 0 ;; rna) echo 1 ;; rtz) echo 2 ;; rup) echo 3 ;; rdn) echo 4 ;; *) echo 9 ;; esac; }
# the resolved tile of one axis: 0 or more than the axis = the whole axis
tile() { if [ "$1" -eq 0 ] || [ "$1" -gt "$2" ]; then echo "$2"; else echo "$1"; fi; }
start=$(date +%s.%N)
for f in "$hexdir"/round-*.hex; do
  [ -e "$f" ] || continue
  fmt=$(grep -m1 '^// format: ' "$f")
  el=$(sed -E 's/.*"element":\{([^}]*)\}.*/\1/' <<<"$fmt")
  gs=$(sed -E 's/.*"group_scale":\{([^}]*)\}.*/\1/' <<<"$fmt")
  E=$(num exp_bits "$el") M=$(num man_bits "$el") B=$(num bias "$el") EG=$(num exp_bits "$gs") MG=$(num man_bits "$gs")
  Z=0; grep -q '"zero":"zero_only"' <<<"$el" && Z=1
  pz=""; grep -q '"signed_zero":"positive"' <<<"$fmt" && pz="+poszero"
  tag="e${E}m${M}b${B}z${Z}g${EG}m${MG}"
  if [ ! -e "$work/$tag.vvp" ]; then
    "$iverilog" -g2012 -o "$work/$tag.vvp" -P tb_round.E="$E" -P tb_round.M="$M" -P tb_round.BIAS="$B" \
      -P tb_round.ZERO_ONLY="$Z" -P tb_round.EG="$EG" -P tb_round.MG="$MG" \
      "$here/tb/tb_round.sv" "$here/rtl/mls_quantizer.sv" "$here/rtl/mls_div_stage.sv"
  fi
  files=$((files + 1))
  n=$(grep -vc '^//' "$f")
  cases=$((cases + n))
  if ! "$vvp" -n "$work/$tag.vvp" "+file=$f" $pz; then
    failed=$((failed + 1))
  fi
done
for f in "$hexdir"/gemm-*.hex; do
  [ -e "$f" ] || continue
  fa=$(grep -m1 '^// a_format: ' "$f")
  fb=$(grep -m1 '^// b_format: ' "$f")
  ar=$(grep -m1 '^// arith: ' "$f")
  el=$(sed -E 's/.*"element":\{([^}]*)\}.*/\1/' <<<"$fa")
  gs=$(sed -E 's/.*"group_scale":\{([^}]*)\}.*/\1/' <<<"$fa")
  E=$(num exp_bits "$el") M=$(num man_bits "$el") B=$(num bias "$el") EG=$(num exp_bits "$gs") MG=$(num man_bits "$gs")
  elb=$(sed -E 's/.*"element":\{([^}]*)\}.*/\1/' <<<"$fb")
  gsb=$(sed -E 's/.*"group_scale":\{([^}]*)\}.*/\1/' <<<"$fb")
  if [ "$el" != "$elb" ] || [ "$gs" != "$gsb" ] || [ "$B" -ne $(((1 << E) - 1)) ] || [ "$E" -lt 1 ]; then
    skipped=$((skipped + 1)); continue
  fi
  if grep -q '"profile":"exact"' <<<"$ar"; then
    F=$((2 * (B + M - 1))) W=48 OVF=2 AL=2 FI=0
  else
    if [ "$(str inter_group "$ar")" != exact ]; then skipped=$((skipped + 1)); continue; fi
    F=$(num frac_bits "$ar") W=$(num width "$ar") AL=$(mode "$(str alignment "$ar")") FI=$(mode "$(str final_rounding "$ar")")
    case $(str overflow "$ar") in saturate) OVF=0 ;; wrap) OVF=1 ;; *) OVF=2 ;; esac
  fi
  read -r MM KK < <(grep -m1 '^// a_shape: ' "$f" | sed -E 's/.*\[([0-9]+),([0-9]+)\].*/\1 \2/')
  read -r _ NN < <(grep -m1 '^// b_shape: ' "$f" | sed -E 's/.*\[([0-9]+),([0-9]+)\].*/\1 \2/')
  ga=$(sed -E 's/.*"group_shape":\[([0-9,]*)\].*/\1/' <<<"$fa")
  gb=$(sed -E 's/.*"group_shape":\[([0-9,]*)\].*/\1/' <<<"$fb")
  [ -n "$ga" ] || ga=1,1   # the rank-2 default layout (2.4): one-element groups
  [ -n "$gb" ] || gb=1,1
  ta0=$(tile "${ga%,*}" "$MM") ta1=$(tile "${ga#*,}" "$KK") tb0=$(tile "${gb%,*}" "$KK") tb1=$(tile "${gb#*,}" "$NN")
  tag="dot-e${E}m${M}g${EG}m${MG}f${F}w${W}o${OVF}"
  if [ ! -e "$work/$tag.vvp" ]; then
    "$iverilog" -g2012 -o "$work/$tag.vvp" -P tb_gemm.E="$E" -P tb_gemm.M="$M" -P tb_gemm.EG="$EG" -P tb_gemm.MG="$MG" \
      -P tb_gemm.F="$F" -P tb_gemm.W="$W" -P tb_gemm.OVF="$OVF" "$here/tb/tb_gemm.sv" "$here/rtl/mls_dot.sv"
  fi
  files=$((files + 1))
  n=$(grep -vc '^//' "$f")
  cases=$((cases + n))
  if ! "$vvp" -n "$work/$tag.vvp" "+file=$f" +M="$MM" +K="$KK" +N="$NN" +ta0="$ta0" +ta1="$ta1" +tb0="$tb0" \
    +tb1="$tb1" +align="$AL" +final="$FI"; then
    failed=$((failed + 1))
  fi
done
end=$(date +%s.%N)
if [ "$files" -eq 0 ]; then
  echo "no round-*.hex or usable gemm-*.hex files in $hexdir" >&2
  exit 2
fi
awk -v f="$files" -v c="$cases" -v s="$start" -v e="$end" -v bad="$failed" -v sk="$skipped" \
  'BEGIN { printf "icarus replay: %d files, %d cases, %d files failed, %d files skipped (no RTL model), %.1f s, %.0f cases/s\n", f, c, bad, sk, e - s, c / (e - s) }'
[ "$failed" -eq 0 ]
