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
# A results file written by h5py (variable-length string attributes, int64
# attributes, no case_count) is accepted against its vector file (8.5).
/usr/bin/python3 - "$d/v.h5" "$d/r.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as v, h5py.File(sys.argv[2], "w") as r:
    r.attrs.update(schema="mls-vectors", schema_version=1, kind="results", generator="h5py echo")
    for op in v:
        for name in v[op]:
            g = v[op][name]
            out = r.create_group(g.name).create_group("outputs")
            for ds in g["outputs"]:
                out[ds] = g["outputs"][ds][()]
PY
"$mls" vinfo "$d/r.h5" --vectors "$d/v.h5" > "$d/vinfo.txt"
head -1 "$d/vinfo.txt"
