#!/usr/bin/env python3
"""mls_formats' tables against the golden model's: profiles, named grids, short names, round requests.

mls_formats.py restates the family's named profiles and grids for Python
backends. This test asks the golden model (`mls formats --json`, `mls serve`)
for the same things and compares, so that the two tables cannot drift apart:

    /usr/bin/python3 conformance/python/tests/test_family_descriptors.py --mls build/tools/mls
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
import mls_backend as mb  # noqa: E402


def formats_json(mls: str, extra=()):
    args = [mls, "formats", "--json"]
    for f in extra:
        args += ["-f", f]
    return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mls", required=True)
    a = ap.parse_args()
    fails = []
    checks = 0

    def check(cond, what):
        nonlocal checks
        checks += 1
        if not cond:
            fails.append(what)

    golden = {p["name"]: p for p in formats_json(a.mls)}
    check(set(golden) == set(mb.PROFILE_FORMATS),
          f"profile names differ: golden {sorted(golden)} python {sorted(mb.PROFILE_FORMATS)}")
    for name, f in mb.PROFILE_FORMATS.items():
        if name not in golden:
            continue
        g = golden[name]
        check(f.to_json() == g["format"], f"{name}: JSON {f.to_json()} != golden {g['format']}")
        check(f.short_name() == g["short_name"], f"{name}: short name {f.short_name()} != golden {g['short_name']}")
        check(mb.parse_format(g["short_name"]) == f, f"{name}: the golden short name parses to another format")
        check(mb.parse_format(g["format"]) == f, f"{name}: the golden JSON parses to another format")

    # Named grids: as the element (or group scale) of a short name the golden model prints.
    shorts, grids = [], []
    for gname, grid in mb.NAMED_GRIDS.items():
        if gname == "binary32":
            continue
        short = f"e2m1.{gname}" if not grid.signed else f"{gname}.g4m1"
        shorts.append(short)
        grids.append((gname, grid, short))
    variants = ["e3m2b5z.g5m2/1x2:floor:poszero", "fp4_e2m1.e8m0/blk8@0:ocp_even", "nvfp4:tscale_one",
                "mxfp8-e4m3:ovf_nan", "i4b2.g6m1:nearest:ovf_error", "e4m3b7i.g8m0b127n/blk16:ocp_ceil:tscale_one"]
    got = formats_json(a.mls, shorts + variants)
    by_short = {p["short_name"]: p for p in got}
    for gname, grid, short in grids:
        f = mb.parse_format(short)
        p = by_short.get(f.short_name())
        check(p is not None, f"golden does not print {short} as {f.short_name()}")
        if p is not None:
            role = "group_scale" if not grid.signed else "element"
            check(p["format"][role] == grid.to_json(role),
                  f"named grid {gname}: {grid.to_json(role)} != golden {p['format'][role]}")
    for v in variants:
        f = mb.parse_format(v)
        p = by_short.get(f.short_name())
        check(p is not None and p["format"] == f.to_json(), f"{v}: python {f.short_name()} {f.to_json()} not printed by golden")

    # Round requests: the golden model accepts what parse_round accepts (and the codes of NaN/Inf).
    reqs = [
        ({"op": "round", "element": "fp8_e4m3", "overflow": "nan", "x": [0x7FC00000, 0xFFC00000, 0x43E80000, 0x43F00000]},
         [0x7F, 0xFF, 0x7E, 0x7F]),  # 464 ties to 448; 480 is NaN
        ({"op": "round", "element": "fp8_e5m2", "overflow": "infinity", "x": [0x7F800000, 0xFF800000, 0x7FC00000]},
         [0x7C, 0xFC, 0x7E]),
        ({"op": "round", "element": "int8", "x": [0xC0000000]}, [0x81]),
        ({"op": "round", "format": "mxfp4:poszero", "rounding": {"mode": "rtz"}, "x": [0x80000001]}, [0x0]),
        # E8M0 as a cast's grid (3.10): ties 1.5 and 3 to the even code 128 (2), +-0 to the smallest value
        # (code 0, 2^-127), NaN and the tie past 2^127 (1.5 2^127 -> 2^127, even) and Inf under overflow = nan.
        ({"op": "round", "element": "e8m0", "overflow": "nan",
          "x": [0x3FC00000, 0x40400000, 0, 0x80000000, 0x7FC00000, 0x7F400000, 0x7F800000]},
         [128, 128, 0, 0, 0xFF, 0xFE, 0xFF]),
    ]
    lines = "".join(json.dumps(dict(r, id=i)) + "\n" for i, (r, _) in enumerate(reqs))
    out = subprocess.run([a.mls, "serve"], input=lines, capture_output=True, text=True, check=True).stdout.splitlines()
    for (r, want), line in zip(reqs, out):
        rep = json.loads(line)
        py = mb.parse_round(r)
        check(rep.get("codes") == want, f"golden round {r} -> {rep}, expected {want}")
        for c in want:
            check(py.element.is_nan_code(c) or py.element.is_inf_code(c) or py.element.is_valid_code(c),
                  f"python does not know code {c:#x} of {py.element.name()}")
    check(len(out) == len(reqs), f"mls serve answered {len(out)} of {len(reqs)} requests")

    for f in fails:
        print("MISMATCH", f)
    print(f"family descriptors: {checks} checks, {len(fails)} mismatches")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
