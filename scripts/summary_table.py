#!/usr/bin/env python3
"""Prints one table from the JSON reports `mls check` wrote into a folder.
Exit status: 0 when every report passed, 1 otherwise. Standard library only."""
import json
import pathlib
import sys

folder = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "out")
rows, ok = [], True
for path in sorted(folder.glob("*-replay.json")) + sorted(folder.glob("*-random.json")):
    rep = json.loads(path.read_text())
    impl, _, kind = path.stem.rpartition("-")
    for op, t in sorted(rep["ops"].items()):
        tier = t.get("tier", "")
        if tier:
            tier += f" ({t.get('worst_ulps', 0)} ulp)"
        rows.append((impl, kind, op, t["passed"], t["mismatched"], t["skipped"], t["backend_failures"], tier))
    ok = ok and rep["exit_code"] == 0
    if rep.get("aborted"):
        rows.append((impl, kind, "ABORTED", 0, 0, 0, 0, rep.get("abort_reason", "")[:40]))

head = ("implementation-way", "campaign", "op", "passed", "mismatch", "skipped", "failures", "conv tier")
widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
line = lambda r: "  ".join(str(v).ljust(w) if i < 3 or i == 7 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
print(line(head))
print("  ".join("-" * w for w in widths))
for r in rows:
    print(line(r))
print("\nresult:", "ALL PASS" if ok else "FAILURES (see the logs and out/failures/)")
sys.exit(0 if ok else 1)
