#!/usr/bin/env python3
"""Differential test: the numpy example backend against the golden model's `mls serve`.

Both processes speak process protocol v1. This script generates random
quantize and dequantize requests biased toward edge cases (ties, subnormal
inputs, -0, all-zero tensors, every rounding mode, sr words at the carry
threshold, saturation, zero_only gaps, tiny and huge biases, static tensor
scales, invalid inputs), sends each request to both, and compares the replies
field by field. Both answering "error" counts as agreement (the messages may
differ); any other difference is a mismatch and is printed with the request.

    diff_against_serve.py --serve "build/tools/mls serve" --cases 300 --seed 1
    diff_against_serve.py --mls build/tools/mls --backend "python3 my_backend.py"

Exit status: 0 all replies agree, 1 a mismatch, 2 a backend failed (crash,
hang, malformed reply, wrong id, failed handshake).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import shlex
import struct
import subprocess
import sys
import time
from fractions import Fraction

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BACKEND = [sys.executable, os.path.join(HERE, os.pardir, "examples", "numpy_backend.py")]
MODES = ["rne", "rna", "rtz", "rup", "rdn", "rto", "sr"]
PROFILES = ["mls-e2m1", "mls-e2m4", "mls-e3m3", "mls-e2m1-g3m0", "mls-fixed4"]


class BackendFailure(Exception):
    pass


class Proc:
    """One protocol-v1 process: send a request line, read one reply line within a timeout."""

    def __init__(self, cmd, label, timeout):
        self.label, self.timeout = label, timeout
        try:
            self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        except OSError as e:
            raise BackendFailure(f"{label}: cannot start {cmd}: {e}") from None
        self.buf = b""
        self.next_id = 0
        hello = self.ask({"op": "hello"}, with_id=False)
        if hello.get("protocol") != 1:
            raise BackendFailure(f"{label}: hello does not declare protocol 1: {hello}")
        self.hello = hello

    def _readline(self):
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BackendFailure(f"{self.label}: no reply within {self.timeout} s")
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 1 << 16)
                if not chunk:
                    raise BackendFailure(f"{self.label}: closed its stdout (exit status {self.p.poll()})")
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def ask(self, req, with_id=True):
        req = dict(req)
        if with_id:
            self.next_id += 1
            req["id"] = self.next_id
        try:
            self.p.stdin.write((json.dumps(req, separators=(",", ":")) + "\n").encode())
        except BrokenPipeError:
            raise BackendFailure(f"{self.label}: stopped reading its stdin") from None
        line = self._readline()
        try:
            rep = json.loads(line)
        except ValueError:
            raise BackendFailure(f"{self.label}: reply is not JSON: {line[:200]!r}") from None
        if not isinstance(rep, dict):
            raise BackendFailure(f"{self.label}: reply is not an object: {line[:200]!r}")
        if with_id and rep.get("id") != req["id"]:
            raise BackendFailure(f"{self.label}: reply id {rep.get('id')!r}, expected {req['id']}")
        return rep

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=5)
        except Exception:
            self.p.kill()
            self.p.wait()


# ---------------------------------------------------------------------------------------------
# Generators (exact: everything is built from fp32 bit patterns and small integers)


def f32_bits(v: float) -> int:
    return struct.unpack("<I", struct.pack("<f", v))[0]


def dyadic_bits(m: int, e: int) -> int:
    """fp32 bits of m * 2^e when it is exactly representable (else None)."""
    if m == 0:
        return 0
    v = float(m) * 2.0 ** e if -1100 < e < 1000 else None
    if v is None or v != v or abs(v) == float("inf"):
        return None
    try:
        b = f32_bits(v)
    except OverflowError:
        return None
    if struct.unpack("<f", struct.pack("<I", b))[0] != v:
        return None
    return b


def fraction_bits(v: Fraction):
    """fp32 bits of the exact value v, or None when v is not an fp32 value."""
    try:
        f = float(v)
    except OverflowError:
        return None
    if Fraction(f) != v or f != f or abs(f) == float("inf"):
        return None
    try:
        b = f32_bits(f)
    except OverflowError:
        return None
    return b if Fraction(struct.unpack("<f", struct.pack("<I", b))[0]) == v else None


def grid_magnitudes(E, M, bias, zero):
    """Valid magnitudes of an element grid, increasing (spec 1.3-1.5), as Fractions."""
    out = []
    for mc in range(1 << (E + M)):
        e, f = mc >> M, mc & ((1 << M) - 1)
        if e == 0:
            if zero == "zero_only" and f:
                continue
            out.append(Fraction(f, 1 << M) * Fraction(2) ** (1 - bias))
        else:
            out.append((1 + Fraction(f, 1 << M)) * Fraction(2) ** (e - bias))
    return out


def group_ids(shape, gshape):
    gshape = gshape or ([1, 1] + [0] * (len(shape) - 2) if len(shape) >= 2 else [0])
    res = [n if g == 0 or g > n else g for n, g in zip(shape, gshape)]
    tiles = [-(-n // g) for n, g in zip(shape, res)]
    ids = [0]
    for n, g, t in zip(shape, res, tiles):
        ids = [gid * t + i // g for gid in ids for i in range(n)]
    return ids, max(ids) + 1


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def chance(self, p):
        return self.r.random() < p

    def element(self):
        r = self.r
        if self.chance(0.7):
            e, m = r.randint(0, 4), r.randint(0, 4)
        else:
            e, m = r.randint(0, 8), r.choice([0, 1, 2, 3, 5, 7, 10, 15, 23])
        if e + m == 0:
            m = 1
        el = {"exp_bits": e, "man_bits": m}
        if self.chance(0.3):
            base = (1 << e) - 1 if e else 0
            el["bias"] = base + r.choice([-3, -2, -1, 1, 2, 5, r.randint(-40, 40),
                                           r.choice([-150, 150, -1000, 300, 100000, -100000])])
        if e >= 1 and self.chance(0.35):
            el["zero"] = "zero_only"
        return el

    def fmt(self, rank=None):
        r = self.r
        f = {"element": self.element()}
        if self.chance(0.8):
            if self.chance(0.7):
                f["group_scale"] = {"exp_bits": r.randint(1, 5), "man_bits": r.randint(0, 3)}
            else:
                f["group_scale"] = {"exp_bits": r.randint(1, 8), "man_bits": r.choice([0, 1, 4, 9, 23])}
        if rank is not None and self.chance(0.5):
            f["group_shape"] = [r.choice([0, 1, 1, 2, 3, 4, 7]) for _ in range(rank)]
        if self.chance(0.4):
            f["scale_policy"] = r.choice(["ceil", "nearest", "floor"])
        if self.chance(0.3):
            f["signed_zero"] = r.choice(["preserve", "positive"])
        if self.chance(0.15):
            f["overflow"] = "error"
        return f

    def shape(self):
        r = self.r
        rank = r.choice([1, 1, 2, 2, 3, 4])
        dims = [r.choice([1, 1, 2, 3, 4, 5]) for _ in range(rank)]
        return dims

    def word(self, bits):
        r = self.r
        k = r.random()
        if k < 0.4:
            return r.getrandbits(32)
        if k < 0.5:
            return r.choice([0, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF])
        # r near a threshold: a value of the top `bits` bits, with the low bits all 0 or all 1
        top = r.randrange(1 << bits)
        low = 0 if self.chance(0.5) else (1 << (32 - bits)) - 1
        return (top << (32 - bits)) | low if bits < 32 else top

    def structured_values(self, fmt, shape):
        """Values whose quotients are exact grid points, midpoints (ties) and near-ties: S_t is
        2^j (the tensor maximum is q_max * g_max * 2^j) and each group's maximum pins its group
        scale to a grid value g, under every scale policy."""
        r = self.r
        el = fmt["element"]
        E, M = el["exp_bits"], el["man_bits"]
        bias = el.get("bias", (1 << E) - 1 if E else 0)
        mags = grid_magnitudes(E, M, bias, el.get("zero", "subnormal"))
        gs = fmt.get("group_scale", {"exp_bits": 4, "man_bits": 1})
        gmags = [(1 + Fraction(mc & ((1 << gs["man_bits"]) - 1), 1 << gs["man_bits"]))
                 * Fraction(2) ** ((mc >> gs["man_bits"]) - ((1 << gs["exp_bits"]) - 1))
                 for mc in range(1 << (gs["exp_bits"] + gs["man_bits"]))]
        ids, groups = group_ids(shape, fmt.get("group_shape"))
        j = r.choice([0, 0, 1, -2, 5, -20, r.randint(-60, 60)])
        gval = [r.choice(gmags[-3:] + [r.choice(gmags)]) for _ in range(groups)]
        gval[r.randrange(groups)] = gmags[-1]
        qmax = mags[-1]
        out, pinned = [], set()
        for i, g in enumerate(ids):
            scale = gval[g] * Fraction(2) ** j
            if g not in pinned and (self.chance(0.3) or i == len(ids) - 1 or ids[i + 1:].count(g) == 0):
                v = qmax * scale  # pins the group maximum
                pinned.add(g)
            else:
                # the gap above zero (subnormal or zero_only) and the top gap are the special ones
                k = r.choice([0, 0, len(mags) - 2, r.randrange(len(mags)), r.randrange(len(mags)),
                              r.randrange(len(mags)), r.randrange(len(mags)), r.randrange(len(mags))])
                lo, hi = mags[k], mags[min(k + 1, len(mags) - 1)]
                kind = r.random()
                if kind < 0.45:
                    q = (lo + hi) / 2  # a tie
                elif kind < 0.65:
                    q = lo
                elif kind < 0.85:
                    q = lo + (hi - lo) * Fraction(r.choice([1, 3, 5, 7]), r.choice([4, 8, 16, 256]))
                else:
                    q = (lo + hi) / 2 * (1 + Fraction(r.choice([-1, 1]), 1 << r.randint(10, 23)))
                v = min(q, qmax) * scale
            b = fraction_bits(v)
            if b is None:
                b = fraction_bits(qmax * scale) if g not in pinned else 0
                if b is None:
                    b = 0
            if self.chance(0.5):
                b |= 0x80000000
            out.append(b)
        return out

    def values(self, n, fmt):
        """fp32 bit patterns, edge-biased. Many are small integers times one power of two, so that
        quotients by a power-of-two-ish scale land on ties and on grid points."""
        r = self.r
        style = r.random()
        j = r.choice([0, 0, -1, -3, 3, -20, -126, -140, 20, 100, r.randint(-149, 120)])
        out = []
        for _ in range(n):
            k = r.random()
            if style < 0.45:  # small odd multiples of 2^j: ties and exact values
                m = r.choice([0, 1, 2, 3, 5, 7, 9, 11, 13, 15, 17, 24, 31, 33, 63, 127, 255])
                b = dyadic_bits(m, j + r.randint(-4, 0))
                if b is None:
                    b = f32_bits(1.0)
            elif style < 0.7:  # random fp32 of moderate magnitude
                b = f32_bits(r.uniform(-4, 4) * 2.0 ** r.randint(-10, 10))
            elif style < 0.8:  # subnormal fp32
                b = r.randint(0, 0x7FFFFF)
            else:  # anything finite
                b = r.getrandbits(32)
                while (b >> 23) & 0xFF == 0xFF:
                    b = r.getrandbits(32)
            if k < 0.08:
                b = 0
            if self.chance(0.5):
                b |= 0x80000000
            out.append(b & 0xFFFFFFFF)
        if self.chance(0.05):
            out = [self.r.choice([0, 0x80000000]) for _ in range(n)]  # all-zero tensor (4.2)
        if self.chance(0.02):
            out[r.randrange(n)] = r.choice([0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001])  # 4.1
        return out

    def quantize(self):
        r = self.r
        shape = self.shape()
        n = 1
        for d in shape:
            n *= d
        fmt = self.fmt(len(shape))
        if self.chance(0.1):
            fmt = r.choice(PROFILES + ["e2m1.g4m1/1x1x0x0:floor", "e2m1z.g4m1:nearest:poszero",
                                       "e3m2b5z.g5m2", "e0m3.g4m1:ovf_error", "e4m3.g8m0:floor",
                                       "e2m1b-2.g3m0:nearest", "e1m0.g1m0"])
            if fmt.count("/") and len(shape) != 4:
                fmt = "e2m1.g4m1:floor"
        mode = r.choice(MODES + ["sr", "rne", "rne"])
        rounding = {"mode": mode}
        if mode == "sr":
            bits = r.choice([1, 2, 3, 8, 8, 16, 31, 32, r.randint(1, 32)])
            rounding["bits"] = bits
        if isinstance(fmt, dict) and fmt["element"]["exp_bits"] + fmt["element"]["man_bits"] <= 6 \
                and fmt.get("group_scale", {}).get("exp_bits", 4) + fmt.get("group_scale", {}).get("man_bits", 1) <= 8 \
                and self.chance(0.6):
            x = self.structured_values(fmt, shape)
        else:
            x = self.values(n, fmt)
        req = {"op": "quantize", "format": fmt, "rounding": rounding, "shape": shape, "x": x}
        if mode == "sr":
            req["rand"] = [self.word(rounding["bits"]) for _ in range(n)]
        if self.chance(0.15):
            req["tensor_scale"] = r.choice([0x3F800000, 0x3F000000, 0x40000000, 0x00000001, 0x00400000,
                                            0x7F7FFFFF, f32_bits(r.uniform(0.01, 10))])
        return req

    def dequantize(self):
        r = self.r
        shape = self.shape()
        fmt = self.fmt(len(shape))
        el = fmt["element"]
        E, M = el["exp_bits"], el["man_bits"]
        gs = fmt.get("group_scale", {"exp_bits": 4, "man_bits": 1})
        # group count by the layout rule (2.4)
        gshape = fmt.get("group_shape") or ([1, 1] + [0] * (len(shape) - 2) if len(shape) >= 2 else [0])
        groups = 1
        for nn, g in zip(shape, gshape):
            g = nn if g == 0 or g > nn else g
            groups *= -(-nn // g)
        n = 1
        for d in shape:
            n *= d
        wcode = 1 << (1 + E + M)
        zero_only = el.get("zero") == "zero_only"

        def ecode():
            c = r.choice([0, 1, wcode // 2, wcode // 2 - 1, wcode - 1, r.randrange(wcode), r.randrange(wcode)])
            if zero_only and (c & (wcode // 2 - 1)) >> M == 0 and (c & ((1 << M) - 1)) != 0:
                c &= ~((1 << M) - 1)  # keep it valid
            return c

        elements = [ecode() for _ in range(n)]
        gscales = [r.choice([0, (1 << (gs["exp_bits"] + gs["man_bits"])) - 1,
                             r.randrange(1 << (gs["exp_bits"] + gs["man_bits"]))]) for _ in range(groups)]
        ts = r.choice([0x3F800000, 0x00000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0x3F8E38E4,
                       r.randint(1, 0x7F7FFFFF), r.randint(1, 0x7F7FFFFF)])
        if self.chance(0.03):
            elements[r.randrange(n)] = wcode  # invalid code: both must refuse
        if self.chance(0.03):
            ts = r.choice([0, 0x80000000, 0x7F800000, 0xBF800000])
        tensor = {"format": fmt, "shape": shape, "tensor_scale": ts, "group_scales": gscales, "elements": elements}
        return {"op": "dequantize", "tensor": tensor}


    def corrupt(self, req):
        """One invalid field (spec 07): both sides must refuse the request."""
        r = self.r
        req = json.loads(json.dumps(req))
        q = req["tensor"] if req["op"] == "dequantize" else req
        fmt = q["format"]
        choices = ["shape0", "shape_empty", "count", "unknown_top"]
        if isinstance(fmt, dict):
            choices += ["exp9", "man24", "float_int", "unknown_fmt", "gs_bias", "gshape_rank", "gshape_neg",
                        "zero_none", "policy", "bool_int"]
        if req["op"] == "quantize":
            choices += ["bits33", "mode", "x_big", "x_str", "ts_neg"]
        if req["op"] == "dequantize":
            choices += ["gcount", "gcode", "missing"]
        c = r.choice(choices)
        if c == "shape0":
            q["shape"][r.randrange(len(q["shape"]))] = 0
        elif c == "shape_empty":
            q["shape"] = []
        elif c == "count":
            key = "x" if req["op"] == "quantize" else "elements"
            q[key] = q[key] + [0]
        elif c == "unknown_top":
            return None  # unknown request members are ignored by both; not an error case
        elif c == "exp9":
            fmt["element"]["exp_bits"] = 9
        elif c == "man24":
            fmt["element"]["man_bits"] = 24
        elif c == "float_int":
            fmt["element"]["man_bits"] = float(fmt["element"]["man_bits"])
        elif c == "bool_int":
            fmt["element"]["exp_bits"] = True
        elif c == "unknown_fmt":
            fmt["blocksize"] = 32
        elif c == "gs_bias":
            fmt["group_scale"] = {"exp_bits": 4, "man_bits": 1, "bias": 7}
        elif c == "gshape_rank":
            fmt["group_shape"] = [1] * (len(q["shape"]) + 1)
        elif c == "gshape_neg":
            fmt["group_shape"] = [-1] * len(q["shape"])
        elif c == "zero_none":
            fmt["element"]["zero"] = "none"
        elif c == "policy":
            fmt["scale_policy"] = "round"
        elif c == "bits33":
            req["rounding"] = {"mode": "sr", "bits": 33}
            req["rand"] = [0] * len(req["x"])
        elif c == "mode":
            req["rounding"] = {"mode": "rnd"}
        elif c == "x_big":
            req["x"][0] = 1 << 32
        elif c == "x_str":
            req["x"][0] = "1"
        elif c == "ts_neg":
            req["tensor_scale"] = 0xBF800000
        elif c == "gcount":
            q["group_scales"] = q["group_scales"] + [0]
        elif c == "gcode":
            gs = fmt.get("group_scale", {"exp_bits": 4, "man_bits": 1}) if isinstance(fmt, dict) else None
            if gs is None:
                return None
            q["group_scales"][0] = 1 << (gs["exp_bits"] + gs["man_bits"])
        elif c == "missing":
            del q[r.choice(["format", "shape", "tensor_scale", "group_scales", "elements"])]
        return req


# ---------------------------------------------------------------------------------------------


def compare(req, a, b):
    """None if the replies agree, else a description of the first difference."""
    a_err, b_err = "error" in a, "error" in b
    if a_err and b_err:
        return None
    if "unsupported" in b and "error" not in a:
        return None  # the backend declines a member of the family it does not compute: a skip
    if a_err != b_err or "unsupported" in a or "unsupported" in b:
        return f"golden: {json.dumps(a)[:300]}\n  backend: {json.dumps(b)[:300]}"
    keys = ["tensor_scale", "group_scales", "elements"] if req["op"] == "quantize" else ["shape", "y"]
    for k in keys:
        if a.get(k) != b.get(k):
            va, vb = a.get(k), b.get(k)
            if isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb):
                i = next(i for i in range(len(va)) if va[i] != vb[i])
                return f"field {k}[{i}]: golden {va[i]:#x}, backend {vb[i]:#x}"
            return f"field {k}: golden {va!r}, backend {vb!r}"
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    who = ap.add_mutually_exclusive_group(required=True)
    who.add_argument("--serve", help='golden model command line, e.g. "build/tools/mls serve"')
    who.add_argument("--mls", help="path of the mls executable (runs MLS serve)")
    ap.add_argument("--backend", default=None, help="backend command (default: the numpy example)")
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per reply")
    ap.add_argument("--max-mismatches", type=int, default=5)
    args = ap.parse_args(argv)

    backend_cmd = shlex.split(args.backend) if args.backend else DEFAULT_BACKEND
    gen = Gen(args.seed)
    stats = {"quantize": 0, "dequantize": 0, "both_error": 0, "mismatch": 0}
    t0 = time.monotonic()
    golden = backend = None
    try:
        golden = Proc([args.mls, "serve"] if args.mls else shlex.split(args.serve), "golden", args.timeout)
        backend = Proc(backend_cmd, "backend", args.timeout)
        for case in range(args.cases):
            req = gen.quantize() if gen.chance(0.6) else gen.dequantize()
            if gen.chance(0.05):
                req = gen.corrupt(req) or req
            a, b = golden.ask(req), backend.ask(req)
            stats[req["op"]] += 1
            if "error" in a and "error" in b:
                stats["both_error"] += 1
            diff = compare(req, a, b)
            if diff:
                stats["mismatch"] += 1
                print(f"MISMATCH case {case} (seed {args.seed}): {diff}\n  request: {json.dumps(req)}")
                if stats["mismatch"] >= args.max_mismatches:
                    break
    except BackendFailure as e:
        print(f"BACKEND FAILURE: {e}")
        return 2
    finally:
        for p in (golden, backend):
            if p is not None:
                p.close()
    print(f"{args.cases} cases, seed {args.seed}: {stats['quantize']} quantize, {stats['dequantize']} dequantize, "
          f"{stats['both_error']} rejected by both, {stats['mismatch']} mismatches "
          f"({time.monotonic() - t0:.1f} s)")
    return 1 if stats["mismatch"] else 0


if __name__ == "__main__":
    sys.exit(main())
