#!/usr/bin/env python3
"""torchao (CPU, eager) under test: MX quantization (to_mx) and NVFP4 (nvfp4_quantize) (protocol v1, op `quantize`).

    mls check --backend-cmd "build/outside-venv/bin/python conformance/python/adapters/torchao_backend.py" \\
              --random --ops quantize --modes rne --arith torchao_mx \\
              --formats mxfp8-e4m3,mxfp8-e4m3:ocp_ceil,mxfp8-e4m3:ocp_even,mxfp4,...

What is called (torchao.prototype.mx_formats, the installed 0.18.0 source):

- MX: ``scale, data = to_mx(x, elem_dtype, block_size, scaling_mode)`` on a
  contiguous fp32 CPU tensor; ``scale.view(uint8)`` are the E8M0 codes in
  block order, ``data`` the element codes (fp8 bytes; fp6 one code per byte;
  fp4 two per byte, element 2i in the low nibble). The scale-calculation modes
  and the family's scale rules (4.4) and arithmetic profiles (4.12) they are:

  | torchao | scale rule | arithmetic profile |
  |---|---|---|
  | FLOOR (default) | ocp | torchao_mx |
  | CEIL | ocp_ceil | torchao_mx |
  | EVEN | ocp_even | torchao_mx |
  | RCEIL | ceil | torchao_mx_rceil |

  Elements: float8_e4m3fn, float8_e5m2, "fp6_e2m3", "fp6_e3m2",
  float4_e2m1fn_x2 (MX INT8 is not in torchao). Blocks run along the last
  axis. torchao asserts that the last dimension is a multiple of the block
  size; a request whose last block is partial (the family allows it, 2.4.1)
  is given to torchao zero-padded to whole blocks and the padding's codes are
  dropped: a zero changes no block maximum and no other element, so this is
  the library's answer for the partial block (layout only, no arithmetic).
- NVFP4: two-level (format ``nvfp4``): ``per_tensor_scale =
  per_tensor_amax_to_scale(torch.max(torch.abs(x)))``, then
  ``nvfp4_quantize(x, 16, per_tensor_scale)``; single-level (``nvfp4:tscale_one``):
  ``nvfp4_quantize(x, 16)``. Profile torchao_nvfp4. torchao takes a 2-D or
  3-D tensor with whole blocks of 16; the adapter passes the request as
  (prod(leading axes), last axis) zero-padded to whole blocks, which has the
  same blocks and the same tensor maximum.

Only round-to-nearest-even exists (the element casts are RNE); overflow
saturates (the clamp to +-max_pos before the cast).
"""

from __future__ import annotations

import math
import os
import struct
import sys
from dataclasses import replace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _adapter as ad  # noqa: E402
from _adapter import mb  # noqa: E402

EXPECTED = "0.18.0"
if ad.arg_value(sys.argv, "--version-check") == "off":
    os.environ["MLS_OUTSIDE_ANY_VERSION"] = "1"
import warnings  # noqa: E402

warnings.filterwarnings("ignore")
np = mb.require("numpy", None, ad.INSTALL_HINT_ALL)
torch = mb.require("torch", None, ad.INSTALL_HINT_ALL)
torchao = mb.require("torchao", EXPECTED, ad.INSTALL_HINT_ALL)
torch.set_num_threads(1)
from torchao.prototype.mx_formats.config import ScaleCalculationMode  # noqa: E402
from torchao.prototype.mx_formats.mx_tensor import to_mx  # noqa: E402
from torchao.prototype.mx_formats.nvfp4_tensor import nvfp4_quantize, per_tensor_amax_to_scale  # noqa: E402

ELEMENTS = {"mxfp8-e4m3": torch.float8_e4m3fn, "mxfp8-e5m2": torch.float8_e5m2, "mxfp6-e2m3": "fp6_e2m3",
            "mxfp6-e3m2": "fp6_e3m2", "mxfp4": torch.float4_e2m1fn_x2}
MODES = {"ocp": ("FLOOR", "torchao_mx"), "ocp_ceil": ("CEIL", "torchao_mx"), "ocp_even": ("EVEN", "torchao_mx"),
         "ceil": ("RCEIL", "torchao_mx_rceil")}
BLOCK_SIZES = (32, 16, 8, 4)
MX = {}  # Format -> (profile, elem_dtype, torchao mode, arith, declared name)
for prof, dt in ELEMENTS.items():
    for rule, (mode, arith) in MODES.items():
        for bs in BLOCK_SIZES:
            f = replace(mb.PROFILE_FORMATS[prof], scale_policy=rule, block_size=bs)
            label = (prof + ("" if rule == "ocp" else ":" + rule)) if bs == 32 else f.short_name()
            MX[f] = (prof, dt, mode, arith, label)
NV_TWO = mb.PROFILE_FORMATS["nvfp4"]
NV_ONE = replace(NV_TWO, tensor_scale="one")
NV = {NV_TWO: "nvfp4", NV_ONE: "nvfp4:tscale_one"}


def _bits(t) -> int:
    return struct.unpack("<I", struct.pack("<f", float(t)))[0]


def _unpack_fp4(packed, n_last):
    p = packed.view(torch.uint8).numpy().astype(np.int64)
    codes = np.stack([p & 0xF, p >> 4], axis=-1).reshape(*p.shape[:-1], -1)
    return codes[..., :n_last]


def _pad_last(x, block: int):
    """x with its last axis zero-padded to a multiple of `block` (contiguous, as torchao asserts)."""
    extra = -x.shape[-1] % block
    if extra:
        x = torch.cat([x, torch.zeros(*x.shape[:-1], extra, dtype=x.dtype)], dim=-1)
    return x.contiguous()


def quantize_op(req: dict) -> dict:
    fmt = mb.parse_format(req.get("format"))
    rnd = mb.parse_rounding(req.get("rounding"))
    if rnd.mode != "rne":
        raise mb.Unsupported(f"torchao rounds to nearest even only (rounding {rnd.name()})")
    if req.get("tensor_scale") is not None:
        raise mb.Unsupported("torchao computes its scales; a static tensor scale is not an input")
    arith = req.get("arith", "exact")
    shape = mb.parse_shape(req.get("shape"))
    xb = ad.fp32_words(req)
    if xb.size != math.prod(shape):
        raise mb.ProtocolError(f"x has {xb.size} values but shape {list(shape)} has {math.prod(shape)} elements")
    x = torch.from_numpy(xb.view(np.float32).copy()).reshape(shape)
    if fmt in MX:
        prof, dt, mode, want, _ = MX[fmt]
        if arith != want:
            raise mb.Unsupported(f"torchao {mode} computes the arithmetic profile {want}, not {arith}")
        if fmt.block_axis not in (-1, len(shape) - 1):
            raise mb.Unsupported("torchao blocks run along the last axis")
        x = _pad_last(x, fmt.block_size)
        scale, data = mb.library_call(f"torchao to_mx({prof}, {mode}, block_size={fmt.block_size})", to_mx, x, dt,
                                      fmt.block_size, getattr(ScaleCalculationMode, mode))
        scales = scale.view(torch.uint8).reshape(-1).numpy()
        if dt == torch.float4_e2m1fn_x2:
            elems = _unpack_fp4(data, shape[-1])
        else:
            elems = data.view(torch.uint8).numpy().astype(np.int64)[..., : shape[-1]] & ((1 << fmt.element.width) - 1)
        return {"tensor_scale": mb.FP32_ONE, "group_scales": scales, "elements": elems.reshape(-1)}
    if fmt in NV:
        if arith != "torchao_nvfp4":
            raise mb.Unsupported(f"torchao nvfp4_quantize computes the arithmetic profile torchao_nvfp4, not {arith}")
        x = _pad_last(x.reshape(-1, shape[-1]), 16)
        pts = None
        ts = mb.FP32_ONE
        if fmt.tensor_scale == "amax":
            pts = mb.library_call("torchao per_tensor_amax_to_scale", per_tensor_amax_to_scale, torch.max(torch.abs(x)))
            ts = _bits(pts)
        scale, data = mb.library_call("torchao nvfp4_quantize", nvfp4_quantize, x, 16, pts)
        scales = scale.view(torch.uint8).reshape(-1).numpy()
        elems = _unpack_fp4(data.reshape(x.shape[0], -1), shape[-1])
        return {"tensor_scale": ts, "group_scales": scales, "elements": elems.reshape(-1)}
    raise mb.Unsupported(f"torchao has no quantizer for {fmt.short_name()}")


def make_backend() -> mb.Backend:
    formats = [v[4] for v in MX.values()] + list(NV.values())
    b = mb.Backend(f"torchao {torchao.__version__} (torch {torch.__version__}, CPU eager)", modes=["rne"],
                   formats=formats, arith=["torchao_mx", "torchao_mx_rceil", "torchao_nvfp4"],
                   version=torchao.__version__, supports_extra={"library": ad.versions("torchao", "torch", "numpy")})
    b.register("quantize", quantize_op)
    return b


if __name__ == "__main__":
    sys.exit(make_backend().serve())
