"""mls_backend: write a backend of the format family in Python; this module speaks the protocol.

An implementation under test talks to ``mls check --backend-cmd CMD`` (and to
anything else that speaks process protocol v1, spec/09-protocol.md) through
newline-delimited JSON on stdin/stdout. This module implements that loop, so a
Python implementation only writes its operations::

    import mls_backend as mb

    backend = mb.Backend("my quantizer", modes=["rne", "sr"], elements=["fp8_e4m3"])

    @backend.op("round")
    def cast(req):
        r = mb.parse_round(req)                      # RoundRequest: element grid, rounding, policies, x
        ...
        return {"codes": [...]}

    @backend.op("quantize")
    def quantize(req):
        fmt = mb.parse_format(req["format"])         # Format, validated (spec 2.7-2.9)
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
  "modes": [...], "formats": "any" | [...], "elements": [...], "arith": [...]}}``
  (plus ``version`` and any extra ``supports`` members given to ``Backend``);
  the runner sends nothing outside the declared ops, modes, formats (profile or
  short names, exact match), elements (grid names, for ``round``) and
  quantizer arithmetic profiles: those cases count as skipped, never passed;
- any other op is dispatched to the handler registered for it; the handler
  gets the request as a dict and returns a dict of reply fields (numpy arrays
  and scalars are converted to JSON lists and integers);
- the request's ``id`` (any JSON value) is copied into the reply; a request
  without ``id`` gets a reply without one;
- a handler exception becomes ``{"id": N, "error": "<message>"}``; raising
  ``Unsupported("why")`` becomes ``{"id": N, "unsupported": "why"}``; an op
  with no handler becomes ``{"id": N, "unsupported": "op \\"X\\" is not
  supported by NAME"}``; ``LibraryError`` (see ``library_call``) is an error
  reply that says which library function raised what;
- a request whose ``rounding`` names a mode outside ``modes`` (given to
  ``Backend``) becomes ``{"id": N, "unsupported": ...}`` before any handler runs;
- a line that is not JSON, or not a JSON object, becomes
  ``{"id": null, "error": "..."}``;
- the session continues after every error; at EOF ``serve`` returns 0.

While ``serve`` runs, ``sys.stdout`` is redirected to stderr, so a stray
``print`` in a handler cannot corrupt the reply stream; diagnostics go to
stderr.

Helpers (standard library only; numpy is used where it is installed), most
of them from ``mls_formats`` (re-exported here):

- ``parse_format(obj)`` -> ``Format``: a JSON format object (spec 2.8), a
  profile name with options (``mxfp8-e4m3``, ``nvfp4:tscale_one``, ...: 2.9),
  a short name (``e2m1.g4m1/1x1x0x0:floor``, ``fp4_e2m1.e8m0/blk32:ocp``: 2.7)
  or JSON text; validated. ``Format.element`` / ``Format.group_scale`` are
  ``Minifloat`` grids (signed, E, M, bias, zero, specials, encoding) with exact
  ``magnitude(mcode) -> (N, k)`` (value ``N * 2^k``), ``max_value``,
  ``is_valid_code``, ``nan_code``, ``name()``; ``Format.layout(shape)`` gives
  the group layout (2.4, blocks of 2.4.1); ``Format.spec10()`` tells an MLS
  format (spec 1.0) from the rest of the family.
- ``parse_grid(obj, role)`` -> ``Minifloat``: a grid JSON object, a named grid
  (``NAMED_GRIDS``: fp8_e4m3, fp8_e5m2, fp6_e2m3, fp6_e3m2, fp4_e2m1, int8,
  e8m0, binary32) or a grid name (``e4m3b7n``, ``g8m0b127n``, ``i8``).
- ``parse_round(req)`` -> ``RoundRequest`` (element, rounding, overflow,
  signed_zero, scale as a Fraction, x, rand) for the ``round`` op.
- ``parse_rounding(obj)`` -> ``Rounding(mode, bits)`` (spec 3.8).
- ``parse_shape``, ``parse_words`` (arrays of unsigned 32-bit integers),
  ``parse_tensor`` -> ``MlsTensor`` (spec 2.10, validated).
- fp32 bit patterns: ``bits_to_f32`` / ``f32_to_bits`` (numpy float32 <->
  uint32 views), ``fp32_decode(bits) -> (negative, m, e)`` with the exact
  value ``(-1)^negative * m * 2^e``, ``fp32_to_fraction``, ``fp32_is_finite``,
  ``FP32_ONE``.
- ``library_call(what, fn, *args)``: calls a library function and turns any
  exception it raises into ``LibraryError("<what> raised <Type>: <msg>")``.
- ``require(package, version, install_hint)``: imports an outside library and
  checks its version, with a message naming the package and how to install it.

Only decoding, validation and the protocol live here; the semantics
(rounding, quantization) are the backend's own (see examples/numpy_backend.py
and adapters/).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mls_formats import (  # noqa: E402,F401  (re-exported)
    ALL_MODES, ANY, CAST, ELEMENT, ENCODINGS, GROUP_SCALE, NAMED_GRIDS, NONFINITE_POLICIES, OVERFLOW_POLICIES,
    PROFILE_FORMATS, PROFILES, QUANT_ARITH, SCALE_POLICIES, SIGNED_ZERO, SPECIALS, TENSOR_SCALE_RULES, U32_MAX,
    ZERO_MODES, Format, GroupLayout, Minifloat, ProtocolError, RoundRequest, Rounding, Unsupported, _check_members,
    _int_field, _is_int, _numpy, default_bias, parse_format, parse_grid, parse_round, parse_rounding, parse_scale,
    parse_words, sr_r)

PROTOCOL_VERSION = 1
FP32_ONE = 0x3F800000
MAX_ELEMENTS = 1 << 40

__all__ = [
    "Backend", "Unsupported", "ProtocolError", "LibraryError", "Minifloat", "Format", "Rounding", "GroupLayout",
    "MlsTensor", "RoundRequest", "parse_format", "parse_grid", "parse_round", "parse_rounding", "parse_shape",
    "parse_words", "parse_tensor", "parse_scale", "bits_to_f32", "f32_to_bits", "fp32_decode", "fp32_to_fraction",
    "fp32_is_finite", "library_call", "require", "PROTOCOL_VERSION", "ALL_MODES", "FP32_ONE", "PROFILES",
    "PROFILE_FORMATS", "NAMED_GRIDS",
]


class LibraryError(RuntimeError):
    """An exception raised by the library under test, for one request: answered as {"error": message}."""


def library_call(what: str, fn: Callable, *args, **kwargs):
    """fn(*args, **kwargs); an exception becomes LibraryError naming `what` and the library's own message."""
    try:
        return fn(*args, **kwargs)
    except (Unsupported, ProtocolError):
        raise
    except Exception as e:  # the library's failure for this input, not the backend's
        raise LibraryError(f"{what} raised {type(e).__name__}: {e}") from None


def require(package: str, version: Optional[str], install_hint: str):
    """Import `package`; with `version`, insist on exactly that version (metadata of the installed distribution).

    On failure exits the process with a message that names the package, the
    version found and how to install the expected one: a runner then reports a
    failed handshake that quotes it.
    """
    import importlib
    try:
        mod = importlib.import_module(package)
    except Exception as e:  # ImportError, or a broken install raising anything at import
        sys.stderr.write(f"{package} is not installed or does not import ({type(e).__name__}: {e}); "
                         f"install it with: {install_hint}\n")
        sys.exit(3)
    if version is not None:
        found = getattr(mod, "__version__", None)
        try:
            from importlib.metadata import version as dist_version
            found = dist_version(package.replace("_", "-")) if found is None else found
        except Exception:
            pass
        if str(found).split("+")[0] != version and os.environ.get("MLS_OUTSIDE_ANY_VERSION") != "1":
            sys.stderr.write(f"{package} {found} is installed, but this adapter was written against {package} "
                             f"{version} (set MLS_OUTSIDE_ANY_VERSION=1 to run it on {found} anyway); "
                             f"install {version} with: {install_hint}\n")
            sys.exit(3)
    return mod


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
        if not (fmt.group_scale.is_valid_code(c) or fmt.group_scale.is_nan_code(c)):
            raise ProtocolError(f"group_scales[{i}] = {c} is not a valid code of {fmt.group_scale.name()}")
    for i, c in enumerate(els):
        g = fmt.element
        if not (g.is_valid_code(c) or g.is_nan_code(c) or g.is_inf_code(c)):
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
                 debug: bool = False, elements: Any = None, arith: Optional[Sequence[str]] = None):
        self.name = name
        self.modes = list(modes)
        self.formats = formats
        self.elements = elements  # grid names for round (None: not declared, i.e. any)
        self.arith = list(arith) if arith is not None else None  # quantizer arithmetic profiles (None: exact)
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
        if self.elements is not None:
            supports["elements"] = self.elements
        if self.arith is not None:
            supports["arith"] = self.arith
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
            msg = str(e) if isinstance(e, (ProtocolError, LibraryError)) else f"{type(e).__name__}: {e}"
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
