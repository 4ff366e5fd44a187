"""Shared plumbing of the outside-library adapters (conformance/python/adapters/).

Each adapter is a protocol-v1 backend on mls_backend.py that puts one real
library under test. This module holds what they share: the import of
mls_backend, the per-request checks of a cast against what a library's cast
function can do (a request outside that is *unsupported*: a skip, never a
pass), and the fp32 <-> numpy plumbing. It decides nothing about rounding:
every code an adapter returns is the library's.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Sequence

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, os.pardir))
import mls_backend as mb  # noqa: E402

INSTALL_HINT = "bash scripts/install-outside.sh --ci (or --all), then run the adapter with build/outside-venv/bin/python"
INSTALL_HINT_ALL = "bash scripts/install-outside.sh --all, then run the adapter with build/outside-venv/bin/python"


@dataclass(frozen=True)
class Cast:
    """One cast of a library: fp32 -> the grid `grid` (a named grid or grid name of spec 1.8/1.10)."""

    grid: str                      # how hello declares it (supports.elements)
    target: str                    # the library's name of the target type or format
    overflow: Sequence[str]        # the overflow policies (3.5) the library's cast implements
    modes: Sequence[str] = ("rne",)
    signed_zero: Sequence[str] = ("preserve",)
    scale: str = "one"             # "one": only scale 1; "pow2": any power of two (applied exactly)
    note: str = ""

    @property
    def minifloat(self) -> mb.Minifloat:
        return mb.parse_grid(self.grid, mb.CAST, "element")


def find_cast(casts: Iterable[Cast], r: mb.RoundRequest, library: str) -> Cast:
    """The cast of `casts` whose grid is the request's, checked against the request; else Unsupported."""
    for c in casts:
        if c.minifloat == r.element:
            break
    else:
        raise mb.Unsupported(f"{library} has no cast to the grid {r.element.name()}")
    if r.rounding.mode not in c.modes:
        raise mb.Unsupported(f"{library} {c.target}: rounding {r.rounding.name()} (its cast rounds {'/'.join(c.modes)})")
    if r.overflow not in c.overflow:
        raise mb.Unsupported(f"{library} {c.target}: overflow = {r.overflow} (its cast implements "
                             f"{' or '.join(c.overflow)})")
    if r.signed_zero not in c.signed_zero:
        raise mb.Unsupported(f"{library} {c.target}: signed_zero = {r.signed_zero} (its cast gives "
                             f"{' or '.join(c.signed_zero)})")
    if r.scale != 1 and not (c.scale == "pow2" and r.scale_pow2() is not None):
        raise mb.Unsupported(f"{library} {c.target}: a scale of {r.scale} (the cast takes "
                             f"{'powers of two, applied exactly' if c.scale == 'pow2' else 'no scale'})")
    return c


def declared_elements(casts: Iterable[Cast]) -> list:
    return [c.grid for c in casts]


def f32(bits) -> "object":
    """fp32 bit patterns -> numpy float32 array (same bits)."""
    import numpy as np
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


def fp32_words(req: dict, key: str = "x"):
    """The request's fp32 bit patterns as a numpy uint32 array, as strict as mb.parse_words (fast for big arrays)."""
    import numpy as np
    v = req.get(key)
    if not isinstance(v, list):
        raise mb.ProtocolError(f'field "{key}" is missing or not an array of integers')
    if not v:
        return np.zeros(0, dtype=np.uint32)
    if set(map(type, v)) == {int}:
        a = np.array(v)  # int64, or object for integers beyond int64 (then rejected below)
        if a.dtype.kind == "i" and a.min() >= 0 and a.max() <= mb.U32_MAX:
            return a.astype(np.uint32)
    mb.parse_words(v, key)  # names the first bad index
    raise mb.ProtocolError(f"{key} is not an array of integers in 0..4294967295")


def versions(*names: str) -> Dict[str, str]:
    """Installed distribution versions (for the hello reply and the report)."""
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for n in names:
        try:
            out[n] = version(n)
        except PackageNotFoundError:
            out[n] = "not installed"
    return out


def describe_casts(casts: Iterable[Cast]) -> list:
    """The cast table as JSON for the hello reply (informative: the runner reads supports.*)."""
    return [{"grid": c.grid, "target": c.target, "overflow": list(c.overflow), "modes": list(c.modes),
             "signed_zero": list(c.signed_zero), "scale": c.scale, **({"note": c.note} if c.note else {})}
            for c in casts]


def arg_value(argv: Sequence[str], name: str, default: Optional[str] = None) -> Optional[str]:
    """--name VALUE or --name=VALUE from argv."""
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a[len(name) + 1:]
    return default
