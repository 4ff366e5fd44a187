"""mls_formats: the descriptors of the format family for Python backends (spec 01, 02, 03.8).

Decoding and validation only, standard library only: minifloat grids
(``Minifloat``, spec 1.1-1.10, with ``specials``, ``encoding``, unsigned grids
and ``zero = none``), the named grids of 1.8 (``fp8_e4m3``, ``e8m0``, ...),
grid names (``e4m3b7n``, ``g8m0b127n``, ``i8``), formats (``Format``, spec 02:
block layouts, tensor-scale rule, scale rule, overflow and non-finite
policies), short names, the JSON form, the named profiles of 2.9, roundings
(3.8) and the ``round`` request of the protocol. ``mls_backend`` re-exports
everything here; a backend imports ``mls_backend``.

The tables below (named grids, profiles, enumeration names) restate the
golden model's; ``tests/test_family_descriptors.py`` checks them against
``mls formats`` and ``mls serve`` so that the two never drift apart.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple


class Unsupported(Exception):
    """Raise from a handler to answer {"unsupported": message}: the runner counts the case as skipped."""


class ProtocolError(ValueError):
    """A bad request or bad input data; answered as {"error": message}."""


ALL_MODES = ("rne", "rna", "rtz", "rup", "rdn", "rto", "sr")
ZERO_MODES = ("subnormal", "zero_only", "none")
SPECIALS = ("none", "ieee", "nan_all_ones")
ENCODINGS = ("sign_magnitude", "twos_complement")
SCALE_POLICIES = ("ceil", "nearest", "floor", "ocp", "ocp_ceil", "ocp_even")
TENSOR_SCALE_RULES = ("amax", "one")
OVERFLOW_POLICIES = ("saturate", "error", "infinity", "nan")
NONFINITE_POLICIES = ("error", "propagate")
SIGNED_ZERO = ("preserve", "positive")
QUANT_ARITH = ("exact", "fp32_div", "fp32_reciprocal", "torchao_mx", "torchao_mx_rceil", "torchao_nvfp4",
               "te_mxfp8", "te_nvfp4")
U32_MAX = 0xFFFFFFFF

ELEMENT, GROUP_SCALE, ANY = "element", "group_scale", "any"
# The target grid of a cast (the round op, spec 3.10): any grid valid as an element
# or as a group-scale format (E8M0 too); JSON defaults are the element's.
CAST = "cast"


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


def _enum_field(obj: dict, key: str, path: str, allowed: Sequence[str], default: Optional[str] = None) -> str:
    if key not in obj or obj[key] is None:
        return allowed[0] if default is None else default
    v = obj[key]
    if not isinstance(v, str):
        raise ProtocolError(f"{path}.{key} is missing or has the wrong type")
    if v not in allowed:
        raise ProtocolError(f'{path}.{key} = "{v}" is not one of {", ".join(allowed)}')
    return v


# --------------------------------------------------------------------------------------------
# Minifloat descriptors (spec 01)


def default_bias(exp_bits: int) -> int:
    """Spec 1.8: 2^E - 1 (0 for E = 0)."""
    return (1 << exp_bits) - 1 if 0 < exp_bits <= 30 else 0


@dataclass(frozen=True)
class Minifloat:
    """A grid: sign | exponent e (E bits) | mantissa f (M bits) (spec 1.1-1.7).

    zero: "subnormal", "zero_only" or "none"; specials: "none", "ieee" (Inf and
    NaN at the all-ones exponent field) or "nan_all_ones" (the all-ones
    magnitude is NaN); encoding: "sign_magnitude" or "twos_complement" (E = 0
    integers, OCP INT8). Values are exact dyadics N * 2^k.
    """

    signed: bool
    exp_bits: int
    man_bits: int
    bias: int
    zero: str
    specials: str = "none"
    encoding: str = "sign_magnitude"

    @staticmethod
    def element(e: int, m: int, bias: Optional[int] = None, zero: str = "subnormal") -> "Minifloat":
        return Minifloat(True, e, m, default_bias(e) if bias is None else bias, zero)

    @staticmethod
    def group_scale(e: int, m: int) -> "Minifloat":
        return Minifloat(False, e, m, (1 << e) - 1, "none")

    # ---- sizes and codes ----
    @property
    def width(self) -> int:
        return (1 if self.signed else 0) + self.exp_bits + self.man_bits

    @property
    def twos_complement(self) -> bool:
        return self.encoding == "twos_complement"

    @property
    def magnitude_count(self) -> int:
        return 1 << (self.exp_bits + self.man_bits)

    @property
    def sign_bit(self) -> int:
        """The code bit that holds the sign (0 for an unsigned grid)."""
        return self.magnitude_count if self.signed else 0

    @property
    def has_zero(self) -> bool:
        return self.zero != "none"

    @property
    def has_nan(self) -> bool:
        return self.specials != "none"

    @property
    def has_inf(self) -> bool:
        return self.specials == "ieee"

    def is_valid_magnitude(self, mcode: int) -> bool:
        if not 0 <= mcode < self.magnitude_count:
            return False
        e, f = mcode >> self.man_bits, mcode & ((1 << self.man_bits) - 1)
        if self.zero == "zero_only" and e == 0 and f != 0:
            return False
        if self.specials == "ieee" and e == (1 << self.exp_bits) - 1:
            return False
        if self.specials == "nan_all_ones" and mcode == self.magnitude_count - 1:
            return False
        return True

    @property
    def max_mcode(self) -> int:
        """The largest valid magnitude code (q_max / g_max)."""
        if self.specials == "ieee":
            return (((1 << self.exp_bits) - 1) << self.man_bits) - 1
        if self.specials == "nan_all_ones":
            return self.magnitude_count - 2
        return self.magnitude_count - 1

    def encode(self, negative: bool, mcode: int) -> int:
        """1.2: a code from a sign and a magnitude code (two's complement: -mcode mod 2^W)."""
        if not self.signed:
            return mcode
        if self.twos_complement:
            return ((1 << self.width) - mcode) & ((1 << self.width) - 1) if negative and mcode else mcode
        return mcode | (self.sign_bit if negative else 0)

    def split(self, code: int) -> Tuple[bool, int]:
        """(negative, magnitude code) of a code; two's complement 0x80 has magnitude 2^M."""
        if not self.signed:
            return False, code
        neg = bool(code & self.sign_bit)
        if self.twos_complement:
            return neg, ((1 << self.width) - code) if neg else code
        return neg, code & (self.magnitude_count - 1)

    def is_valid_code(self, code: int) -> bool:
        """A code with a finite value (1.7); NaN and Inf codes are not valid values."""
        if not _is_int(code) or code < 0 or code >= (1 << self.width):
            return False
        if self.twos_complement:
            return True
        return self.is_valid_magnitude(code & (self.magnitude_count - 1))

    def is_nan_code(self, code: int) -> bool:
        if self.specials == "none" or not 0 <= code < (1 << self.width):
            return False
        mag = code & (self.magnitude_count - 1)
        if self.specials == "nan_all_ones":
            return mag == self.magnitude_count - 1
        return (mag >> self.man_bits) == (1 << self.exp_bits) - 1 and (mag & ((1 << self.man_bits) - 1)) != 0

    def is_inf_code(self, code: int) -> bool:
        if self.specials != "ieee" or not 0 <= code < (1 << self.width):
            return False
        return (code & (self.magnitude_count - 1)) == ((1 << self.exp_bits) - 1) << self.man_bits

    def nan_code(self, negative: bool = False) -> int:
        """The grid's NaN of that sign (ieee: the quiet NaN with only the top mantissa bit)."""
        if self.specials == "nan_all_ones":
            return self.encode(negative, self.magnitude_count - 1)
        if self.specials == "ieee":
            return self.encode(negative, (((1 << self.exp_bits) - 1) << self.man_bits) | (1 << (self.man_bits - 1)))
        raise ProtocolError(f"format {self.name()} has no NaN code")

    def inf_code(self, negative: bool = False) -> int:
        if self.specials != "ieee":
            raise ProtocolError(f"format {self.name()} has no Inf code")
        return self.encode(negative, ((1 << self.exp_bits) - 1) << self.man_bits)

    # ---- values ----
    def magnitude(self, mcode: int) -> Tuple[int, int]:
        """Exact value of a magnitude code as (N, k): value = N * 2^k (spec 1.3)."""
        e, f = mcode >> self.man_bits, mcode & ((1 << self.man_bits) - 1)
        if e == 0 and self.zero != "none":
            return f, 1 - self.bias - self.man_bits
        return (1 << self.man_bits) + f, e - self.bias - self.man_bits

    def magnitude_fraction(self, mcode: int) -> Fraction:
        n, k = self.magnitude(mcode)
        return Fraction(n) * (Fraction(2) ** k)

    def value(self, code: int) -> Fraction:
        """Signed exact value of a valid code."""
        if not self.is_valid_code(code):
            raise ProtocolError(f"code 0x{code:x} is not a valid code of format {self.name()}")
        neg, mag = self.split(code)
        v = self.magnitude_fraction(mag)
        return -v if neg else v

    @property
    def max_value(self) -> Tuple[int, int]:
        """q_max (elements) or g_max (group scales) as (N, k)."""
        return self.magnitude(self.max_mcode)

    @property
    def max_mcode_all_ones(self) -> int:
        return self.magnitude_count - 1

    def emax(self) -> int:
        """floor(log2(largest value)): emax_elem of OCP MX v1.0."""
        n, k = self.max_value
        return n.bit_length() - 1 + k

    # ---- names and JSON ----
    def name(self) -> str:
        """Spec 1.10: e<E>m<M>[b<bias>][z|s|x][n|i], g<E>m<M>..., i<W>[b<bias>]."""
        if self.twos_complement:
            return f"i{self.width}" + (f"b{self.bias}" if self.bias != 0 else "")
        s = f"{'e' if self.signed else 'g'}{self.exp_bits}m{self.man_bits}"
        db = default_bias(self.exp_bits) if self.signed else (1 << self.exp_bits) - 1
        if self.bias != db:
            s += f"b{self.bias}"
        dz = "subnormal" if self.signed else "none"
        if self.zero != dz:
            s += {"zero_only": "z", "subnormal": "s", "none": "x"}[self.zero]
        s += {"none": "", "nan_all_ones": "n", "ieee": "i"}[self.specials]
        return s

    def to_json(self, role: str = ELEMENT) -> dict:
        """The canonical JSON object of 1.1 as the golden model prints it (defaults of the role left out)."""
        j: Dict[str, Any] = {"exp_bits": self.exp_bits, "man_bits": self.man_bits}
        scale = role == GROUP_SCALE
        if not scale or self.bias != default_bias(self.exp_bits):
            j["bias"] = self.bias
        if not scale or self.zero != "none":
            j["zero"] = self.zero
        if (self.signed if scale else not self.signed):
            j["signed"] = self.signed
        if self.specials != "none":
            j["specials"] = self.specials
        if self.encoding != "sign_magnitude":
            j["encoding"] = self.encoding
        return j

    def validate(self, role: str = ANY, path: str = "") -> "Minifloat":
        """1.9 for `role`; the error names the field (prefixed with `path`)."""
        if role == CAST:  # either role's rules; the error names both (once if they agree)
            try:
                return self.validate(ELEMENT, path)
            except ProtocolError as as_element:
                try:
                    return self.validate(GROUP_SCALE, path)
                except ProtocolError as as_scale:
                    a, b = str(as_element), str(as_scale)
                    if not path:
                        a, b = a[len("element."):], b[len("group_scale."):]
                    if a == b:
                        raise ProtocolError(a) from None
                    raise ProtocolError(f"{path + ': ' if path else ''}the grid is neither an element format ({a}) "
                                        f"nor a group-scale format ({b})") from None
        p = f"{path}." if path else (f"{role}." if role != ANY else "")
        emax_, mmax = (11, 52) if role == ANY else (8, 23)
        emin = 1 if role == GROUP_SCALE and not self.twos_complement else 0
        if not emin <= self.exp_bits <= emax_:
            raise ProtocolError(f"{p}exp_bits = {self.exp_bits} is outside {emin}..{emax_}")
        if not 0 <= self.man_bits <= mmax:
            raise ProtocolError(f"{p}man_bits = {self.man_bits} is outside 0..{mmax}")
        if self.width > 63:
            raise ProtocolError(f"{p}exp_bits + man_bits + sign exceed 63 bits")
        if self.width == 0:
            raise ProtocolError(f"{p}a format needs at least one bit")
        if not -100000 <= self.bias <= 100000:
            raise ProtocolError(f"{p}bias = {self.bias} is outside -100000..100000")
        if self.zero == "zero_only" and self.exp_bits == 0:
            raise ProtocolError(f"{p}zero = zero_only needs exp_bits >= 1")
        if self.specials == "ieee" and (self.exp_bits < 2 or self.man_bits < 1):
            raise ProtocolError(f"{p}specials = ieee needs exp_bits >= 2 and man_bits >= 1")
        if self.specials == "nan_all_ones" and (self.exp_bits < 1 or self.exp_bits + self.man_bits < 2):
            raise ProtocolError(f"{p}specials = nan_all_ones needs exp_bits >= 1 and exp_bits + man_bits >= 2")
        if self.twos_complement:
            if self.exp_bits != 0:
                raise ProtocolError(f"{p}encoding = twos_complement needs exp_bits = 0 (an integer grid)")
            if not self.signed:
                raise ProtocolError(f"{p}encoding = twos_complement needs signed = true")
            if self.specials != "none":
                raise ProtocolError(f"{p}encoding = twos_complement needs specials = none")
            if self.zero != "subnormal":
                raise ProtocolError(f"{p}encoding = twos_complement needs zero = subnormal")
        if role == ELEMENT:
            if self.exp_bits == 0 and self.man_bits == 0:
                raise ProtocolError(f"{p}man_bits = 0 with exp_bits = 0 leaves only the value zero")
            if not self.signed:
                raise ProtocolError(f"{p}signed must be true for an element format")
            if self.zero == "none":
                raise ProtocolError(f"{p}zero = none is not allowed for an element format")
        if role == GROUP_SCALE and self.twos_complement:
            raise ProtocolError(f"{p}encoding = twos_complement is not allowed for a group-scale format")
        return self


def _grid(signed: bool, e: int, m: int, b: int, zero: str, specials: str = "none", encoding: str = "sign_magnitude"):
    return Minifloat(signed, e, m, b, zero, specials, encoding)


# 1.8: the element and scale grids of OCP MX v1.0 and NVFP4, by name.
NAMED_GRIDS: Dict[str, Minifloat] = {
    "fp8_e4m3": _grid(True, 4, 3, 7, "subnormal", "nan_all_ones"),
    "fp8_e5m2": _grid(True, 5, 2, 15, "subnormal", "ieee"),
    "fp6_e2m3": _grid(True, 2, 3, 1, "subnormal"),
    "fp6_e3m2": _grid(True, 3, 2, 3, "subnormal"),
    "fp4_e2m1": _grid(True, 2, 1, 1, "subnormal"),
    "int8": _grid(True, 0, 7, 0, "subnormal", "none", "twos_complement"),
    "e8m0": _grid(False, 8, 0, 127, "none", "nan_all_ones"),
    "binary32": _grid(True, 8, 23, 127, "subnormal", "ieee"),
}

_GRID_RE = re.compile(r"(?:([eg])(\d+)m(\d+)(?:b(-?\d+))?([szx]?)([ni]?)|i(\d+)(?:b(-?\d+))?)")


def parse_grid(obj: Any, role: str = ELEMENT, path: str = "element") -> Minifloat:
    """A grid from the protocol: a JSON object (1.1), a named grid (1.8) or a grid name (1.10); validated."""
    if isinstance(obj, Minifloat):
        return obj.validate(role, path)
    if isinstance(obj, str):
        text = obj.strip()
        if text.startswith("{"):
            try:
                return parse_grid(json.loads(text), role, path)
            except json.JSONDecodeError as e:
                raise ProtocolError(f"{path}: JSON text does not parse: {e}") from None
        if text in NAMED_GRIDS:
            return NAMED_GRIDS[text].validate(role, path)
        m = _GRID_RE.fullmatch(text)
        if not m:
            raise ProtocolError(f'{path} "{text}" is not a grid name like e2m1, e4m3b7n, g8m0b127n, i8 or one of '
                                + ", ".join(NAMED_GRIDS))
        for g in m.groups():
            if g is not None and len(g) > 7:
                raise ProtocolError(f'{path} "{text}": the number "{g}" is out of range')
        if m.group(7) is not None:
            w = int(m.group(7))
            if w < 2:
                raise ProtocolError(f"{path}: i{w} needs at least 2 bits")
            bias = int(m.group(8)) if m.group(8) is not None else 0
            return Minifloat(True, 0, w - 1, bias, "subnormal", "none", "twos_complement").validate(role, path)
        signed = m.group(1) == "e"
        e, mm = int(m.group(2)), int(m.group(3))
        if e > 30:
            raise ProtocolError(f"{path}.exp_bits = {e} is outside 0..8")
        g = Minifloat.element(e, mm) if signed else Minifloat.group_scale(e, mm)
        if m.group(4) is not None:
            g = replace(g, bias=int(m.group(4)))
        z = m.group(5)
        if z:
            g = replace(g, zero={"z": "zero_only", "s": "subnormal", "x": "none"}[z])
        s = m.group(6)
        if s:
            g = replace(g, specials={"n": "nan_all_ones", "i": "ieee"}[s])
        return g.validate(role, path)
    if not isinstance(obj, dict):
        raise ProtocolError(f"{path} must be a JSON object, a named grid or a grid name")
    _check_members(obj, ("exp_bits", "man_bits", "bias", "zero", "signed", "specials", "encoding"), path)
    big = 2 ** 31
    e = _int_field(obj, "exp_bits", path, -big, big - 1)
    m = _int_field(obj, "man_bits", path, -big, big - 1)
    scale = role == GROUP_SCALE
    g = Minifloat.group_scale(e, m) if scale and 0 < e <= 30 else Minifloat.element(e, m) if 0 <= e <= 30 else \
        Minifloat(not scale, e, m, 0, "none" if scale else "subnormal")
    if "bias" in obj:
        g = replace(g, bias=_int_field(obj, "bias", path, -big, big - 1))
    if "zero" in obj:
        g = replace(g, zero=_enum_field(obj, "zero", path, ZERO_MODES))
    if "signed" in obj:
        if not isinstance(obj["signed"], bool):
            raise ProtocolError(f"{path}.signed is missing or has the wrong type")
        g = replace(g, signed=obj["signed"])
    if "specials" in obj:
        g = replace(g, specials=_enum_field(obj, "specials", path, SPECIALS))
    if "encoding" in obj:
        g = replace(g, encoding=_enum_field(obj, "encoding", path, ENCODINGS))
    if g.twos_complement and "bias" not in obj:
        g = replace(g, bias=0)
    return g.validate(role, path)


# --------------------------------------------------------------------------------------------
# Group layout (spec 2.4)


def _numpy():
    try:
        import numpy
    except ImportError:
        return None
    return numpy


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


@dataclass(frozen=True)
class Format:
    element: Minifloat
    group_scale: Minifloat
    group_shape: Tuple[int, ...] = ()
    scale_policy: str = "ceil"      # 4.4: ceil | nearest | floor | ocp | ocp_ceil | ocp_even
    signed_zero: str = "preserve"   # 3.6: preserve | positive
    overflow: str = "saturate"      # 3.5: saturate | error | infinity | nan
    block_size: int = 0             # 2.4.1: blocks of block_size along block_axis (0: none)
    block_axis: int = -1
    tensor_scale: str = "amax"      # 4.3: amax | one
    nonfinite: str = "error"        # 4.1: error | propagate

    def validate(self) -> "Format":
        self.element.validate(ELEMENT, "format.element")
        self.group_scale.validate(GROUP_SCALE, "format.group_scale")
        for i, g in enumerate(self.group_shape):
            if g < 0:
                raise ProtocolError(f"format.group_shape[{i}] = {g} is negative")
        if self.block_size < 0:
            raise ProtocolError(f"format.block.size = {self.block_size} is negative")
        if self.block_size > 0 and self.group_shape:
            raise ProtocolError("format: block and group_shape are exclusive: give one layout (2.4)")
        if not -64 <= self.block_axis <= 63:
            raise ProtocolError(f"format.block.axis = {self.block_axis} is outside -64..63")
        if self.overflow == "infinity" and not self.element.has_inf:
            raise ProtocolError(f"format: overflow = infinity needs an element format with Inf; {self.element.name()} has none")
        if self.overflow == "nan" and not self.element.has_nan:
            raise ProtocolError(f"format: overflow = nan needs an element format with a NaN code; {self.element.name()} has none")
        if self.nonfinite == "propagate":
            if self.tensor_scale != "one":
                raise ProtocolError("format: nonfinite = propagate needs tensor_scale = one (4.1.2)")
            if not self.group_scale.has_nan:
                raise ProtocolError(f"format: nonfinite = propagate needs a group-scale format with a NaN code (4.1.2)")
        return self

    def spec10(self) -> bool:
        """True when spec 1.0 could express the format (an MLS format): every 1.1 field at its default."""
        gs = self.group_scale
        return (self.element.specials == "none" and self.element.encoding == "sign_magnitude" and not gs.signed
                and gs.zero == "none" and gs.specials == "none" and gs.bias == (1 << gs.exp_bits) - 1
                and self.block_size == 0 and self.tensor_scale == "amax" and self.nonfinite == "error"
                and self.scale_policy in ("ceil", "nearest", "floor") and self.overflow in ("saturate", "error"))

    def resolved_group_shape(self, shape: Sequence[int]) -> Tuple[int, ...]:
        shape = tuple(shape)
        if self.block_size > 0:
            axis = self.block_axis + len(shape) if self.block_axis < 0 else self.block_axis
            if not 0 <= axis < len(shape):
                raise ProtocolError(f"block.axis = {self.block_axis} does not fit a tensor of rank {len(shape)}")
            g = [1] * len(shape)
            g[axis] = self.block_size
            return tuple(g)
        gs = self.group_shape
        if not gs:
            gs = (1, 1) + (0,) * (len(shape) - 2) if len(shape) >= 2 else (0,)
        elif len(gs) != len(shape):
            raise ProtocolError(f"group_shape has {len(gs)} entries but the tensor has rank {len(shape)}")
        return tuple(gs)

    def layout(self, shape: Sequence[int]) -> GroupLayout:
        """Resolve the group layout against a tensor shape (spec 2.4, 2.4.1)."""
        shape = tuple(shape)
        gs = self.resolved_group_shape(shape)
        resolved = tuple(n if g == 0 or g > n else g for n, g in zip(shape, gs))
        tiles = tuple(-(-n // g) for n, g in zip(shape, resolved))
        return GroupLayout(shape, resolved, tiles)

    def short_name(self) -> str:
        s = self.element.name() + "." + self.group_scale.name()
        if self.block_size > 0:
            s += f"/blk{self.block_size}" + (f"@{self.block_axis}" if self.block_axis != -1 else "")
        elif self.group_shape:
            s += "/" + "x".join(str(g) for g in self.group_shape)
        if self.scale_policy != "ceil":
            s += ":" + self.scale_policy
        if self.signed_zero == "positive":
            s += ":poszero"
        if self.overflow != "saturate":
            s += ":ovf_" + self.overflow
        if self.tensor_scale != "amax":
            s += ":tscale_" + self.tensor_scale
        if self.nonfinite != "error":
            s += ":nonfinite_" + self.nonfinite
        return s

    def to_json(self) -> dict:
        """The canonical JSON object of 2.8, as the golden model prints it."""
        j: Dict[str, Any] = {
            "element": self.element.to_json(ELEMENT),
            "group_scale": self.group_scale.to_json(GROUP_SCALE),
            "scale_policy": self.scale_policy,
            "signed_zero": self.signed_zero,
            "overflow": self.overflow,
            "group_shape": list(self.group_shape),
        }
        if self.block_size > 0:
            j["block"] = {"size": self.block_size, "axis": self.block_axis}
        if self.tensor_scale != "amax":
            j["tensor_scale"] = self.tensor_scale
        if self.nonfinite != "error":
            j["nonfinite"] = self.nonfinite
        return j

    def q_max(self) -> Fraction:
        n, k = self.element.max_value
        return Fraction(n) * Fraction(2) ** k


def _mls(e: int, m: int, ge: int, gm: int) -> Format:
    return Format(Minifloat.element(e, m), Minifloat.group_scale(ge, gm))


def _mx(elem: str) -> Format:
    return Format(NAMED_GRIDS[elem], NAMED_GRIDS["e8m0"], (), "ocp", "preserve", "saturate", 32, -1, "one", "propagate")


# 2.9: the named profiles of the family (the golden model's table; checked by
# tests/test_family_descriptors.py against `mls formats`).
PROFILE_FORMATS: Dict[str, Format] = {
    "mls-e2m1": _mls(2, 1, 4, 1),
    "mls-e2m4": _mls(2, 4, 4, 1),
    "mls-e3m3": _mls(3, 3, 4, 1),
    "mls-e2m1-g3m0": _mls(2, 1, 3, 0),
    "mls-fixed4": _mls(0, 3, 4, 1),
    "mxfp8-e4m3": _mx("fp8_e4m3"),
    "mxfp8-e5m2": _mx("fp8_e5m2"),
    "mxfp6-e2m3": _mx("fp6_e2m3"),
    "mxfp6-e3m2": _mx("fp6_e3m2"),
    "mxfp4": _mx("fp4_e2m1"),
    "mxint8": _mx("int8"),
    "nvfp4": Format(NAMED_GRIDS["fp4_e2m1"], NAMED_GRIDS["fp8_e4m3"], (), "nearest", "preserve", "saturate", 16, -1,
                    "amax", "error"),
}
# Spec-1.0 short names of the MLS profiles (kept for callers of the 1.0 module).
PROFILES = {name: f.short_name() for name, f in PROFILE_FORMATS.items() if f.spec10()}

_SHORT_RE = re.compile(r"([a-z0-9_-]+)\.([a-z0-9_-]+)(?:/(?:([0-9]+(?:x[0-9]+)*)|blk([0-9]+)(?:@(-?[0-9]+))?))?((?::[a-z_]+)*)")


def _apply_options(f: Format, opts: str) -> Format:
    for o in [o for o in opts.split(":")[1:]]:
        if o in SCALE_POLICIES:
            f = replace(f, scale_policy=o)
        elif o == "poszero":
            f = replace(f, signed_zero="positive")
        elif o.startswith("ovf_") and o[4:] in OVERFLOW_POLICIES:
            f = replace(f, overflow=o[4:])
        elif o.startswith("tscale_") and o[7:] in TENSOR_SCALE_RULES:
            f = replace(f, tensor_scale=o[7:])
        elif o.startswith("nonfinite_") and o[10:] in NONFINITE_POLICIES:
            f = replace(f, nonfinite=o[10:])
        else:
            allowed = [":" + p for p in SCALE_POLICIES] + [":poszero"] + [":ovf_" + p for p in OVERFLOW_POLICIES] + \
                [":tscale_" + p for p in TENSOR_SCALE_RULES] + [":nonfinite_" + p for p in NONFINITE_POLICIES]
            raise ProtocolError(f'format option ":{o}" is not one of {", ".join(allowed)}')
    return f


def _parse_short_name(text: str) -> Format:
    m = _SHORT_RE.fullmatch(text)
    if not m:
        raise ProtocolError(f'format "{text}" is not a profile name, a short name like e2m1.g4m1/1x1x0x0, or JSON')
    elem = parse_grid(m.group(1), ELEMENT, "format element")
    gs = parse_grid(m.group(2), GROUP_SCALE, "format group scale")
    shape: Tuple[int, ...] = ()
    block, axis = 0, -1
    if m.group(3) is not None:
        parts = m.group(3).split("x")
        if any(len(p) > 12 for p in parts):
            raise ProtocolError(f'format "{text}": a group-shape entry is longer than 12 digits')
        shape = tuple(int(p) for p in parts)
    if m.group(4) is not None:
        if len(m.group(4)) > 12:
            raise ProtocolError(f'format "{text}": block.size is out of range')
        block = int(m.group(4))
        if block < 1:
            raise ProtocolError("block.size = 0 must be at least 1")
        if m.group(5) is not None:
            axis = int(m.group(5))
    return _apply_options(Format(elem, gs, shape, block_size=block, block_axis=axis), m.group(6)).validate()


def _format_from_json(obj: Any, path: str = "format") -> Format:
    if not isinstance(obj, dict):
        raise ProtocolError(f"{path} must be a JSON object, a profile name or a short name")
    _check_members(obj, ("element", "group_scale", "group_shape", "block", "scale_policy", "signed_zero", "overflow",
                         "tensor_scale", "nonfinite"), path)
    if "element" not in obj:
        raise ProtocolError(f"{path}.element is missing or has the wrong type")
    elem = parse_grid(obj["element"] if isinstance(obj["element"], dict) else _bad(f"{path}.element"), ELEMENT,
                      path + ".element")
    gs = Minifloat.group_scale(4, 1)
    if "group_scale" in obj:
        g = obj["group_scale"]
        if not isinstance(g, dict):
            raise ProtocolError(f"{path}.group_scale is missing or has the wrong type")
        gs = parse_grid(g, GROUP_SCALE, path + ".group_scale")
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
    block, axis = 0, -1
    if "block" in obj:
        b = obj["block"]
        if not isinstance(b, dict):
            raise ProtocolError(f"{path}.block is missing or has the wrong type")
        _check_members(b, ("size", "axis"), path + ".block")
        block = _int_field(b, "size", path + ".block", -(2 ** 63), 2 ** 63 - 1)
        if block < 1:
            raise ProtocolError(f"{path}.block.size = {block} must be at least 1")
        axis = _int_field(b, "axis", path + ".block", -(2 ** 63), 2 ** 63 - 1, -1)
    return Format(
        elem, gs, shape,
        _enum_field(obj, "scale_policy", path, SCALE_POLICIES),
        _enum_field(obj, "signed_zero", path, SIGNED_ZERO),
        _enum_field(obj, "overflow", path, OVERFLOW_POLICIES),
        block, axis,
        _enum_field(obj, "tensor_scale", path, TENSOR_SCALE_RULES),
        _enum_field(obj, "nonfinite", path, NONFINITE_POLICIES),
    ).validate()


def _bad(path: str):
    raise ProtocolError(f"{path} is missing or has the wrong type")


def parse_format(obj: Any) -> Format:
    """A format from the protocol: JSON object (2.8), profile name [+ options] (2.9), short name (2.7) or JSON text."""
    if isinstance(obj, Format):
        return obj
    if isinstance(obj, str):
        text = obj.strip()
        if text.startswith("{"):
            try:
                return _format_from_json(json.loads(text))
            except json.JSONDecodeError as e:
                raise ProtocolError(f"format JSON text does not parse: {e}") from None
        head = text.split(":", 1)[0]
        if head in PROFILE_FORMATS:
            return _apply_options(PROFILE_FORMATS[head], text[len(head):]).validate()
        return _parse_short_name(text)
    return _format_from_json(obj)


# --------------------------------------------------------------------------------------------
# Rounding (spec 3.8)


@dataclass(frozen=True)
class Rounding:
    mode: str = "rne"
    bits: int = 8  # R, used by sr only

    def name(self) -> str:
        return f"sr{self.bits}" if self.mode == "sr" else self.mode


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


def sr_r(word: int, bits: int) -> int:
    """3.4: r, the R most significant bits of a 32-bit word."""
    return word if bits >= 32 else word >> (32 - bits)


# --------------------------------------------------------------------------------------------
# Words and the round request (the protocol's cast op)


def parse_words(obj: Any, name: str) -> List[int]:
    """An array of unsigned 32-bit integers (fp32 bit patterns, codes, random words)."""
    if not isinstance(obj, list):
        raise ProtocolError(f'field "{name}" is missing or not an array of integers')
    for i, v in enumerate(obj):
        if not _is_int(v) or not 0 <= v <= U32_MAX:
            raise ProtocolError(f"{name}[{i}] is not an integer in 0..4294967295")
    return obj


def parse_scale(obj: Any, name: str = "scale") -> Fraction:
    """A positive dyadic {"m": "<decimal integer>", "e": <integer>} (value m * 2^e); None means 1."""
    if obj is None:
        return Fraction(1)
    if not isinstance(obj, dict):
        raise ProtocolError(f'{name} must be an object {{"m": "<decimal>", "e": <integer>}}')
    _check_members(obj, ("m", "e"), name)
    m, e = obj.get("m"), obj.get("e")
    if isinstance(m, str) and re.fullmatch(r"-?[0-9]{1,4000}", m):
        m = int(m)
    if not _is_int(m) or not _is_int(e) or not -(2 ** 31) <= e < 2 ** 31:
        raise ProtocolError(f'{name} must be an object {{"m": "<decimal>", "e": <integer>}}')
    v = Fraction(m) * Fraction(2) ** e
    if v <= 0:
        raise ProtocolError(f"{name} must be positive")
    return v


@dataclass
class RoundRequest:
    """The protocol's `round` op: fp32 values divided by `scale`, rounded to `element` (3.2, 3.10)."""

    element: Minifloat
    rounding: Rounding
    overflow: str
    signed_zero: str
    scale: Fraction
    x: List[int]
    rand: List[int]
    format: Optional[Format] = None  # when the request named a format instead of an element

    def scale_pow2(self) -> Optional[int]:
        """k when scale = 2^k, else None."""
        n, d = self.scale.numerator, self.scale.denominator
        if n & (n - 1) == 0 and d & (d - 1) == 0:
            return (n.bit_length() - 1) - (d.bit_length() - 1)
        return None


def parse_round(req: dict) -> RoundRequest:
    """The members of a round request, validated as the golden model validates them."""
    fmt = None
    if "format" in req and "element" not in req:
        fmt = parse_format(req["format"])
        elem, overflow, signed_zero = fmt.element, fmt.overflow, fmt.signed_zero
    else:
        if "element" not in req:
            raise ProtocolError('request field "element" is missing')
        elem = parse_grid(req["element"], CAST, "element")
        overflow, signed_zero = "saturate", "preserve"
    rnd = parse_rounding(req.get("rounding"))
    overflow = _enum_field(req, "overflow", "request", OVERFLOW_POLICIES, overflow)
    signed_zero = _enum_field(req, "signed_zero", "request", SIGNED_ZERO, signed_zero)
    scale = parse_scale(req.get("scale"))
    x = parse_words(req.get("x"), "x")
    rand: List[int] = []
    if rnd.mode == "sr":
        rand = parse_words(req.get("rand"), "rand")
        if len(rand) != len(x):
            raise ProtocolError(f"rand has {len(rand)} words but sr needs one per value ({len(x)})")
    return RoundRequest(elem, rnd, overflow, signed_zero, scale, x, rand, fmt)
