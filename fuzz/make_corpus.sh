#!/usr/bin/env bash
# Writes the committed seed corpora of the fuzz harnesses (fuzz/corpus/<harness>/)
# and fuzz/data/vectors-small.h5, from the level-1 suite, `mls serve` and the
# spec's examples. Deterministic; rerun after a schema or protocol change.
# Usage: fuzz/make_corpus.sh path/to/mls
set -euo pipefail
mls="$(realpath "$1")"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/fuzz/corpus"
py=/usr/bin/python3
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"
mkdir -p "$out"/{format,case_json,serve_request,protocol_reply,npy,h5_read,suite_bytes,fast_abi} "$root/fuzz/data"

# A small vector file (the results seeds answer it; fuzz_h5_read loads it).
"$mls" gen -q --ops quantize,philox -f mls-e2m1 -r rne -o "$root/fuzz/data/vectors-small.h5"
"$mls" gen -q --ops philox -o "$tmp/philox.h5"
"$mls" gen -q --level 1 -o "$tmp/level1.h5"

# The level-1 suite's formats and roundings, as attributes hold them (JSON, short names, names).
$py - "$tmp/level1.h5" "$out/format" <<'PY'
import h5py, sys, hashlib, os
seen = set()
def add(s):
    if isinstance(s, bytes): s = s.decode()
    if s in seen: return
    seen.add(s)
    open(os.path.join(sys.argv[2], hashlib.sha1(s.encode()).hexdigest()[:16]), "w").write(s)
with h5py.File(sys.argv[1]) as f:
    for op in f:
        for g in list(f[op])[:40]:
            a = f[op][g].attrs
            for k in ("format", "format_short", "a_format", "a_format_short", "b_format_short", "rounding", "rounding_name", "profile", "arith"):
                if k in a: add(a[k])
# Spec 2.7 / 2.8 / 3 examples and the options of the short-name grammar.
for s in ["e2m1.g4m1", "e2m1.g4m1/1x16x0x0", "e3m2.g5m2/1x16x0x0", "e2m1b2z.g4m1:floor:poszero:ovf_error",
          "e4m3.g8m0/1x1x0x0:nearest", "e0m3.g4m1", "e2m1g4m1", "mls-e2m1", "mls-e2m4", "sr8", "sr:8", "rne", "rto",
          '{"element":{"exp_bits":2,"man_bits":1},"group_scale":{"exp_bits":4,"man_bits":1}}',
          '{"mode":"sr","bits":8}', '{"mode":"rne"}']:
    add(s)
PY

# Protocol requests exactly as the runner sends them (a replay of a part of the
# level-1 suite and a short random campaign), and the replies `mls serve` gives.
"$mls" gen -q --ops quantize,dequantize,conv,gemm -f mls-e2m1,e3m2.g5m2/1x16x0x0 -r rne,sr8 --arith exact,acc24 -o "$tmp/replay.h5"
"$mls" check --replay "$tmp/replay.h5" --backend-cmd "tee -a $tmp/requests.jsonl | $mls serve | tee -a $tmp/replies.jsonl" >/dev/null 2>&1 || true
"$mls" check --random --cases 12 --seed 3 --backend-cmd "tee -a $tmp/requests.jsonl | $mls serve | tee -a $tmp/replies.jsonl" >/dev/null 2>&1 || true
$py - "$tmp" "$out" <<'PY'
import json, sys, os, hashlib, random
tmp, out = sys.argv[1], sys.argv[2]
reqs = [l.rstrip("\n") for l in open(os.path.join(tmp, "requests.jsonl")) if l.strip()]
reps = [l.rstrip("\n") for l in open(os.path.join(tmp, "replies.jsonl")) if l.strip()]
rng = random.Random(1)
def put(d, text):
    b = text.encode() if isinstance(text, str) else text
    open(os.path.join(out, d, hashlib.sha1(b).hexdigest()[:16]), "wb").write(b)
def small(lines, n, limit=3000):
    by_op = {}
    for l in lines:
        if len(l) > limit: continue
        try: op = json.loads(l).get("op") or ("hello" if "protocol" in l else "reply")
        except Exception: continue
        by_op.setdefault(op, []).append(l)
    pick = []
    for op, ls in sorted(by_op.items()):
        rng.shuffle(ls)
        pick += ls[:n]
    return pick
for l in small(reqs, 6, 2000):
    put("serve_request", l)
    j = json.loads(l)
    if j.get("op") != "hello":
        put("case_json", l)
        put("case_json", json.dumps({"schema": "mls-case", "version": 1, "case": j}))
put("case_json", json.dumps([json.loads(l) for l in small(reqs, 1) if '"hello"' not in l]))
put("serve_request", '{"op":"hello"}')
put("serve_request", '{"id":1,"op":"quantize","format":"mls-e2m1","shape":[2],"x":[1065353216,1050253722]}')
# Replies: the first byte is the request id the harness expects (0..3).
for l in small(reps, 6, 2000):
    j = json.loads(l)
    k = rng.randrange(4)
    if "id" in j: j["id"] = k
    put("protocol_reply", bytes([k]) + json.dumps(j, separators=(",", ":")).encode())
put("protocol_reply", b"\x01" + b'{"id":1,"error":"x[2] is NaN"}')
put("protocol_reply", b"\x02" + b'{"id":2,"unsupported":"sr"}')
put("protocol_reply", b"\x00" + b'{"protocol":1,"name":"n","supports":{"ops":["quantize"],"modes":["rne"]}}')
PY

# .npy: the bundled tensor and small arrays of every accepted and some refused kinds.
cp "$root/data/demo_activation.npy" "$out/npy/demo_activation.npy"
$py - "$out/npy" <<'PY'
import numpy as np, sys, os, io
d = sys.argv[1]
def save(name, a, version=None):
    b = io.BytesIO()
    if version: np.lib.format.write_array(b, a, version=version)
    else: np.save(b, a)
    open(os.path.join(d, name), "wb").write(b.getvalue())
save("f4_2x3.npy", np.arange(6, dtype=np.float32).reshape(2, 3) / 7)
save("f4_scalar.npy", np.float32(1.5))
save("f8_exact.npy", np.array([0.5, -2.0, 3.0], dtype=np.float64))
save("u4_words.npy", np.array([0, 1, 0xFFFFFFFF, 12345], dtype=np.uint32))
save("f4_v2.npy", np.ones((1, 1, 2, 2), dtype=np.float32), version=(2, 0))
save("f4_fortran.npy", np.asfortranarray(np.ones((2, 2), dtype=np.float32)))
save("i8.npy", np.arange(3, dtype=np.int64))
PY

# HDF5: the small vector file, results files written by h5py as the README's
# offline example does (one with a wrong element), and a user tensor file.
cp "$tmp/philox.h5" "$out/h5_read/vectors-philox.h5"
$py - "$root/fuzz/data/vectors-small.h5" "$out/h5_read" <<'PY'
import h5py, numpy as np, sys, os
v = h5py.File(sys.argv[1])
for name, groups, wrong in (("results-h5py.h5", ["/quantize/0000", "/philox/0000"], False),
                            ("results-mismatch.h5", ["/quantize/0001"], True), ("results-philox.h5", ["/philox/0001"], False)):
    with h5py.File(os.path.join(sys.argv[2], name), "w") as r:
        r.attrs.update(schema="mls-vectors", schema_version=1, kind="results", generator="seed 1.0")
        for g in groups:
            out = r.create_group(g).create_group("outputs")
            for ds in v[g]["outputs"]:
                out[ds] = v[g]["outputs"][ds][...]
        if wrong:
            a = r["/quantize/0001/outputs/elements"]; x = a[...]; x.flat[0] ^= 1; a[...] = x
with h5py.File(os.path.join(sys.argv[2], "tensor.h5"), "w") as t:
    t["/x"] = np.arange(8, dtype=np.float32).reshape(2, 4)
    t["/x"].attrs["role"] = "activation"
PY

# The bytes an isolated reader hands back (vectors/src/safe_read.cpp encode_suite), written the same way.
$py - "$out/suite_bytes" <<'PY'
import struct, sys, os
def u8(v): return struct.pack("<B", v)
def u64(v): return struct.pack("<Q", v & (2**64 - 1))
def s(t): t = t.encode(); return u64(len(t)) + t
def attrs(d):
    b = u64(len(d))
    for k in sorted(d):
        t, v = d[k]
        b += s(k) + u8(t)
        b += s(v) if t == 0 else u64(v) if t in (1, 2) else u64(len(v)) + b"".join(u64(x) for x in v)
    return b
def array(dtype, dims, ints=(), strs=()):
    return u8(dtype) + u64(len(dims)) + b"".join(u64(x) for x in dims) + u64(len(ints)) + b"".join(u64(x) for x in ints) + u64(len(strs)) + b"".join(s(x) for x in strs)
root = {"schema": (0, "mls-vectors"), "schema_version": (1, 1), "kind": (0, "results"), "case_count": (2, 2)}
g = s("/round/0000") + u8(5) + attrs({"op": (0, "round"), "shape": (3, [1, 2])}) + u64(3)
g += s("info/exact_mant") + array(4, [2], strs=["3", "-5"])
g += s("outputs/code") + array(1, [2], ints=[1, 7])
g += s("outputs/status") + array(0, [2], ints=[0, 3])
data = s("mls-suite-bytes 1") + attrs(root) + u64(1) + g
open(os.path.join(sys.argv[1], "suite1"), "wb").write(data)
open(os.path.join(sys.argv[1], "empty-suite"), "wb").write(s("mls-suite-bytes 1") + attrs({}) + u64(0))
PY

# The C ABI harness reads its input through FuzzedDataProvider: random bytes are as good as any.
$py - "$out/fast_abi" <<'PY'
import random, sys, os
rng = random.Random(15)
for i in range(24):
    open(os.path.join(sys.argv[1], f"seed{i:02d}"), "wb").write(bytes(rng.randrange(256) for _ in range(rng.choice([16, 64, 256, 1024]))))
PY

# The format family (spec 1.1, 2.9, 4.12, 5.3): every named format's short name
# and JSON form as a family suite's attributes hold them, the short-name options
# of the family, and round requests, quantize requests with an arithmetic
# profile and their replies (a family replay and a random campaign with --arith).
fam="mxfp8-e4m3,mxfp8-e5m2,mxfp6-e2m3,mxfp6-e3m2,mxfp4,mxint8,nvfp4"
"$mls" gen -q --ops quantize,dequantize -f "$fam" -r rne,sr8 -o "$tmp/family.h5"
$py - "$tmp/family.h5" "$out/format" <<'PY'
import h5py, sys, hashlib, os
seen = set()
def add(s):
    if isinstance(s, bytes): s = s.decode()
    if s in seen: return
    seen.add(s)
    open(os.path.join(sys.argv[2], hashlib.sha1(s.encode()).hexdigest()[:16]), "w").write(s)
with h5py.File(sys.argv[1]) as f:
    for op in f:
        for g in list(f[op])[:60]:
            a = f[op][g].attrs
            for k in ("format", "format_short", "grid", "grid_short", "element", "rounding", "rounding_name", "profile", "arith"):
                if k in a and isinstance(a[k], (str, bytes)): add(a[k])
for s in ["mxfp8-e4m3", "mxfp8-e5m2", "mxfp6-e2m3", "mxfp6-e3m2", "mxfp4", "mxint8", "nvfp4",
          "e4m3b7n.g8m0b127n/blk32:ocp:tscale_one:nonfinite_propagate", "e5m2b15i.g8m0b127n/blk32:ocp",
          "i8.g8m0b127n/blk32:ocp:tscale_one", "e2m1b1.e4m3b7n/blk16:nearest", "e2m1b1.g8m0b127n/blk32:ocp_ceil",
          "e2m1b1.g8m0b127n/blk32:ocp_even", "e2m1b1.g8m0b127n/blk32x1:floor", "e4m3b7n.g8m0b127n/1x32:ovf_nan",
          "e5m2b15i.g8m0b127n/blk32:ovf_inf:nonfinite_propagate", "e2m1b1z.g4m1:poszero",
          "fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1", "int8", "e8m0",
          "exact", "fp32_div", "fp32_reciprocal", "torchao_mx", "torchao_mx_rceil", "torchao_nvfp4", "te_mxfp8", "te_nvfp4",
          "e4m3b7n", "e5m2b15i", "g8m0b127n", "i8", "e2m1b1z", "e4m3b7n.g8m0b127n",
          '{"bias":7,"exp_bits":4,"man_bits":3,"specials":"nan_all_ones","zero":"subnormal"}',
          '{"bias":127,"exp_bits":8,"man_bits":0,"signed":false,"specials":"nan_all_ones","zero":"none"}',
          '{"bias":0,"encoding":"twos_complement","exp_bits":0,"man_bits":7,"zero":"subnormal"}',
          '{"profile":"exact"}',
          '{"profile":"accumulator","frac_bits":24,"width":48,"alignment":"rne","final_rounding":"rne","overflow":"saturate","inter_group":"exact"}',
          '{"profile":"accumulator","frac_bits":12,"width":16,"alignment":"rtz","final_rounding":"rne","overflow":"wrap","inter_group":"fp32"}']:
    add(s)
PY
: >"$tmp/requests.jsonl"
: >"$tmp/replies.jsonl"
# Small family vector files for fuzz_h5_read: one NVFP4 quantize group (a shard)
# and NVFP4's round cases.
"$mls" gen -q --ops quantize -f nvfp4 -r rne --shard 0/3 -o "$out/h5_read/vectors-nvfp4-quantize.h5"
"$mls" gen -q --ops round -f nvfp4 -r rne -o "$out/h5_read/vectors-nvfp4-round.h5"
"$mls" check --replay "$tmp/family.h5" --backend-cmd "tee -a $tmp/requests.jsonl | $mls serve | tee -a $tmp/replies.jsonl" >/dev/null 2>&1 || true
"$mls" check --random --cases 12 --seed 5 --ops round,quantize --formats "$fam" \
  --arith exact,fp32_div,fp32_reciprocal,torchao_mx,torchao_mx_rceil,torchao_nvfp4,te_mxfp8,te_nvfp4 \
  --backend-cmd "tee -a $tmp/requests.jsonl | $mls serve | tee -a $tmp/replies.jsonl" >/dev/null 2>&1 || true
$py - "$tmp" "$out" <<'PY'
import json, sys, os, hashlib, random
tmp, out = sys.argv[1], sys.argv[2]
rng = random.Random(2)
def put(d, b):
    b = b.encode() if isinstance(b, str) else b
    open(os.path.join(out, d, hashlib.sha1(b).hexdigest()[:16]), "wb").write(b)
def key(j):  # op, arithmetic profile, format: one seed of each kind
    return (j.get("op"), json.dumps(j.get("arith")), json.dumps(j.get("format") or j.get("grid") or j.get("element")))
picked = {}
for l in open(os.path.join(tmp, "requests.jsonl")):
    l = l.rstrip("\n")
    if not l or len(l) > 4000: continue
    j = json.loads(l)
    if j.get("op") in (None, "hello"): continue
    picked.setdefault(key(j), l)
for l in sorted(picked.values()):
    put("serve_request", l)
    put("case_json", l)
for l in sorted(picked.values())[::4]:
    put("case_json", json.dumps({"schema": "mls-case", "version": 1, "case": json.loads(l)}))
reps = {}
for l in open(os.path.join(tmp, "replies.jsonl")):
    l = l.rstrip("\n")
    if not l or len(l) > 4000: continue
    j = json.loads(l)
    reps.setdefault(tuple(sorted(j.keys())), []).append(j)
for ks, js in sorted(reps.items()):
    for j in js[:4]:
        k = rng.randrange(4)
        if "id" in j: j["id"] = k
        put("protocol_reply", bytes([k]) + json.dumps(j, separators=(",", ":")).encode())
PY
du -sh "$out" "$root/fuzz/data"
for d in "$out"/*; do echo "$(basename "$d"): $(ls "$d" | wc -l) files, $(du -sk "$d" | cut -f1) KiB"; done
