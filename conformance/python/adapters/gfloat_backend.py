#!/usr/bin/env python3
"""gfloat (Graphcore) under test: round_float + encode_float, and its MX block encoding (protocol v1).

    mls check --backend-cmd "build/outside-venv/bin/python conformance/python/adapters/gfloat_backend.py" \\
              --random --ops round,quantize --cases 300

What is called:

- ``round``: ``gfloat.encode_float(fi, gfloat.round_float(fi, v, rnd, sat, srbits, srnumbits))`` per value,
  with ``v = ldexp(x, -k)`` for a scale 2^k (exact in float64; other scales are
  unsupported). ``sat=True`` is overflow = saturate; ``sat=False`` is the
  format's own overflow: Inf (e5m2, binary16, bfloat16), NaN (e4m3) or a
  ``ValueError`` (fp6, fp4, int8: the policy ``error``).
- ``quantize`` (MX profiles): per block of the request's layout,
  ``q_scale = gfloat.compute_scale_amax(fi.etype.emax, vals)``, then
  ``list(gfloat.encode_block(fi, q_scale, vals / q_scale, rnd))`` -- exactly the
  steps of ``gfloat.quantize_block``, keeping the codes it encodes rather than
  the values it decodes. ``vals`` is a float32 array (the input's type), or
  float64 with ``--dtype float64``.

Rounding modes (gfloat RoundMode -> spec 3.3/3.4):
TiesToEven rne, TiesToAway rna, TowardZero rtz, TowardPositive rup,
TowardNegative rdn, and for ``sr`` with R bits ``StochasticFastest`` with
``srnumbits = R`` and ``srbits = r`` (the word's top R bits): its rule
``delta + srbits * 2^-srnumbits >= 1`` is the spec's ``t + r/2^R >= 1``.
gfloat's other stochastic modes are not a spec mode; ``--sr-variant
Stochastic|StochasticOdd|StochasticFast`` answers the ``sr`` requests with
one of them instead, so that the report can show how each differs from the
spec's rule (the hello name says which). There is no round-to-odd.

Grids: fp8_e4m3 (ocp_e4m3), fp8_e5m2, fp6_e2m3, fp6_e3m2, fp4_e2m1, int8
(ocp_int8), e5m10b15i (binary16), e8m7b127i (bfloat16). ocp_e8m0 is unsigned
(not an element grid of the round op); the P3109 formats put NaN at the -0
code, which the family's descriptor does not express.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import replace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _adapter as ad  # noqa: E402
from _adapter import mb  # noqa: E402

EXPECTED = "0.5.2"
if ad.arg_value(sys.argv, "--version-check") == "off":
    os.environ["MLS_OUTSIDE_ANY_VERSION"] = "1"
np = mb.require("numpy", None, ad.INSTALL_HINT)
gfloat = mb.require("gfloat", EXPECTED, ad.INSTALL_HINT)
GFLOAT_VERSION = ad.versions("gfloat")["gfloat"]
from gfloat import RoundMode  # noqa: E402
import gfloat.formats as gf  # noqa: E402

SR_VARIANT = ad.arg_value(sys.argv, "--sr-variant", "StochasticFastest")
if SR_VARIANT not in ("StochasticFastest", "Stochastic", "StochasticOdd", "StochasticFast"):
    sys.exit(f"gfloat_backend.py: --sr-variant {SR_VARIANT} is not one of StochasticFastest, Stochastic, "
             "StochasticOdd, StochasticFast")
DTYPE = ad.arg_value(sys.argv, "--dtype", "float32")
if DTYPE not in ("float32", "float64"):
    sys.exit(f"gfloat_backend.py: --dtype {DTYPE} is not float32 or float64")

MODES = {"rne": RoundMode.TiesToEven, "rna": RoundMode.TiesToAway, "rtz": RoundMode.TowardZero,
         "rup": RoundMode.TowardPositive, "rdn": RoundMode.TowardNegative, "sr": getattr(RoundMode, SR_VARIANT)}
ALL = tuple(MODES)
ZEROS = ("preserve",)
CASTS = [
    ad.Cast("fp8_e4m3", "format_info_ocp_e4m3", ("saturate", "nan"), ALL, ZEROS, "pow2"),
    ad.Cast("fp8_e5m2", "format_info_ocp_e5m2", ("saturate", "infinity"), ALL, ZEROS, "pow2"),
    ad.Cast("fp6_e2m3", "format_info_ocp_e2m3", ("saturate", "error"), ALL, ZEROS, "pow2"),
    ad.Cast("fp6_e3m2", "format_info_ocp_e3m2", ("saturate", "error"), ALL, ZEROS, "pow2"),
    ad.Cast("fp4_e2m1", "format_info_ocp_e2m1", ("saturate", "error"), ALL, ZEROS, "pow2"),
    ad.Cast("int8", "format_info_ocp_int8", ("saturate", "error"), ALL, ("preserve", "positive"), "pow2",
            note="two's complement: one zero code"),
    ad.Cast("e5m10b15i", "format_info_binary16", ("saturate", "infinity"), ALL, ZEROS, "pow2"),
    ad.Cast("e8m7b127i", "format_info_bfloat16", ("saturate", "infinity"), ALL, ZEROS, "pow2"),
]
FI = {c.grid: getattr(gf, c.target) for c in CASTS}

# MX block formats: the profile's element grid -> gfloat's BlockFormatInfo.
BLOCK = {"mxfp8-e4m3": "format_info_mxfp8_e4m3", "mxfp8-e5m2": "format_info_mxfp8_e5m2",
         "mxfp6-e2m3": "format_info_mxfp6_e2m3", "mxfp6-e3m2": "format_info_mxfp6_e3m2",
         "mxfp4": "format_info_mxfp4_e2m1", "mxint8": "format_info_mxint8"}
BLOCK_SIZES = (32, 16, 8, 4)  # gfloat's encode_block takes a block of any length
MX_FORMATS = {}
for prof, attr in BLOCK.items():
    for bs in BLOCK_SIZES:
        f = replace(mb.PROFILE_FORMATS[prof], block_size=bs)
        MX_FORMATS[f] = (getattr(gf, attr), prof if bs == 32 else f.short_name())
QUANT_MODES = ("rne", "rna", "rtz", "rup", "rdn")  # encode_block passes no random bits


def round_op(req: dict) -> dict:
    r = mb.parse_round(req)
    c = ad.find_cast(CASTS, r, "gfloat")
    fi = FI[c.grid]
    k = r.scale_pow2() or 0
    sat = r.overflow == "saturate"
    rnd = MODES[r.rounding.mode]
    R = r.rounding.bits
    x = ad.f32(ad.fp32_words(req)).astype(np.float64)
    codes = []
    for i, v in enumerate(x.tolist()):
        v = math.ldexp(v, -k) if math.isfinite(v) else v
        kw = {}
        if r.rounding.mode == "sr":
            kw = {"srbits": mb.sr_r(r.rand[i], R), "srnumbits": R}
        q = mb.library_call(f"gfloat.round_float({c.target}, x[{i}])", gfloat.round_float, fi, v, rnd, sat, **kw)
        codes.append(mb.library_call(f"gfloat.encode_float({c.target}, x[{i}])", gfloat.encode_float, fi, q))
    return {"codes": codes}


def quantize_op(req: dict) -> dict:
    fmt = mb.parse_format(req["format"]) if "format" in req else mb.parse_format(None)
    if fmt not in MX_FORMATS:
        raise mb.Unsupported(f"gfloat has no block format {fmt.short_name()}")
    fi, _ = MX_FORMATS[fmt]
    rnd = mb.parse_rounding(req.get("rounding"))
    if rnd.mode not in QUANT_MODES:
        raise mb.Unsupported(f"gfloat encode_block: rounding {rnd.name()} (it passes no random bits)")
    if req.get("arith", "exact") != "exact":
        raise mb.Unsupported(f'arithmetic profile {req.get("arith")}: gfloat divides by a power of two')
    if req.get("tensor_scale") is not None:
        raise mb.Unsupported("gfloat MX blocks have no tensor scale")
    shape = mb.parse_shape(req.get("shape"))
    xb = ad.fp32_words(req)
    if xb.size != math.prod(shape):
        raise mb.ProtocolError(f"x has {xb.size} values but shape {list(shape)} has {math.prod(shape)} elements")
    x = ad.f32(xb).astype(DTYPE)
    layout = fmt.layout(shape)
    gids = np.asarray(layout.group_ids())
    order = np.argsort(gids, kind="stable")
    bounds = np.searchsorted(gids[order], np.arange(layout.groups + 1))
    scales = [0] * layout.groups
    elements = np.zeros(xb.size, dtype=np.int64)
    for g in range(layout.groups):
        idx = order[bounds[g]:bounds[g + 1]]
        vals = x[idx]
        where = f"block {g}"
        with np.errstate(all="ignore"):
            q_scale = mb.library_call(f"gfloat.compute_scale_amax ({where})", gfloat.compute_scale_amax,
                                      fi.etype.emax, vals)
            scaled = vals / q_scale
            codes = mb.library_call(f"gfloat.encode_block ({where})",
                                    lambda: list(gfloat.encode_block(fi, q_scale, scaled, MODES[rnd.mode])))
        scales[g] = codes[0]
        elements[idx] = codes[1:]
    return {"tensor_scale": mb.FP32_ONE, "group_scales": scales, "elements": elements}


def make_backend() -> mb.Backend:
    name = f"gfloat {GFLOAT_VERSION}" + (f" (sr = {SR_VARIANT})" if SR_VARIANT != "StochasticFastest" else "") + \
        (f" (blocks in {DTYPE})" if DTYPE != "float32" else "")
    b = mb.Backend(name, modes=ALL, formats=[label for _, label in MX_FORMATS.values()],
                   elements=ad.declared_elements(CASTS), version=GFLOAT_VERSION,
                   supports_extra={"casts": ad.describe_casts(CASTS), "sr_variant": SR_VARIANT, "block_dtype": DTYPE,
                                   "library": ad.versions("gfloat", "numpy")})
    b.register("round", round_op)
    b.register("quantize", quantize_op)
    return b


if __name__ == "__main__":
    sys.exit(make_backend().serve())
