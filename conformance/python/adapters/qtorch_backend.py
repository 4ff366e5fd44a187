#!/usr/bin/env python3
"""qtorch (QPyTorch) 0.3.0 under test, CPU: float_quantize and block_quantize (protocol v1, ops `round`, `quantize`).

    mls check --backend-cmd "build/outside-venv/bin/python conformance/python/adapters/qtorch_backend.py" \\
              --random --ops round --modes rna --formats e2m1b1,e2m3b1,e3m2b3,e4m3b7,e5m2b15

qtorch builds its C++ extension at first import (torch.utils.cpp_extension,
g++ and ninja; about 25 s, then cached under ~/.cache/torch_extensions).

- ``round``: ``qtorch.quant.float_quantize(x, exp=E, man=M, rounding="nearest")``.
  qtorch's grid is E exponent bits with the IEEE bias 2^(E-1)-1, subnormals,
  no exponent reserved for Inf/NaN and saturation (clip_exponent): the
  family's grid ``e<E>m<M>b<2^(E-1)-1>`` (E2M1 bias 1 *is* OCP FP4, E2M3 and
  E3M2 are the OCP FP6 grids; its "E4M3" has max 480, not OCP's 448).
  "nearest" adds half an ulp to the magnitude and truncates: round half away
  from zero, the spec's ``rna``. Its zeros come out of an fp32 add/subtract and
  are +0: ``signed_zero = positive``. The value qtorch returns (an fp32 on the
  grid) is read back as its grid code, exactly; a value not on the grid is
  reported as the library's error.
- ``quantize``: ``qtorch.quant.block_quantize(x, wl, dim, rounding="nearest")``
  is block floating point: every element of a block shares the exponent e of
  the block's largest magnitude (the fp32 exponent field of max|x|) and is a
  wl-bit sign-magnitude integer times 2^(e+2-wl), saturating. That is the
  family format ``e0m<wl-1>.e8m0/blk<B>:ocp:poszero:tscale_one`` with B at
  least the last axis (one block per row): the scale code is qtorch's
  exponent field (e + 127), the elements are qtorch's values / 2^(e+2-wl).
  A request whose last axis is longer than B (several blocks in a row) is not
  a qtorch layout: unsupported. Rank 1 is dim=-1 (the whole tensor), higher
  ranks are viewed as (rows, last axis) with dim=0.
- ``stochastic``: qtorch's CPU kernels draw from a file-global std::mt19937
  seeded from std::random_device; the random bits cannot be given or seeded
  from Python, so sr requests are unsupported (the report checks the
  distribution instead, scripts/outside_report.py).
"""

from __future__ import annotations

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _adapter as ad  # noqa: E402
from _adapter import mb  # noqa: E402

EXPECTED = "0.3.0"
if ad.arg_value(sys.argv, "--version-check") == "off":
    os.environ["MLS_OUTSIDE_ANY_VERSION"] = "1"
import warnings  # noqa: E402

warnings.filterwarnings("ignore")
np = mb.require("numpy", None, ad.INSTALL_HINT_ALL)
torch = mb.require("torch", None, ad.INSTALL_HINT_ALL)
torch.set_num_threads(1)
qtorch = mb.require("qtorch", EXPECTED, ad.INSTALL_HINT_ALL + " (qtorch also needs g++ and ninja to build its extension)")
try:
    from qtorch.quant import block_quantize, float_quantize  # noqa: E402  (builds the C++ extension)
except Exception as e:
    sys.stderr.write(f"qtorch {EXPECTED} is installed but its C++ extension does not build against torch "
                     f"{torch.__version__}: {type(e).__name__}: {e}\n")
    sys.exit(3)

GRIDS = [(2, 1), (2, 3), (3, 2), (4, 3), (5, 2)]
CASTS = [ad.Cast(f"e{e}m{m}b{(1 << (e - 1)) - 1}", f"float_quantize(exp={e}, man={m})", ("saturate",), ("rna",),
                 ("positive",)) for e, m in GRIDS]
WORD_LENGTHS = (8, 4)
BLOCK = 64
BLOCK_FORMATS = {mb.parse_format(f"e0m{wl - 1}.e8m0/blk{BLOCK}:ocp:poszero:tscale_one"): wl for wl in WORD_LENGTHS}


def _code_table(g: mb.Minifloat):
    """fp32 value of every magnitude code -> code (the grids here are exact in fp32)."""
    return {float(g.magnitude_fraction(c)): c for c in range(g.max_mcode + 1) if g.is_valid_magnitude(c)}


TABLES = {c.grid: _code_table(c.minifloat) for c in CASTS}


def round_op(req: dict) -> dict:
    r = mb.parse_round(req)
    c = ad.find_cast(CASTS, r, "qtorch")
    g = c.minifloat
    x = torch.from_numpy(ad.fp32_words(req).view(np.float32).copy())
    y = mb.library_call(f"qtorch {c.target}", float_quantize, x, g.exp_bits, g.man_bits, "nearest").numpy()
    table = TABLES[c.grid]
    codes = []
    for i, v in enumerate(y.tolist()):
        mag = table.get(abs(v))
        if mag is None:
            raise mb.LibraryError(f"qtorch {c.target} returned {v!r} for x[{i}], which is not a value of {g.name()}")
        codes.append(g.encode(math.copysign(1.0, v) < 0, mag))
    return {"codes": codes}


def quantize_op(req: dict) -> dict:
    fmt = mb.parse_format(req.get("format"))
    if fmt not in BLOCK_FORMATS:
        raise mb.Unsupported(f"qtorch has no quantizer for {fmt.short_name()}")
    wl = BLOCK_FORMATS[fmt]
    rnd = mb.parse_rounding(req.get("rounding"))
    if rnd.mode != "rna":
        raise mb.Unsupported(f"qtorch block_quantize: rounding {rnd.name()} (nearest is half up, checked as rna; "
                             "stochastic bits cannot be given)")
    if req.get("arith", "exact") != "exact" or req.get("tensor_scale") is not None:
        raise mb.Unsupported("qtorch block_quantize: exact profile and dynamic scales only")
    shape = mb.parse_shape(req.get("shape"))
    if shape[-1] > fmt.block_size or fmt.block_axis not in (-1, len(shape) - 1):
        raise mb.Unsupported(f"qtorch shares one exponent per row: the last axis ({shape[-1]}) must fit one block "
                             f"of {fmt.block_size}")
    xb = ad.fp32_words(req)
    if xb.size != math.prod(shape):
        raise mb.ProtocolError(f"x has {xb.size} values but shape {list(shape)} has {math.prod(shape)} elements")
    rows = xb.reshape(-1, shape[-1]) if len(shape) > 1 else xb.reshape(1, -1)
    x = torch.from_numpy(rows.view(np.float32).copy())
    if len(shape) == 1:
        y = mb.library_call("qtorch block_quantize(dim=-1)", block_quantize, x.reshape(-1), wl, -1, "nearest")
    else:
        y = mb.library_call("qtorch block_quantize(dim=0)", block_quantize, x, wl, 0, "nearest")
    y = y.reshape(rows.shape).numpy()
    # qtorch's block exponent: the fp32 exponent field of the row's largest magnitude (block_quantize_helper).
    amax_bits = np.abs(rows.view(np.float32)).max(axis=1).view(np.uint32)
    fields = (amax_bits >> 23) & 0xFF
    g = fmt.element
    elems = np.zeros(rows.shape, dtype=np.int64)
    for r in range(rows.shape[0]):
        lsb = math.ldexp(1.0, int(fields[r]) - 127 + 2 - wl)
        for j, v in enumerate(y[r].tolist()):
            q = abs(v) / lsb if math.isfinite(v) else math.inf
            if q != int(q) if math.isfinite(q) else True:
                raise mb.LibraryError(f"qtorch block_quantize returned {v!r} at row {r}, column {j}: not a multiple "
                                      f"of its block's 2^{int(fields[r]) - 127 + 2 - wl}")
            if q > g.max_mcode:
                raise mb.LibraryError(f"qtorch block_quantize returned {v!r} at row {r}, column {j}: beyond "
                                      f"{g.max_mcode} x 2^{int(fields[r]) - 127 + 2 - wl}")
            elems[r, j] = g.encode(math.copysign(1.0, v) < 0, int(q))
    return {"tensor_scale": mb.FP32_ONE, "group_scales": fields.astype(np.int64), "elements": elems.reshape(-1)}


def make_backend() -> mb.Backend:
    b = mb.Backend(f"qtorch {ad.versions('qtorch')['qtorch']} (torch {torch.__version__}, CPU)", modes=["rna"],
                   formats=[f.short_name() for f in BLOCK_FORMATS], elements=ad.declared_elements(CASTS),
                   version=ad.versions("qtorch")["qtorch"],
                   supports_extra={"casts": ad.describe_casts(CASTS), "library": ad.versions("qtorch", "torch")})
    b.register("round", round_op)
    b.register("quantize", quantize_op)
    return b


if __name__ == "__main__":
    sys.exit(make_backend().serve())
