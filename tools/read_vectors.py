#!/usr/bin/python3
"""Read an mls-vectors HDF5 file with h5py and numpy only (spec/08-vectors.md).

    /usr/bin/python3 tools/read_vectors.py VECTORS.h5 [--verify-digests] [--cases N]

Prints the root attributes and every case group, decodes element and
group-scale codes to values from the format's numeric attributes, and checks
its own decoding against the file: a dequantize case's fp64 outputs must equal
tensor_scale * group_scale * element computed here, and a quantize case's
codes must dequantize to within one grid gap of the input. With
--verify-digests it recomputes the SHA-256 digests of section 8.6. Exits 1
on a disagreement. Uses no code of this project.
"""
import argparse
import hashlib
import struct
import sys

import h5py
import numpy as np


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def decode(codes, exp_bits, man_bits, bias, signed, has_zero):
    """Minifloat codes -> float64 values (spec 01: sign | exponent | mantissa)."""
    c = np.asarray(codes, dtype=np.int64)
    e = (c >> man_bits) & ((1 << exp_bits) - 1)
    f = c & ((1 << man_bits) - 1)
    normal = np.ldexp(1.0 + np.ldexp(f.astype(np.float64), -man_bits), (e - bias).astype(np.int32))
    sub = np.ldexp(f.astype(np.float64), int(1 - bias - man_bits))
    mag = np.where((e == 0) & has_zero, sub, normal)
    if signed:
        mag = np.where((c >> (exp_bits + man_bits)) & 1 == 1, -mag, mag)
    return mag


def elements(g, codes, p=""):
    a = g.attrs
    return decode(codes, int(a[p + "element_exp_bits"]), int(a[p + "element_man_bits"]),
                  int(a[p + "element_bias"]), True, True)


def group_scales(g, codes, p=""):
    a = g.attrs
    return decode(codes, int(a[p + "group_exp_bits"]), int(a[p + "group_man_bits"]),
                  int(a[p + "group_bias"]), False, False)


def fp32(bits):
    return np.asarray(bits, dtype=np.uint32).view(np.float32).astype(np.float64)


def expand(g, per_group, shape, tile):
    """Broadcast one value per group to every element (groups are row-major tiles, spec 2.4)."""
    tiles = [(s + t - 1) // t for s, t in zip(shape, tile)]
    idx = np.indices(shape)
    gid = np.zeros(shape, dtype=np.int64)
    for ax in range(len(shape)):
        gid = gid * tiles[ax] + idx[ax] // tile[ax]
    return per_group[..., gid]


def check_dequantize(g):
    shape, tile = list(g.attrs["shape"]), list(g.attrs["tile"])
    ts = fp32(g["inputs/tensor_scale"][()])
    gs = group_scales(g, g["inputs/group_scales"][()])
    el = elements(g, g["inputs/elements"][()])
    want = ts.reshape((-1,) + (1,) * len(shape)) * expand(g, gs, shape, tile) * el
    got = g["outputs/fp64"][()].view(np.float64)
    # float64 products are exact while the three significands fit 53 bits (spec 4.7).
    bits = 24 + int(g.attrs["group_man_bits"]) + 1 + int(g.attrs["element_man_bits"]) + 1
    if bits <= 53 and not np.array_equal(np.abs(want), np.abs(got)):
        return "fp64 outputs differ from tensor_scale * group_scale * element"
    return None


def check_quantize(g):
    shape, tile = list(g.attrs["shape"]), list(g.attrs["tile"])
    ok = g["outputs/status"][()] == 0
    x = fp32(g["inputs/x"][()])[ok]
    ts = fp32(g["outputs/tensor_scale"][()])[ok]
    scale = ts.reshape((-1,) + (1,) * len(shape)) * expand(g, group_scales(g, g["outputs/group_scales"][()][ok]), shape, tile)
    deq = scale * elements(g, g["outputs/elements"][()][ok])
    # Coarse bound: the largest gap of the grid, 2^(max(2^E - 1, 1) - bias - M).
    a = g.attrs
    e_max = max((1 << int(a["element_exp_bits"])) - 1, 1)
    gap = 2.0 ** (e_max - int(a["element_bias"]) - int(a["element_man_bits"]))
    qmax = np.max(np.abs(elements(g, np.arange(1 << (int(a["element_bits"]) - 1)))))
    inside = np.abs(x) <= scale * qmax           # elements beyond q_max saturate (floor policy)
    if np.any(inside & (np.abs(deq - x) > scale * gap * (1 + 1e-9))):
        return "a quantized element is more than one grid gap away from its input"
    return None


def digest_item(h, tag, name, typ, dims, payload):
    h.update(tag + struct.pack("<I", len(name)) + name.encode() + typ + struct.pack("<I", len(dims)))
    for d in dims:
        h.update(struct.pack("<Q", d))
    h.update(payload)


def strings_payload(items):
    w = max([1] + [len(s) for s in items])
    return struct.pack("<I", w) + b"".join(s.ljust(w, b"\0") for s in items)


def hash_attrs(h, attrs, skip):
    for k in sorted(attrs.keys(), key=lambda s: s.encode()):
        if k == skip:
            continue
        v = attrs[k]
        if isinstance(v, (bytes, str)):
            digest_item(h, b"A", k, b"s", [], strings_payload([v if isinstance(v, bytes) else v.encode()]))
        elif np.ndim(v) == 0:
            t = b"Q" if np.asarray(v).dtype.kind == "u" else b"q"
            digest_item(h, b"A", k, t, [], np.asarray(v).astype("<u8" if t == b"Q" else "<i8").tobytes())
        else:
            digest_item(h, b"A", k, b"q", [len(v)], np.asarray(v).astype("<i8").tobytes())


def group_digest(g):
    h = hashlib.sha256()
    hash_attrs(h, g.attrs, "sha256")
    names = sorted(f"{s}/{d}" for s in g for d in g[s])
    for n in names:
        a = g[n][()]
        if a.dtype.kind == "S":
            payload = strings_payload([s.rstrip(b"\0") for s in a.reshape(-1)])
            typ = b"s"
        else:
            typ = {"uint8": b"B", "uint32": b"I", "uint64": b"Q", "int64": b"q"}[str(a.dtype)]
            payload = a.astype(a.dtype.newbyteorder("<")).tobytes()
        digest_item(h, b"D", n, typ, list(a.shape), payload)
    return h.digest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--verify-digests", action="store_true")
    ap.add_argument("--cases", type=int, default=3, help="round cases to print per group")
    args = ap.parse_args()
    problems = []
    with h5py.File(args.file, "r") as f:
        r = f.attrs
        print(f"{args.file}: schema {text(r['schema'])} v{int(r['schema_version'])}, {text(r['kind'])}, "
              f"generator {text(r.get('generator', b'?'))}, spec {text(r.get('spec_version', b'?'))}, "
              f"seed {int(r.get('seed', 0))}, level {int(r.get('level', 0))}")
        paths = []
        for op in f:
            for name in f[op]:
                g = f[op][name]
                paths.append(g.name)
                print(f"{g.name}: {int(g.attrs['case_count'])} cases  {text(g.attrs['label'])}")
                if op == "round":
                    ts, gs = fp32(g["inputs/tensor_scale"][()]), group_scales(g, g["inputs/group_scale"][()])
                    x, code = fp32(g["inputs/x"][()]), g["outputs/code"][()]
                    val = elements(g, code)
                    for k in range(min(args.cases, len(x))):
                        print(f"    x={x[k]!r} scale={ts[k] * gs[k]!r} x/scale={x[k] / (ts[k] * gs[k])!r} "
                              f"word=0x{int(g['inputs/rand'][k]):08x} -> code {int(code[k])} = {val[k]!r}")
                elif op == "dequantize":
                    msg = check_dequantize(g)
                    if msg:
                        problems.append(f"{g.name}: {msg}")
                elif op == "quantize":
                    msg = check_quantize(g)
                    if msg:
                        problems.append(f"{g.name}: {msg}")
        if args.verify_digests:
            h = hashlib.sha256()
            hash_attrs(h, r, "content_sha256")
            for p in sorted(paths, key=lambda s: s.encode()):
                d = group_digest(f[p])
                if d.hex() != text(f[p].attrs["sha256"]):
                    problems.append(f"{p}: sha256 differs from the recomputed digest")
                digest_item(h, b"G", p, b"h", [], d)
            if h.hexdigest() != text(r["content_sha256"]):
                problems.append("/: content_sha256 differs from the recomputed digest")
            else:
                print(f"digests verified: content_sha256 {h.hexdigest()}")
    for p in problems:
        print("MISMATCH", p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
