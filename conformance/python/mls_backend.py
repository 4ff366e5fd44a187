"""mls_backend: write an MLS backend in Python; this module speaks the protocol.

An implementation under test talks to ``mls check --backend-cmd CMD`` (and to
anything else that speaks process protocol v1, spec/09-protocol.md) through
newline-delimited JSON on stdin/stdout. This module implements that loop, so a
Python implementation only writes its operations::

    import mls_backend as mb

    backend = mb.Backend("my quantizer", modes=["rne", "sr"])

    @backend.op("quantize")
    def quantize(req):
        fmt = mb.parse_format(req["format"])         # Format, validated (spec 2.7-2.8)
        rnd = mb.parse_rounding(req.get("rounding"))  # Rounding (spec 3.8)
        ...
        return {"tensor_scale": bits, "group_scales": [...], "elements": [...]}

    if __name__ == "__main__":
        backend.serve()

The loop (``Backend.serve``, or ``Backend.handle_line`` for one line):

- reads one request per line from stdin (blank lines are skipped) and writes
  exactly one reply line per request to stdout, flushing after each;
- ``{"op": "hello"}`` is answered by the module itself:
  ``{"protocol": 1, "name": NAME, "supports": {"ops": [registered ops],
  "modes": [...], "formats": "any"}}`` (plus ``version`` and any extra
  ``supports`` members given to ``Backend``);
- any other op is dispatched to the handler registered for it; the handler
  gets the request as a dict and returns a dict of reply fields (numpy arrays
  and scalars are converted to JSON lists and integers);
- the request's ``id`` (any JSON value) is copied into the reply; a request
  without ``id`` gets a reply without one;
- a handler exception becomes ``{"id": N, "error": "<message>"}``; raising
  ``Unsupported("why")`` becomes ``{"id": N, "unsupported": "why"}``; an op
  with no handler becomes ``{"id": N, "unsupported": "op \\"X\\" is not
  supported by NAME"}``;
- a request whose ``rounding`` names a mode outside ``modes`` (given to
  ``Backend``) becomes ``{"id": N, "unsupported": ...}`` before any handler runs;
- a line that is not JSON, or not a JSON object, becomes
  ``{"id": null, "error": "..."}``;
- the session continues after every error; at EOF ``serve`` returns 0.

While ``serve`` runs, ``sys.stdout`` is redirected to stderr, so a stray
``print`` in a handler cannot corrupt the reply stream; diagnostics go to
stderr.

Helpers (standard library only; numpy is used where it is installed):

- ``parse_format(obj)`` -> ``Format``: a JSON format object (spec 2.8), a
  profile name (``mls-e2m1``, ...: spec 2.9), a short name
  (``e2m1.g4m1/1x1x0x0:floor``: spec 2.7) or JSON text; validated by spec 1.9.
  ``Format.element`` / ``Format.group_scale`` are ``Minifloat`` descriptors
  with exact ``magnitude(mcode) -> (N, k)`` (value ``N * 2^k``), ``q_max``,
  ``is_valid_code``; ``Format.layout(shape)`` gives the group layout (2.4).
- ``parse_rounding(obj)`` -> ``Rounding(mode, bits)`` (spec 3.8).
- ``parse_shape``, ``parse_words`` (arrays of unsigned 32-bit integers),
  ``parse_tensor`` -> ``MlsTensor`` (spec 2.10, validated).
- fp32 bit patterns: ``bits_to_f32`` / ``f32_to_bits`` (numpy float32 <->
  uint32 views), ``fp32_decode(bits) -> (negative, m, e)`` with the exact
  value ``(-1)^negative * m * 2^e``, ``fp32_to_fraction``, ``fp32_is_finite``,
  ``FP32_ONE``.

Only decoding, validation and the protocol live here; the semantics
(rounding, quantization) are the backend's own (see examples/numpy_backend.py).
"""

from __future__ import annotations

import json
import math
import re
import sys
import traceback
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple



def _numpy():
    """numpy if it is installed, else None. Imported on first use: numpy is optional, and a
    backend that does not use it should not pay its start-up time at every (re)start."""
    try:
        import numpy
    except ImportError:
        return None
    return numpy

PROTOCOL_VERSION = 1
ALL_MODES = ("rne", "rna", "rtz", "rup", "rdn", "rto", "sr")
FP32_ONE = 0x3F800000
U32_MAX = 0xFFFFFFFF
MAX_ELEMENTS = 1 << 40

__all__ = [
    "Backend", "Unsupported", "ProtocolError", "Minifloat", "Format", "Rounding", "GroupLayout",
    "MlsTensor", "parse_format", "parse_rounding", "parse_shape", "parse_words", "parse_tensor",
    "bits_to_f32", "f32_to_bits", "fp32_decode", "fp32_to_fraction", "fp32_is_finite",
    "PROTOCOL_VERSION", "ALL_MODES", "FP32_ONE", "PROFILES",
]


class Unsupported(Exception):
    """Raise from a handler to answer {"unsupported": message}: the runner counts the case as skipped."""


class ProtocolError(ValueError):
    """A bad request or bad input data; answered as {"error": message}."""


# --------------------------------------------------------------------------------------------
# Small JSON checks (spec 2.8: integers are JSON numbers without fraction; bools are not integers)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _int_field(obj: dict, key: str, path: str, lo: int, hi: int, default: Optional[int] = None) -> int:
    if key not in obj:
        if default is None:
            raise ProtocolError(f"{path}.{key} is missing or has the wrong type")
        return default
    v = obj[key]
    if not _is_int(v):
        raise ProtocolError(f"{path}.{key} is missing or has the wrong type")
    if not lo <= v <= hi:
        raise ProtocolError(f"{path}.{key} = {v} is outside {lo}..{hi}")
    return v


def _check_members(obj: dict, allowed: Iterable[str], path: str) -> None:
    for k in obj:
        if k not in allowed:
            raise ProtocolError(f"{path}.{k} is not a known field")


# --------------------------------------------------------------------------------------------
# Minifloat descriptors (spec 01)


@dataclass(frozen=True)
class Minifloat:
    """A minifloat grid: sign | exponent e (E bits) | mantissa f (M bits) (spec 1.2-1.3).

    zero is "subnormal", "zero_only" or "none". Values are exact dyadics N * 2^k.
    """

    signed: bool
    exp_bits: int
    man_bits: int
    bias: int
    zero: str

    @staticmethod
    def element(e: int, m: int, bias: Optional[int] = None, zero: str = "subnormal") -> "Minifloat":
        return Minifloat(True, e, m, default_bias(e) if bias is None else bias, zero)

    @staticmethod
    def group_scale(e: int, m: int) -> "Minifloat":
        return Minifloat(False, e, m, (1 << e) - 1, "none")

    @property
    def width(self) -> int:
        return (1 if self.signed else 0) + self.exp_bits + self.man_bits

    @property
    def max_mcode(self) -> int:
        """The largest magnitude code (all ones; valid in every MLS grid)."""
        return (1 << (self.exp_bits + self.man_bits)) - 1

    @property
    def sign_bit(self) -> int:
        """The code bit that holds the sign (0 for an unsigned grid)."""
        return (1 << (self.exp_bits + self.man_bits)) if self.signed else 0

    def magnitude(self, mcode: int) -> Tuple[int, int]:
        """Exact value of a magnitude code as (N, k): value = N * 2^k (spec 1.3)."""
        e, f = mcode >> self.man_bits, mcode & ((1 << self.man_bits) - 1)
        if e == 0 and self.zero != "none":
            return f, 1 - self.bias - self.man_bits
        return (1 << self.man_bits) + f, e - self.bias - self.man_bits

    def magnitude_fraction(self, mcode: int) -> Fraction:
        n, k = self.magnitude(mcode)
        return Fraction(n) * (Fraction(2) ** k)

    @property
    def max_value(self) -> Tuple[int, int]:
        """q_max (elements) or g_max (group scales) as (N, k)."""
        return self.magnitude(self.max_mcode)

    def is_valid_code(self, code: int) -> bool:
        if not _is_int(code) or code < 0 or code >= (1 << self.width):
            return False
        mcode = code & self.max_mcode
        if self.zero == "zero_only" and (mcode >> self.man_bits) == 0 and mcode != 0:
            return False
        return True

    def name(self) -> str:
        """Spec 1.10: e<E>m<M>[b<bias>][z] for signed, g<E>m<M> for unsigned."""
        if not self.signed:
            return f"g{self.exp_bits}m{self.man_bits}"
        s = f"e{self.exp_bits}m{self.man_bits}"
        if self.bias != default_bias(self.exp_bits):
            s += f"b{self.bias}"
        return s + ("z" if self.zero == "zero_only" else "")


def default_bias(exp_bits: int) -> int:
    """Spec 1.8: 2^E - 1 (0 for E = 0)."""
    return (1 << exp_bits) - 1 if exp_bits > 0 else 0


def _validate_element(e: int, m: int, bias: int, zero: str, path: str) -> Minifloat:
    if not 0 <= e <= 8:
        raise ProtocolError(f"{path}.exp_bits = {e} is outside 0..8")
    if not 0 <= m <= 23:
        raise ProtocolError(f"{path}.man_bits = {m} is outside 0..23")
    if e + m < 1:
        raise ProtocolError(f"{path}.exp_bits + man_bits must be >= 1 for an element format")
    if not -100000 <= bias <= 100000:
        raise ProtocolError(f"{path}.bias = {bias} is outside -100000..100000")
    if zero not in ("subnormal", "zero_only"):
        raise ProtocolError(f"{path}.zero = {zero} is not allowed for an element format (subnormal or zero_only)")
    if zero == "zero_only" and e < 1:
        raise ProtocolError(f"{path}.zero = zero_only needs exp_bits >= 1")
    return Minifloat(True, e, m, bias, zero)


def _validate_group_scale(e: int, m: int, path: str) -> Minifloat:
    if not 1 <= e <= 8:
        raise ProtocolError(f"{path}.exp_bits = {e} is outside 1..8")
    if not 0 <= m <= 23:
        raise ProtocolError(f"{path}.man_bits = {m} is outside 0..23")
    return Minifloat.group_scale(e, m)


# --------------------------------------------------------------------------------------------
# Group layout (spec 2.4)


@dataclass(frozen=True)
class GroupLayout:
    shape: Tuple[int, ...]
    resolved: Tuple[int, ...]  # group shape with 0 / too-large entries replaced by the axis length
    tiles: Tuple[int, ...]     # T_i = ceil(n_i / g_i)

    @property
    def groups(self) -> int:
        return math.prod(self.tiles)

    def group_of(self, index: Sequence[int]) -> int:
        """Group number of a multi-index: row-major over the tile grid."""
        g = 0
        for i, gi, ti in zip(index, self.resolved, self.tiles):
            g = g * ti + i // gi
        return g

    def group_ids(self):
        """Group number of every element in row-major order (numpy int64 array, or a list without numpy)."""
        _np = _numpy()
        if _np is not None:
            ids = _np.zeros(self.shape, dtype=_np.int64)
            for axis, (gi, ti) in enumerate(zip(self.resolved, self.tiles)):
                idx = _np.arange(self.shape[axis], dtype=_np.int64) // gi
                view = [1] * len(self.shape)
                view[axis] = self.shape[axis]
                ids = ids * ti + idx.reshape(view)
            return ids.reshape(-1)
        out = [0]
        for n, gi, ti in zip(self.shape, self.resolved, self.tiles):
            out = [g * ti + i // gi for g in out for i in range(n)]
        return out


# --------------------------------------------------------------------------------------------
# Formats (spec 02)

PROFILES = {
    "mls-e2m1": "e2m1.g4m1",
    "mls-e2m4": "e2m4.g4m1",
    "mls-e3m3": "e3m3.g4m1",
    "mls-e2m1-g3m0": "e2m1.g3m0",
    "mls-fixed4": "e0m3.g4m1",
}


@dataclass(frozen=True)
class Format:
    element: Minifloat
    group_scale: Minifloat
    group_shape: Tuple[int, ...] = ()
    scale_policy: str = "ceil"      # ceil | nearest | floor (spec 4.4)
    signed_zero: str = "preserve"   # preserve | positive (spec 3.6)
    overflow: str = "saturate"      # saturate | error (spec 3.5)

    def layout(self, shape: Sequence[int]) -> GroupLayout:
        """Resolve the group shape against a tensor shape (spec 2.4)."""
        shape = tuple(shape)
        gs = self.group_shape
        if not gs:
            gs = (1, 1) + (0,) * (len(shape) - 2) if len(shape) >= 2 else (0,)
        elif len(gs) != len(shape):
            raise ProtocolError(f"group_shape has {len(gs)} entries but the tensor has rank {len(shape)}")
        resolved = tuple(n if g == 0 or g > n else g for n, g in zip(shape, gs))
        tiles = tuple(-(-n // g) for n, g in zip(shape, resolved))
        return GroupLayout(shape, resolved, tiles)

    def short_name(self) -> str:
        s = self.element.name() + "." + self.group_scale.name()
        if self.group_shape:
            s += "/" + "x".join(str(g) for g in self.group_shape)
        if self.scale_policy != "ceil":
            s += ":" + self.scale_policy
        if self.signed_zero == "positive":
            s += ":poszero"
        if self.overflow == "error":
            s += ":ovf_error"
        return s

    def to_json(self) -> dict:
        e = self.element
        return {
            "element": {"exp_bits": e.exp_bits, "man_bits": e.man_bits, "bias": e.bias, "zero": e.zero},
            "group_scale": {"exp_bits": self.group_scale.exp_bits, "man_bits": self.group_scale.man_bits},
            "group_shape": list(self.group_shape),
            "scale_policy": self.scale_policy,
            "signed_zero": self.signed_zero,
            "overflow": self.overflow,
        }


_SHORT_RE = re.compile(
    r"e(?P<E>[0-9]+)m(?P<M>[0-9]+)(?:b(?P<b>-?[0-9]+))?(?P<z>z)?"
    r"\.g(?P<GE>[0-9]+)m(?P<GM>[0-9]+)"
    r"(?:/(?P<shape>[0-9]+(?:x[0-9]+)*))?"
    r"(?P<opts>(?::[A-Za-z0-9_]*)*)"
)


def _parse_short_name(text: str) -> Format:
    m = _SHORT_RE.fullmatch(text)
    if not m:
        raise ProtocolError(f'format "{text}" is not a profile name, a short name like e2m1.g4m1/1x1x0x0, or JSON')
    for key in ("E", "M", "b", "GE", "GM"):
        if m.group(key) is not None and len(m.group(key)) > 7:
            raise ProtocolError(f'format "{text}": the number "{m.group(key)}" is too long')
    e, mm = int(m.group("E")), int(m.group("M"))
    bias = int(m.group("b")) if m.group("b") is not None else default_bias(e) if e <= 8 else 0
    elem = _validate_element(e, mm, bias, "zero_only" if m.group("z") else "subnormal", "element")
    gs = _validate_group_scale(int(m.group("GE")), int(m.group("GM")), "group_scale")
    shape: Tuple[int, ...] = ()
    if m.group("shape") is not None:
        parts = m.group("shape").split("x")
        if any(len(p) > 12 for p in parts):
            raise ProtocolError(f'format "{text}": a group-shape entry is longer than 12 digits')
        shape = tuple(int(p) for p in parts)
    policy, signed_zero, overflow = "ceil", "preserve", "saturate"
    for opt in m.group("opts").split(":")[1:]:
        if opt in ("ceil", "nearest", "floor"):
            policy = opt
        elif opt == "poszero":
            signed_zero = "positive"
        elif opt == "ovf_error":
            overflow = "error"
        else:
            raise ProtocolError(f'format option ":{opt}" is not one of :ceil, :nearest, :floor, :poszero, :ovf_error')
    return Format(elem, gs, shape, policy, signed_zero, overflow)


def _enum_field(obj: dict, key: str, path: str, allowed: Sequence[str]) -> str:
    if key not in obj:
        return allowed[0]
    v = obj[key]
    if not isinstance(v, str):
        raise ProtocolError(f"{path}.{key} is missing or has the wrong type")
    if v not in allowed:
        raise ProtocolError(f'{path}.{key} = "{v}" is not one of {", ".join(allowed)}')
    return v


def _format_from_json(obj: Any, path: str = "format") -> Format:
    if not isinstance(obj, dict):
        raise ProtocolError(f"{path} must be a JSON object, a profile name or a short name")
    _check_members(obj, ("element", "group_scale", "group_shape", "scale_policy", "signed_zero", "overflow"), path)
    el = obj.get("element")
    if not isinstance(el, dict):
        raise ProtocolError(f"{path}.element is missing or has the wrong type")
    ep = path + ".element"
    _check_members(el, ("exp_bits", "man_bits", "bias", "zero", "signed"), ep)
    e = _int_field(el, "exp_bits", ep, -(2 ** 31), 2 ** 31 - 1)
    m = _int_field(el, "man_bits", ep, -(2 ** 31), 2 ** 31 - 1)
    bias = _int_field(el, "bias", ep, -(2 ** 31), 2 ** 31 - 1, default_bias(e) if 0 <= e <= 8 else 0)
    zero = el.get("zero", "subnormal")
    if not isinstance(zero, str):
        raise ProtocolError(f"{ep}.zero is missing or has the wrong type")
    if "signed" in el and el["signed"] is not True:
        raise ProtocolError(f"{ep}.signed must be true for an element format")
    elem = _validate_element(e, m, bias, zero, ep)
    gs = Minifloat.group_scale(4, 1)
    if "group_scale" in obj:
        g = obj["group_scale"]
        gp = path + ".group_scale"
        if not isinstance(g, dict):
            raise ProtocolError(f"{gp} is missing or has the wrong type")
        _check_members(g, ("exp_bits", "man_bits", "bias", "zero", "signed"), gp)
        ge = _int_field(g, "exp_bits", gp, -(2 ** 31), 2 ** 31 - 1)
        gm = _int_field(g, "man_bits", gp, -(2 ** 31), 2 ** 31 - 1)
        gs = _validate_group_scale(ge, gm, gp)
        # Spec 1.1 group-scale fields (bias, zero, signed, specials): members of
        # the family this spec-1.0 parser does not compute (a skip, never a pass).
        if "bias" in g and not _is_int(g["bias"]):
            raise ProtocolError(f"{gp}.bias is not an integer")
        if ("bias" in g and g["bias"] != gs.bias) or g.get("zero", "none") != "none" or g.get("signed", False) is not False:
            raise Unsupported(f"{gp}: a group scale other than the spec-1.0 one (bias 2^E-1, no zero, unsigned)")
    shape: Tuple[int, ...] = ()
    if "group_shape" in obj:
        gsh = obj["group_shape"]
        if not isinstance(gsh, list):
            raise ProtocolError(f"{path}.group_shape is missing or has the wrong type")
        for i, v in enumerate(gsh):
            if not _is_int(v):
                raise ProtocolError(f"{path}.group_shape[{i}] is not an integer")
            if v < 0:
                raise ProtocolError(f"{path}.group_shape[{i}] = {v} is negative")
            if v >= 2 ** 63:
                raise ProtocolError(f"{path}.group_shape[{i}] = {v} is too large")
        shape = tuple(gsh)
    return Format(
        elem, gs, shape,
        _enum_field(obj, "scale_policy", path, ("ceil", "nearest", "floor")),
        _enum_field(obj, "signed_zero", path, ("preserve", "positive")),
        _enum_field(obj, "overflow", path, ("saturate", "error")),
    )


def parse_format(obj: Any) -> Format:
    """A format from the protocol: JSON object (2.8), profile name (2.9), short name (2.7) or JSON text."""
    if isinstance(obj, Format):
        return obj
    if isinstance(obj, str):
        text = obj
        if text.lstrip().startswith("{"):
            try:
                return _format_from_json(json.loads(text))
            except json.JSONDecodeError as e:
                raise ProtocolError(f"format JSON text does not parse: {e}") from None
        if text in PROFILES:
            return _parse_short_name(PROFILES[text])
        return _parse_short_name(text)
    return _format_from_json(obj)


# --------------------------------------------------------------------------------------------
# Rounding (spec 3.8)


@dataclass(frozen=True)
class Rounding:
    mode: str = "rne"
    bits: int = 8  # R, used by sr only


def parse_rounding(obj: Any) -> Rounding:
    """{"mode": "sr", "bits": 8}, or the short form "rne" / "sr8" / "sr:8" / "sr"; None means rne."""
    if obj is None:
        return Rounding()
    if isinstance(obj, str):
        if obj in ALL_MODES and obj != "sr":
            return Rounding(obj)
        m = re.fullmatch(r"sr:?([0-9]{0,3})", obj)
        if not m:
            raise ProtocolError(f'rounding = "{obj}" is not one of {", ".join(ALL_MODES)}')
        bits = int(m.group(1)) if m.group(1) else 8
        if not 1 <= bits <= 32:
            raise ProtocolError(f"rounding.bits = {bits} is outside 1..32")
        return Rounding("sr", bits)
    if not isinstance(obj, dict):
        raise ProtocolError("rounding must be a JSON object like {\"mode\": \"rne\"} or a mode name")
    _check_members(obj, ("mode", "bits"), "rounding")
    mode = obj.get("mode")
    if not isinstance(mode, str):
        raise ProtocolError("rounding.mode is missing or has the wrong type")
    if mode not in ALL_MODES:
        raise ProtocolError(f'rounding = "{mode}" is not one of {", ".join(ALL_MODES)}')
    if "bits" in obj and not _is_int(obj["bits"]):
        raise ProtocolError("rounding.bits is missing or has the wrong type")
    bits = obj.get("bits", 8)
    if mode == "sr" and not 1 <= bits <= 32:
        raise ProtocolError(f"rounding.bits = {bits} is outside 1..32")
    return Rounding(mode, bits)


# --------------------------------------------------------------------------------------------
# Shapes, words, MLS tensors (spec 2.10)


def parse_shape(obj: Any, name: str = "shape") -> Tuple[int, ...]:
    if not isinstance(obj, list):
        raise ProtocolError(f'field "{name}" is missing or not an array of integers')
    if len(obj) < 1:
        raise ProtocolError(f"{name} has rank 0; the rank must be >= 1")
    n = 1
    for i, v in enumerate(obj):
        if not _is_int(v):
            raise ProtocolError(f"{name}[{i}] is not an integer")
        if v < 1:
            raise ProtocolError(f"{name}[{i}] = {v} is not >= 1")
        n *= v
        if n > MAX_ELEMENTS:
            raise ProtocolError(f"{name} has more than 2^40 elements")
    return tuple(obj)


def parse_words(obj: Any, name: str) -> List[int]:
    """An array of unsigned 32-bit integers (fp32 bit patterns, codes, random words)."""
    if not isinstance(obj, list):
        raise ProtocolError(f'field "{name}" is missing or not an array of integers')
    for i, v in enumerate(obj):
        if not _is_int(v) or not 0 <= v <= U32_MAX:
            raise ProtocolError(f"{name}[{i}] is not an integer in 0..4294967295")
    return obj


def parse_u32(obj: Any, name: str) -> int:
    if not _is_int(obj) or not 0 <= obj <= U32_MAX:
        raise ProtocolError(f"{name} is not an integer in 0..4294967295")
    return obj


@dataclass
class MlsTensor:
    format: Format
    shape: Tuple[int, ...]
    tensor_scale: int          # fp32 bits
    group_scales: List[int]    # codes, group order
    elements: List[int]        # codes, row-major
    layout: GroupLayout = field(repr=False, default=None)

    def to_json(self) -> dict:
        return {"format": self.format.to_json(), "shape": list(self.shape), "tensor_scale": self.tensor_scale,
                "group_scales": list(self.group_scales), "elements": list(self.elements)}


def parse_tensor(obj: Any, name: str = "tensor") -> MlsTensor:
    """An MLS tensor (spec 2.10), fully validated: counts, codes, tensor scale."""
    if not isinstance(obj, dict):
        raise ProtocolError(f'field "{name}" is missing or not an MLS tensor object')
    for key in ("format", "shape", "tensor_scale", "group_scales", "elements"):
        if key not in obj:
            raise ProtocolError(f'MLS tensor field "{key}" is missing')
    fmt = parse_format(obj["format"])
    shape = parse_shape(obj["shape"])
    ts = parse_u32(obj["tensor_scale"], "MLS tensor field tensor_scale")
    gsc = parse_words(obj["group_scales"], "MLS tensor field group_scales")
    els = parse_words(obj["elements"], "MLS tensor field elements")
    layout = fmt.layout(shape)
    n = math.prod(shape)
    if len(els) != n:
        raise ProtocolError(f"elements has {len(els)} codes but shape {list(shape)} has {n} elements")
    if len(gsc) != layout.groups:
        raise ProtocolError(f"group_scales has {len(gsc)} codes but the layout has {layout.groups} groups")
    for i, c in enumerate(gsc):
        if not fmt.group_scale.is_valid_code(c):
            raise ProtocolError(f"group_scales[{i}] = {c} is not a valid code of {fmt.group_scale.name()}")
    for i, c in enumerate(els):
        if not fmt.element.is_valid_code(c):
            raise ProtocolError(f"elements[{i}] = {c} is not a valid code of {fmt.element.name()}")
    if not fp32_is_finite(ts) or (ts & 0x7FFFFFFF) == 0 or ts >> 31:
        raise ProtocolError(f"tensor_scale 0x{ts:08x} is not a positive finite fp32")
    return MlsTensor(fmt, shape, ts, gsc, els, layout)


# --------------------------------------------------------------------------------------------
# fp32 bit patterns


def fp32_is_finite(bits: int) -> bool:
    return ((bits >> 23) & 0xFF) != 0xFF


def fp32_decode(bits: int) -> Tuple[bool, int, int]:
    """Exact value of a finite fp32 pattern: (negative, m, e) with value (-1)^negative * m * 2^e."""
    exp, frac = (bits >> 23) & 0xFF, bits & 0x7FFFFF
    if exp == 0xFF:
        raise ProtocolError(f"0x{bits:08x} is not a finite fp32")
    if exp == 0:
        return bool(bits >> 31), frac, -149
    return bool(bits >> 31), frac | 0x800000, exp - 150


def fp32_to_fraction(bits: int) -> Fraction:
    neg, m, e = fp32_decode(bits)
    v = Fraction(m) * (Fraction(2) ** e)
    return -v if neg else v


def bits_to_f32(bits):
    """uint32 bit patterns -> numpy float32 array (same bits; needs numpy)."""
    _np = _numpy()
    if _np is None:
        raise RuntimeError("bits_to_f32 needs numpy")
    return _np.asarray(bits, dtype=_np.uint32).view(_np.float32)


def f32_to_bits(values):
    """numpy float32 array (or floats, converted to float32) -> uint32 bit patterns (needs numpy)."""
    _np = _numpy()
    if _np is None:
        raise RuntimeError("f32_to_bits needs numpy")
    return _np.asarray(values, dtype=_np.float32).view(_np.uint32)


# --------------------------------------------------------------------------------------------
# The protocol loop (spec/09-protocol.md, process protocol v1)


def _json_default(o: Any) -> Any:
    _np = sys.modules.get("numpy")  # only objects of an already imported numpy can appear
    if _np is not None:
        if isinstance(o, _np.ndarray):
            return o.tolist()
        if isinstance(o, _np.integer):
            return int(o)
        if isinstance(o, _np.bool_):
            return bool(o)
    if isinstance(o, (tuple, set, frozenset)):
        return list(o)
    raise TypeError(f"a reply field of type {type(o).__name__} is not JSON serialisable")


def _request_mode(req: dict) -> Optional[str]:
    """The rounding mode a request names, if it names a valid one (else the handler decides)."""
    r = req.get("rounding")
    mode = r.get("mode") if isinstance(r, dict) else r
    if isinstance(mode, str) and re.fullmatch(r"sr:?[0-9]*", mode):
        return "sr"
    return mode if mode in ALL_MODES else None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


Handler = Callable[[dict], dict]


class Backend:
    """A protocol-v1 backend: register op handlers, then call serve()."""

    def __init__(self, name: str, modes: Sequence[str] = ALL_MODES, formats: Any = "any",
                 version: Optional[str] = None, supports_extra: Optional[dict] = None,
                 debug: bool = False):
        self.name = name
        self.modes = list(modes)
        self.formats = formats
        self.version = version
        self.supports_extra = dict(supports_extra or {})
        self.debug = debug  # print handler tracebacks to stderr
        self.handlers: Dict[str, Handler] = {}

    def op(self, name: str) -> Callable[[Handler], Handler]:
        """Decorator: @backend.op("quantize") def f(request_dict) -> reply_fields_dict."""
        if name == "hello":
            raise ValueError("hello is answered by mls_backend itself")

        def register(fn: Handler) -> Handler:
            self.handlers[name] = fn
            return fn

        return register

    def register(self, name: str, fn: Handler) -> None:
        self.op(name)(fn)

    def hello(self) -> dict:
        supports = {"ops": list(self.handlers), "modes": list(self.modes), "formats": self.formats}
        supports.update(self.supports_extra)
        reply = {"protocol": PROTOCOL_VERSION, "name": self.name, "supports": supports}
        if self.version is not None:
            reply["version"] = self.version
        return reply

    def handle(self, req: Any) -> dict:
        """One parsed request -> one reply object (never raises)."""
        if not isinstance(req, dict):
            return {"id": None, "error": "a request must be a JSON object"}
        has_id = "id" in req
        rid = req.get("id")
        try:
            op = req.get("op")
            if not isinstance(op, str):
                raise ProtocolError('request field "op" is missing or not a string')
            if op == "hello":
                reply = self.hello()
            elif op in self.handlers:
                mode = _request_mode(req)
                if mode is not None and mode not in self.modes:
                    raise Unsupported(f'rounding mode "{mode}" is not supported by {self.name}')
                reply = self.handlers[op](req)
                if not isinstance(reply, dict):
                    raise TypeError(f"the {op} handler returned {type(reply).__name__}, not a dict")
                reply = {k: v for k, v in reply.items() if k != "id"}
            else:
                reply = {"unsupported": f'op "{op}" is not supported by {self.name}'}
        except Unsupported as e:
            reply = {"unsupported": str(e) or "unsupported"}
        except Exception as e:  # every failure of one request is answered, never fatal
            if self.debug:
                traceback.print_exc(file=sys.stderr)
            msg = str(e) if isinstance(e, ProtocolError) else f"{type(e).__name__}: {e}"
            reply = {"error": msg}
        if has_id:
            reply["id"] = rid
        return reply

    def handle_line(self, line) -> Optional[str]:
        """One request line (str or UTF-8 bytes) -> one reply line (no newline); None for a blank line."""
        try:
            if isinstance(line, (bytes, bytearray)):
                line = line.decode("utf-8")
            line = line.rstrip("\r\n")
            if not line.strip():
                return None
            req = json.loads(line, parse_constant=_reject_constant)
        except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, NaN/Infinity
            return self._dump({"id": None, "error": f"malformed JSON request: {e}"})
        reply = self.handle(req)
        try:
            return self._dump(reply)
        except (TypeError, ValueError) as e:  # unserialisable or non-finite reply field
            err = {"error": f"reply could not be encoded as JSON: {e}"}
            if isinstance(req, dict) and "id" in req:
                err["id"] = req["id"]
            return self._dump(err)

    @staticmethod
    def _dump(obj: dict) -> str:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=_json_default)

    def serve(self, stdin=None, stdout=None) -> int:
        """Answer requests until EOF; returns 0 (use: sys.exit(backend.serve()))."""
        real_stdout = stdout if stdout is not None else sys.stdout
        if stdin is None:  # read bytes, so that bad UTF-8 is one malformed request, not a crash
            stdin = getattr(sys.stdin, "buffer", sys.stdin)
        saved = sys.stdout
        sys.stdout = sys.stderr  # a stray print() must not corrupt the reply stream
        try:
            for line in stdin:
                out = self.handle_line(line)
                if out is None:
                    continue
                try:
                    real_stdout.write(out + "\n")
                    real_stdout.flush()
                except BrokenPipeError:
                    return 0  # the runner went away: nothing more to answer
        except KeyboardInterrupt:
            return 0
        finally:
            sys.stdout = saved
        return 0
