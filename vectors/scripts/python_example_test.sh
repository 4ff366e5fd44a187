#!/bin/sh
# The h5py + numpy example (tools/read_vectors.py) reads a generated file,
# decodes its codes, agrees with the expected outputs and recomputes the digests.
set -eu
mls=$1
example=$2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
"$mls" gen -q -o "$d/v.h5" -f mls-e2m1,mls-e3m3,e2m1z.g4m1 -r rne,sr8 --arith exact,acc24
/usr/bin/python3 "$example" --verify-digests --cases 1 "$d/v.h5"
