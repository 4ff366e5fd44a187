#!/usr/bin/env python3
"""torch (the PyPI build, on CPU) under test: fp32 tensor casts to torch's low-bit dtypes (protocol v1, op `round`).

    mls check --backend-cmd "build/outside-venv/bin/python conformance/python/adapters/torch_backend.py" \\
              --random --ops round --modes rne --formats fp8_e4m3,fp8_e5m2,e8m7b127i,e5m10b15i

What is called: ``torch.from_numpy(x_fp32).to(dtype)`` on the CPU, read back
as its bytes (``.view(torch.uint8 / torch.int16)``). Every request is one
tensor, so a batch of 16 or more values takes torch's vectorised CPU loop and
a short one the scalar conversion (both are checked by the campaign's batch
sizes of 1..47).

| dtype | grid | its overflow (torch 2.15 CPU) |
|---|---|---|
| float8_e4m3fn | fp8_e4m3 | saturate (finite overflow and +-Inf give +-448; since PR #178817) |
| float8_e5m2 | fp8_e5m2 | Inf |
| bfloat16 | e8m7b127i | Inf |
| float16 | e5m10b15i | Inf |

Not declared: ``float8_e8m0fnu`` (the round op takes it since spec 3.10's
cast grids; this adapter does not declare it yet), ``float4_e2m1fn_x2`` (torch 2.15 has no cast to it: ``copy_``
raises NotImplementedError "copy_kernel" not implemented for
'Float4_e2m1fn_x2'; the adapter answers such a request with that error), the
fnuz types (NaN at the -0 code).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _adapter as ad  # noqa: E402
from _adapter import mb  # noqa: E402

EXPECTED = "2.15.0"
if ad.arg_value(sys.argv, "--version-check") == "off":
    os.environ["MLS_OUTSIDE_ANY_VERSION"] = "1"
np = mb.require("numpy", None, ad.INSTALL_HINT_ALL)
torch = mb.require("torch", EXPECTED, ad.INSTALL_HINT_ALL)
torch.set_num_threads(1)

CASTS = [
    ad.Cast("fp8_e4m3", "float8_e4m3fn", ("saturate",)),
    ad.Cast("fp8_e5m2", "float8_e5m2", ("infinity",)),
    ad.Cast("e8m7b127i", "bfloat16", ("infinity",)),
    ad.Cast("e5m10b15i", "float16", ("infinity",)),
]
# The fp4 cast: probed, so that a torch that gains it is checked without editing this table.
FP4 = ad.Cast("fp4_e2m1", "float4_e2m1fn_x2", ("saturate",))


def _fp4_cast_exists() -> bool:
    try:
        torch.zeros(2, dtype=torch.float32).to(torch.float4_e2m1fn_x2)
        return True
    except Exception:
        return False


if hasattr(torch, "float4_e2m1fn_x2") and _fp4_cast_exists():
    CASTS.append(FP4)


def cast_codes(c: ad.Cast, x_bits):
    x = torch.from_numpy(x_bits.view(np.float32).copy())
    y = mb.library_call(f"torch: float32 tensor.to(torch.{c.target})", x.to, getattr(torch, c.target))
    width = c.minifloat.width
    raw = y.view(torch.uint8 if width <= 8 else torch.int16).numpy().astype(np.int64)
    if c.target == "float4_e2m1fn_x2":  # two codes per byte: element 2i in the low nibble
        raw = np.stack([raw & 0xF, raw >> 4], axis=-1).reshape(-1)[: x_bits.size]
    return raw & ((1 << width) - 1)


def round_op(req: dict) -> dict:
    r = mb.parse_round(req)
    if r.element == FP4.minifloat and FP4 not in CASTS:
        # The library's own answer for this cast: its error (what a user calling it gets).
        x = torch.zeros(2, dtype=torch.float32)
        mb.library_call("torch: float32 tensor.to(torch.float4_e2m1fn_x2)", x.to, torch.float4_e2m1fn_x2)
    c = ad.find_cast(CASTS, r, "torch")
    return {"codes": cast_codes(c, ad.fp32_words(req))}


def make_backend() -> mb.Backend:
    b = mb.Backend(f"torch {torch.__version__} CPU casts", modes=["rne"], elements=ad.declared_elements(CASTS),
                   version=torch.__version__,
                   supports_extra={"casts": ad.describe_casts(CASTS), "library": ad.versions("torch", "numpy")})
    b.register("round", round_op)
    return b


if __name__ == "__main__":
    sys.exit(make_backend().serve())
