#!/bin/sh
# `mls gen --shard` + `mls merge` give the unsharded file byte for byte;
# `mls export` writes hex files whose header count and checksum match their
# data; bad inputs exit 65 naming the problem (spec/08-vectors.md).
set -eu
mls=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
args="--ops round,quantize,philox,gemm -f mls-e2m1,e2m1z.g4m1 -r rne,sr8 --arith exact --seed 5"
"$mls" gen -q -o "$d/whole.h5" $args
for i in 0 1 2 3; do "$mls" gen -q -o "$d/part$i.h5" $args --shard "$i/4"; done
"$mls" merge -o "$d/merged.h5" "$d/part3.h5" "$d/part1.h5" "$d/part0.h5" "$d/part2.h5" > /dev/null
cmp "$d/whole.h5" "$d/merged.h5" || fail "merged shards differ from the unsharded file"

"$mls" export "$d/whole.h5" -o "$d/hex" > /dev/null
n=0
for f in "$d"/hex/*.hex; do
  want=$(sed -n 's|^// sha256: \([0-9a-f]*\).*|\1|p' "$f")
  got=$(grep -v '^//' "$f" | sha256sum | cut -c1-64)
  [ "$want" = "$got" ] || fail "$f: header sha256 $want, data $got"
  cases=$(sed -n 's|^// cases: ||p' "$f")
  lines=$(grep -vc '^//' "$f")
  [ "$cases" = "$lines" ] || fail "$f: header says $cases cases, has $lines lines"
  digits=$(sed -n 's|^// hex_digits: ||p' "$f")
  bad=$(grep -v '^//' "$f" | awk -v w="$digits" 'length($0) != w || $0 !~ /^[0-9a-f]+$/' | wc -l)
  [ "$bad" = 0 ] || fail "$f: $bad lines are not $digits hex digits"
  n=$((n + 1))
done
[ "$n" -gt 10 ] || fail "only $n hex files"
ls "$d"/hex/round-*-sr8.hex > /dev/null || fail "no per-mode round file"
"$mls" export "$d/whole.h5" -o "$d/jsonl" --jsonl --ops philox > /dev/null
[ "$(cat "$d"/jsonl/*.jsonl | wc -l)" -gt 100 ] || fail "too few JSON lines"

# Runs a command that must exit 65; its message goes to $d/msg.
expect65() {
  set +e
  "$@" > "$d/msg" 2>&1
  rc=$?
  set -e
  [ "$rc" = 65 ] || fail "exit $rc (want 65): $*: $(cat "$d/msg")"
}
printf 'not hdf5' > "$d/text.h5"
expect65 "$mls" vinfo "$d/text.h5"
grep -q "not an HDF5 file" "$d/msg" || fail "no 'not an HDF5 file' message"
head -c 20000 "$d/whole.h5" > "$d/cut.h5"
expect65 "$mls" vinfo "$d/cut.h5"
grep -q "cut.h5: file checksum mismatch" "$d/msg" || fail "truncated file not reported: $(cat "$d/msg")"
expect65 "$mls" merge -o "$d/m2.h5" "$d/part0.h5" "$d/part1.h5"
grep -q "shard 2/4 is missing" "$d/msg" || fail "missing shard not named"
[ ! -e "$d/m2.h5" ] || fail "a failed merge left an output file"
expect65 "$mls" gen -o "$d/x.h5" --shard 4/4
grep -q "shard" "$d/msg" || fail "bad --shard not named"
expect65 "$mls" gen -o "$d/x.h5" -f e9m1.g4m1
grep -q "exp_bits" "$d/msg" || fail "bad format not named"
[ ! -e "$d/x.h5" ] || fail "a failed gen left an output file"
ls "$d" | grep -q 'tmp-' && fail "a temporary file was left behind"
echo "cli ok: shards merge bit for bit, $n hex files consistent, bad inputs exit 65"
