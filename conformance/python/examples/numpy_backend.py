#!/usr/bin/env python3
"""numpy_backend: an MLS quantize/dequantize backend in Python, bit-exact to the spec.

Run it as a process-protocol-v1 backend (spec/09-protocol.md):

    mls check --backend-cmd "/usr/bin/python3 conformance/python/examples/numpy_backend.py" \\
              --random --cases 200 --seed 1 --ops quantize,dequantize

Written from the specification text (spec/01-05), not from the C++ reference.
numpy handles the arrays (bit patterns, group numbering, group maxima); every
rounding decision is made exactly with Python integers: all values are dyadic
rationals N * 2^k, so |v| = num/den with integers, and each decision compares
integers (spec README, "Exact arithmetic").

Ops: quantize (spec 4.1-4.6) and dequantize to fp32 (spec 4.7). Rounding modes:
all seven (spec 3.3-3.4). Formats: every MLS format of spec 1.0 (spec 02; the rest of the family is declined as unsupported), given as JSON,
profile name or short name.
"""

from __future__ import annotations

import math
import os
import sys

try:
    import numpy as np
except ImportError:  # say why on stderr; the runner then reports a failed handshake
    sys.exit("numpy_backend.py needs numpy (Debian: python3-numpy; run it with /usr/bin/python3)")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
import mls_backend as mb  # noqa: E402

FP32_INF = 0x7F800000


# ----------------------------------------------------------------------------------------------
# Exact helpers


def _scaled(num: int, den: int, shift: int):
    """num/den * 2^shift as an integer pair (num', den') with den' > 0."""
    return (num << shift, den) if shift >= 0 else (num, den << -shift)


def _floor_log2(num: int, den: int) -> int:
    """floor(log2(num/den)) for num, den > 0."""
    k = num.bit_length() - den.bit_length()
    if (num < (den << k)) if k >= 0 else ((num << -k) < den):
        k -= 1
    return k


def _cmp_dyadic(num: int, den: int, n: int, k: int) -> int:
    """Sign of num/den - n*2^k."""
    a, b = (num, den * n << k) if k >= 0 else (num << -k, den * n)
    return (a > b) - (a < b)


def _divide_by_pow2(num: int, den: int, p: int):
    """L = floor(v / 2^p) and the remainder fraction t = tn/td of v/2^p - L, for v = num/den."""
    n, d = (num, den << p) if p >= 0 else (num << -p, den)
    L, tn = divmod(n, d)
    return L, tn, d


def _away(mode: str, negative: bool, lo: int, hi: int, tn: int, td: int, bits: int, word: int) -> bool:
    """Spec 3.3/3.4: take hi (away from zero) rather than lo, for an inexact |v| with t = tn/td in (0, 1)."""
    if mode == "rne":
        c = 2 * tn - td
        if c != 0:
            return c > 0
        if (lo & 1) == 0 and (hi & 1) == 0:
            return False  # zero_only gap: tie to zero
        return (hi & 1) == 0  # the neighbour whose code ends in 0
    if mode == "rna":
        return 2 * tn >= td
    if mode == "rtz":
        return False
    if mode == "rup":
        return not negative
    if mode == "rdn":
        return negative
    if mode == "rto":
        return (lo & 1) == 0  # lo if it ends in 1, else hi (also when neither does)
    if mode == "sr":
        r = word >> (32 - bits)
        T = (tn << bits) // td  # floor(t * 2^R)
        return T + r >= (1 << bits)
    raise mb.ProtocolError(f'rounding mode "{mode}" is unknown')


def round_to_grid(grid: mb.Minifloat, negative: bool, num: int, den: int, mode: str, bits: int = 8,
                  word: int = 0, overflow: str = "saturate", signed_zero: str = "preserve",
                  what: str = "value") -> int:
    """Spec 3.2 on an MLS grid (nonfinite = none): the code of v = (-1)^negative * num/den."""
    E, M, b = grid.exp_bits, grid.man_bits, grid.bias
    sign = grid.sign_bit if negative else 0
    if negative and not grid.signed and num != 0:
        raise mb.ProtocolError(f"{what}: a negative value cannot be rounded to the unsigned grid {grid.name()}")

    def finish(mcode: int) -> int:
        if grid.zero != "none" and mcode == 0 and signed_zero == "positive":
            return 0
        return sign | mcode

    # Step 1: below code 0 of a grid without zero -> code 0 (clamped_min).
    if grid.zero == "none":
        n0, k0 = grid.magnitude(0)
        if _cmp_dyadic(num, den, n0, k0) < 0:
            return 0
    # Step 2: above the largest value -> saturate or error; equal to it is exact.
    nq, kq = grid.max_value
    c = _cmp_dyadic(num, den, nq, kq)
    if c > 0:
        if overflow == "error":
            top = grid.magnitude_fraction(grid.max_mcode)
            raise mb.ProtocolError(f"{what}: magnitude above the largest value {float(top)!r} of {grid.name()} "
                                   "(overflow policy error)")
        return finish(grid.max_mcode)
    if c == 0:
        return finish(grid.max_mcode)
    if num == 0:
        return finish(0)
    # Step 3: neighbours lo, hi, and the gap u = 2^p between them.
    e = _floor_log2(num, den) + b  # the exponent field if |v| is in a normal row
    emin = 0 if grid.zero == "none" else 1
    if E >= 1 and e >= emin:  # normal row e: u = 2^(e-b-M), L = 2^M + f
        p = e - b - M
        L, tn, td = _divide_by_pow2(num, den, p)
        lo = (e << M) + L - (1 << M)
        hi = lo + 1  # carries into the next row at the top of a row
    elif grid.zero == "zero_only":  # the gap from zero to the smallest normal 2^(1-b)
        L, tn, td = _divide_by_pow2(num, den, 1 - b)
        lo, hi = 0, 1 << M
    else:  # subnormal row (or E = 0): u = 2^(1-b-M), L = f
        L, tn, td = _divide_by_pow2(num, den, 1 - b - M)
        lo, hi = L, L + 1
    if tn == 0:
        return finish(lo)
    return finish(hi if _away(mode, negative, lo, hi, tn, td, bits, word) else lo)


def round_fp32(negative: bool, num: int, den: int, mode: str) -> int:
    """Spec 3.7: v = (-1)^negative * num/den on the binary32 grid, policy infinity; modes rne, rup, rdn, rtz."""
    sign = 0x80000000 if negative else 0
    if num == 0:
        return sign
    e = _floor_log2(num, den) + 127
    if e >= 255:  # at or beyond the Inf position 2^128: t >= 1
        away = mode == "rne" or (mode == "rup" and not negative) or (mode == "rdn" and negative)
        return sign | (FP32_INF if away else 0x7F7FFFFF)
    if e >= 1:
        L, tn, td = _divide_by_pow2(num, den, e - 150)
        lo = (e << 23) + L - (1 << 23)
    else:
        L, tn, td = _divide_by_pow2(num, den, -149)
        lo = L
    if tn == 0:
        return sign | lo
    return sign | (lo + 1 if _away(mode, negative, lo, lo + 1, tn, td, 8, 0) else lo)


# ----------------------------------------------------------------------------------------------
# quantize (spec 4)

_POLICY_MODE = {"ceil": "rup", "nearest": "rne", "floor": "rdn"}  # spec 4.4


def _fp32_check_finite(xb: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(mb.bits_to_f32(xb)))
    if bad.size:
        i = int(bad[0])
        kind = "NaN" if (int(xb[i]) & 0x7FFFFF) else "Inf"
        raise mb.ProtocolError(f"x[{i}] is {kind}: MLS quantization needs finite input (4.1)")


def quantize(req: dict) -> dict:
    if "format" not in req:
        raise mb.ProtocolError('request field "format" is missing')
    fmt = _mls_format(mb.parse_format(req["format"]))
    rnd = mb.parse_rounding(req.get("rounding"))
    if req.get("arith", "exact") != "exact":
        raise mb.Unsupported(f'arithmetic profile "{req.get("arith")}": this backend computes the exact quantizer only')
    shape = mb.parse_shape(req.get("shape"))
    x = mb.parse_words(req.get("x"), "x")
    n = math.prod(shape)
    if len(x) != n:
        raise mb.ProtocolError(f"x has {len(x)} values but shape {list(shape)} has {n} elements")
    layout = fmt.layout(shape)
    words = None
    if rnd.mode == "sr":
        words = mb.parse_words(req.get("rand"), "rand")
        if len(words) != n:
            raise mb.ProtocolError(f"rand has {len(words)} words but sr needs one per element (4)")
    static = req.get("tensor_scale")
    if static is not None:
        static = mb.parse_u32(static, "tensor_scale")
        if not mb.fp32_is_finite(static) or (static & 0x7FFFFFFF) == 0 or static >> 31:
            raise mb.ProtocolError(f"tensor_scale 0x{static:08x} is not a positive finite fp32 (4.6)")

    elem, gsg = fmt.element, fmt.group_scale
    xb = np.asarray(x, dtype=np.uint32)
    _fp32_check_finite(xb)  # 4.1
    absb = (xb & np.uint32(0x7FFFFFFF)).astype(np.int64)  # for finite x >= 0, bit order = value order
    gids = np.asarray(layout.group_ids(), dtype=np.int64)
    group_max = np.zeros(layout.groups, dtype=np.int64)
    np.maximum.at(group_max, gids, absb)  # a_G as fp32 bits

    qN, qk = elem.max_value
    gN, gk = gsg.max_value
    # 4.2-4.3 (or 4.6): the tensor scale.
    if static is not None:
        ts = static
    else:
        a = int(absb.max())
        if a == 0:
            ts = mb.FP32_ONE  # 4.2: every quotient below is then an exact zero
        else:
            _, am, ae = mb.fp32_decode(a)
            num, den = _scaled(am, qN * gN, ae - qk - gk)
            ts = round_fp32(False, num, den, "rup")
            if ts == FP32_INF:
                raise mb.ProtocolError("tensor_scale: max|x| / (q_max * g_max) overflows fp32 (4.3)")
    _, tm, te = mb.fp32_decode(ts)

    # 4.4: group scales. rho = a_G / (S_t * q_max).
    pmode = _POLICY_MODE[fmt.scale_policy]
    gcodes = []
    for g in range(layout.groups):
        _, m, e = mb.fp32_decode(int(group_max[g]))
        num, den = _scaled(m, tm * qN, e - te - qk)
        gcodes.append(round_to_grid(gsg, False, num, den, pmode, what=f"group_scales[{g}]"))
    # S_t * S_g[G] as mant * 2^exp, per group.
    st_sg = [(tm * gm, te + gkk) for gm, gkk in (gsg.magnitude(c) for c in gcodes)]

    # 4.5: elements. v = x / (S_t * S_g), exact.
    codes = []
    for i in range(n):
        neg, m, e = mb.fp32_decode(x[i])
        sm, se = st_sg[gids[i]]
        num, den = _scaled(m, sm, e - se)
        codes.append(round_to_grid(elem, neg, num, den, rnd.mode, rnd.bits, words[i] if words else 0,
                                   fmt.overflow, fmt.signed_zero, what=f"x[{i}]"))
    return {"tensor_scale": ts, "group_scales": gcodes, "elements": codes}


# ----------------------------------------------------------------------------------------------
# dequantize (spec 4.7, fp32)


def _mls_format(fmt: mb.Format) -> mb.Format:
    """The MLS formats of spec 1.0 are computed here; the rest of the family (MX, NVFP4) is declined."""
    if not fmt.spec10():
        raise mb.Unsupported(f"format {fmt.short_name()} is outside the MLS formats of spec 1.0 this backend computes")
    return fmt


def dequantize(req: dict) -> dict:
    t = mb.parse_tensor(req.get("tensor"))
    _mls_format(t.format)
    elem, gsg = t.format.element, t.format.group_scale
    _, tm, te = mb.fp32_decode(t.tensor_scale)
    gids = t.layout.group_ids()
    gval = [gsg.magnitude(c) for c in t.group_scales]
    y = np.zeros(len(t.elements), dtype=np.uint32)
    for i, code in enumerate(t.elements):
        neg = bool(code & elem.sign_bit)
        qn, qk = elem.magnitude(code & elem.max_mcode)
        gm, gkk = gval[gids[i]]
        num, den = _scaled(tm * gm * qn, 1, te + gkk + qk)
        y[i] = round_fp32(neg, num, den, "rne")  # a zero element keeps its code's sign
    return {"shape": list(t.shape), "y": y}


def make_backend() -> mb.Backend:
    backend = mb.Backend("mls numpy example backend", modes=mb.ALL_MODES, formats="any", version="1")
    backend.register("quantize", quantize)
    backend.register("dequantize", dequantize)
    return backend


if __name__ == "__main__":
    sys.exit(make_backend().serve())
