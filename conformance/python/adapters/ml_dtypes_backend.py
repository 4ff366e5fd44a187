#!/usr/bin/env python3
"""ml_dtypes under test: numpy casts fp32 -> the low-bit dtypes of ml_dtypes (protocol v1, op `round`).

    mls check --backend-cmd "build/outside-venv/bin/python conformance/python/adapters/ml_dtypes_backend.py" \\
              --random --ops round --cases 300 \\
              --formats fp8_e4m3,fp8_e5m2,fp6_e2m3,fp6_e3m2,fp4_e2m1,e4m3b7i,e3m4b3i,e8m7b127i,e8m0,i4b-2,i2

What is called: ``np.asarray(x, float32).astype(ml_dtypes.<dtype>)``, the
cast every ml_dtypes user writes (``_src/casts.cc`` CastLoop ->
``float8_internal::ConvertImpl<float, T, kSaturate=false, kTruncate=false>``
for the floats; ``static_cast`` after ``std::trunc`` for the integers). The
code is the stored bit pattern (``.view(uint8/uint16)``, masked to the grid's
width). There is no rounding option and no scale: a request with another mode,
another overflow policy than the dtype's own, ``signed_zero = positive`` or a
scale other than 1 is unsupported (a skip).

The dtypes and the grids of the family they are (spec 1.8, 1.10):

| dtype | grid | its overflow |
|---|---|---|
| float8_e4m3fn | fp8_e4m3 (e4m3b7n) | NaN (values that round past 448) |
| float8_e5m2 | fp8_e5m2 (e5m2b15i) | Inf |
| float6_e2m3fn, float6_e3m2fn, float4_e2m1fn | fp6_e2m3, fp6_e3m2, fp4_e2m1 | saturate |
| float8_e4m3 (IEEE-like, max 240) | e4m3b7i | Inf |
| float8_e3m4 (IEEE-like, max 15.5) | e3m4b3i | Inf |
| bfloat16 | e8m7b127i | Inf |
| float8_e8m0fnu | e8m0 (g8m0b127n: OCP MX's scale grid, unsigned, no zero; a cast takes it, spec 3.10) | NaN (values that round past 2^127, and Inf) |
| int4, int2 | i4b-2, i2 (integers: toward zero) | saturate is the family's only policy; ml_dtypes gives 0 out of range |

Not declared (the family has no such grid; they are reported, not declared):
float8_e5m3fnu (unsigned with a zero and NaN/Inf rules of its own), the fnuz
types (NaN at the -0 code), float8_e4m3b11fnuz, uint4/uint2 (unsigned integers).

Options: ``--version-check off`` runs on another installed ml_dtypes version
(same as MLS_OUTSIDE_ANY_VERSION=1).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _adapter as ad  # noqa: E402
from _adapter import mb  # noqa: E402

EXPECTED = "0.7.0"
if ad.arg_value(sys.argv, "--version-check") == "off":
    os.environ["MLS_OUTSIDE_ANY_VERSION"] = "1"
np = mb.require("numpy", None, ad.INSTALL_HINT)
ml_dtypes = mb.require("ml_dtypes", EXPECTED, ad.INSTALL_HINT)

CASTS = [
    ad.Cast("fp8_e4m3", "float8_e4m3fn", ("nan",)),
    ad.Cast("fp8_e5m2", "float8_e5m2", ("infinity",)),
    ad.Cast("fp6_e2m3", "float6_e2m3fn", ("saturate",)),
    ad.Cast("fp6_e3m2", "float6_e3m2fn", ("saturate",)),
    ad.Cast("fp4_e2m1", "float4_e2m1fn", ("saturate",)),
    ad.Cast("e4m3b7i", "float8_e4m3", ("infinity",)),
    ad.Cast("e3m4b3i", "float8_e3m4", ("infinity",)),
    ad.Cast("e8m7b127i", "bfloat16", ("infinity",)),
    ad.Cast("e8m0", "float8_e8m0fnu", ("nan",), signed_zero=("preserve", "positive"),
            note="an unsigned grid has no signed zero, so both signed-zero policies give the same codes"),
    ad.Cast("i4b-2", "int4", ("saturate",), modes=("rtz",), signed_zero=("preserve", "positive"),
            note="integers have one zero code, so both signed-zero policies give the same codes"),
    ad.Cast("i2", "int2", ("saturate",), modes=("rtz",), signed_zero=("preserve", "positive")),
]
CASTS = [c for c in CASTS if hasattr(ml_dtypes, c.target)]


def cast_codes(c: ad.Cast, x_bits):
    """The library's cast of fp32 bit patterns to dtype c.target, as codes of the grid."""
    dtype = getattr(ml_dtypes, c.target)
    x = x_bits.view(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):  # the int casts raise FE_INVALID out of range
        y = mb.library_call(f"ml_dtypes: float32.astype({c.target})", x.astype, dtype)
    raw = y.view(np.uint8 if y.dtype.itemsize == 1 else np.uint16).astype(np.uint32)
    return raw & ((1 << c.minifloat.width) - 1)


def round_op(req: dict) -> dict:
    r = mb.parse_round(req)
    c = ad.find_cast(CASTS, r, "ml_dtypes")
    return {"codes": cast_codes(c, ad.fp32_words(req))}


def make_backend() -> mb.Backend:
    b = mb.Backend(f"ml_dtypes {ml_dtypes.__version__} casts", modes=sorted({m for c in CASTS for m in c.modes}),
                   elements=ad.declared_elements(CASTS), version=ml_dtypes.__version__,
                   supports_extra={"casts": ad.describe_casts(CASTS), "library": ad.versions("ml_dtypes", "numpy")})
    b.register("round", round_op)
    return b


if __name__ == "__main__":
    sys.exit(make_backend().serve())
