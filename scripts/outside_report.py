#!/usr/bin/env python3
"""The outside-implementations report: every adapter of conformance/python/adapters/ under the runner.

    /usr/bin/python3 scripts/outside_report.py --mls build/tools/mls --python build/outside-venv/bin/python \\
        [--libs ml_dtypes,gfloat,torch,torchao,qtorch] [--scale 1.0] [--write]
    /usr/bin/python3 scripts/outside_report.py --mls ... --python ... --ci-check ml_dtypes   # the ctest

For each library: random campaigns (`mls check --random`, the edge-biased
generators, fixed seeds) per operation, profile and mode set, and a replay of
the hand-written edge cases in docs/cases/edges/. Every case is logged
(`--log`); the tallies are per (library, op, grid or format, mode,
arithmetic profile): passed, mismatched, skipped; mismatches are grouped into
classes by (the runner's diagnosed cause, the spec rule at the first
differing code) and each class gets its minimal failing case (shrunk by the
runner, a one-case vector file + JSON) copied to docs/cases/, and the
reading of the class from CLASSES below (who is right, and whether it is a
bug, a documented choice or an ambiguity of the standard).

--write regenerates docs/outside-implementations.md and .json and
docs/cases/; with --libs naming some of the libraries, only their part
(campaigns, classes, edge replays, minimal cases) is regenerated and the
others' are kept as committed. --ci-check LIB reruns the small CI campaigns of
LIB and exits 1 unless their tallies equal the committed ones in the JSON.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

from tqdm import tqdm  # Debian python3-tqdm (scripts/install-deps.sh)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADAPTERS = os.path.join(ROOT, "conformance", "python", "adapters")
DOCS = os.path.join(ROOT, "docs")
CASES = os.path.join(DOCS, "cases")
EDGES = os.path.join(CASES, "edges")

MX = ["mxfp8-e4m3", "mxfp8-e5m2", "mxfp6-e2m3", "mxfp6-e3m2", "mxfp4"]
QT_BLOCK = "e0m7.e8m0/blk64:ocp:poszero:tscale_one,e0m3.e8m0/blk64:ocp:poszero:tscale_one"

# (library, adapter script, extra adapter args, op, formats, modes, arith, cases, ci)
CAMPAIGNS = [
    ("ml_dtypes", "ml_dtypes_backend.py", "", "round",
     "fp8_e4m3,fp8_e5m2,fp6_e2m3,fp6_e3m2,fp4_e2m1,e4m3b7i,e3m4b3i,e8m7b127i", "rne", "", 3000, 600),
    ("ml_dtypes", "ml_dtypes_backend.py", "", "round", "i4b-2,i2", "rtz", "", 1000, 300),
    ("ml_dtypes", "ml_dtypes_backend.py", "", "round", "e8m0", "rne", "", 1000, 200),  # float8_e8m0fnu (3.10)
    ("gfloat", "gfloat_backend.py", "", "round", "fp8_e4m3,fp8_e5m2,fp6_e2m3,fp6_e3m2,fp4_e2m1,int8,e5m10b15i,e8m7b127i",
     "rne,rna,rtz,rup,rdn,sr", "", 3000, 300),
    ("gfloat", "gfloat_backend.py", "--sr-variant Stochastic", "round", "fp8_e4m3,fp6_e2m3,fp4_e2m1", "sr", "", 1000, 0),
    ("gfloat", "gfloat_backend.py", "--sr-variant StochasticFast", "round", "fp8_e4m3,fp6_e2m3,fp4_e2m1", "sr", "", 1000, 0),
    ("gfloat", "gfloat_backend.py", "--sr-variant StochasticOdd", "round", "fp8_e4m3,fp6_e2m3,fp4_e2m1", "sr", "", 1000, 0),
    ("gfloat", "gfloat_backend.py", "", "quantize", ",".join(MX + ["mxint8"]), "rne,rna,rtz,rup,rdn", "", 600, 150),
    ("gfloat", "gfloat_backend.py", "--dtype float64", "quantize", ",".join(MX + ["mxint8"]), "rne,rna,rtz,rup,rdn", "",
     600, 0),
    ("torch", "torch_backend.py", "", "round", "fp8_e4m3,fp8_e5m2,e8m7b127i,e5m10b15i,fp4_e2m1", "rne", "", 3000, 0),
    ("torchao", "torchao_backend.py", "", "quantize", ",".join(f"{p},{p}:ocp_ceil,{p}:ocp_even" for p in MX), "rne",
     "torchao_mx", 600, 0),
    ("torchao", "torchao_backend.py", "", "quantize", ",".join(f"{p}:ceil" for p in MX), "rne", "torchao_mx_rceil", 600, 0),
    ("torchao", "torchao_backend.py", "", "quantize", "nvfp4,nvfp4:tscale_one", "rne", "torchao_nvfp4", 600, 0),
    ("qtorch", "qtorch_backend.py", "", "round", "e2m1b1,e2m3b1,e3m2b3,e4m3b7,e5m2b15", "rna", "", 4000, 0),
    ("qtorch", "qtorch_backend.py", "", "quantize", QT_BLOCK, "rna", "", 600, 0),
]
SEED = 20260

# Readings of the mismatch classes: (library regex, op, grid/format regex, class regex) -> (who is right, kind, text).
# A class no entry matches is reported as "unclassified".
CLASSES = [
    ("ml_dtypes", "round", r"^i", r"saturated|inf_input", "spec", "documented choice",
     "float -> int4/int2 gives 0 for a value outside the integer range (and for +-Inf): ml_dtypes follows "
     "C++'s undefined out-of-range conversion (it raises FE_INVALID) instead of saturating; the family has no such "
     "policy. Not a rounding bug; a user who needs saturation must clip first."),
    ("ml_dtypes|gfloat", "round", r"^i", r"accepted_invalid|rejected_valid", "spec", "documented choice",
     "integer grids: see the out-of-range row."),
    ("ml_dtypes", "round", r"g8m0b127n", r"tie", "spec", "ambiguity of the standard",
     "float8_e8m0fnu rounds every tie 1.5*2^k away from zero: 0.75 -> 1 (127), 1.5 -> 2 (128), 3 -> 4 (129), "
     "6 -> 8 (130), 1.5*2^127 -> NaN (255); the spec's rne (3.3, 3.10) takes the even code: 0.75 -> 0.5 (126), "
     "3 -> 2 (128), 1.5*2^127 -> 2^127 (254), as RNE on the fp32 bit pattern does and as gfloat's "
     "round_float(ocp_e8m0) does. IEEE 754's roundTiesToEven (the neighbour with an even least significant digit) "
     "does not decide a tie when the significand has one digit (both end in 1); ml_dtypes' result is "
     "roundTiesToAway, biased upward. Cases whose first difference is a tie but that also hold a zero input are "
     "diagnosed 'unknown' (two deviations in one case)."),
    ("ml_dtypes", "round", r"g8m0b127n", r"clamped_min", "ambiguity", "ambiguity of the standard",
     "float8_e8m0fnu casts +0 and -0 to NaN (0xff); the spec gives the smallest value 2^-127 (code 0, rule "
     "clamped_min, 3.5/3.10), as ml_dtypes itself does for 2^-140 or any other value below 2^-127. OCP MX v1.0 "
     "(5.4.1) gives E8M0 no zero and defines no conversion to it; a NaN scale makes a whole MX block NaN, so a "
     "zero block's scale cast by ml_dtypes poisons the block."),
    ("ml_dtypes", "round", r"g8m0b127n", r"accepted_invalid", "ambiguity", "documented choice",
     "a negative value cast to float8_e8m0fnu gives NaN (0xff); the spec makes it an error (3.6: an unsigned grid "
     "has no sign; a negative scale is meaningless). OCP MX v1.0 defines no conversion to E8M0; NaN for an "
     "unrepresentable input is IEEE 754's invalid-operation answer, the error is this spec's."),
    ("gfloat", "round", r"e4m3b7n", r"nan_input|inf_input|overflow_nan", "ambiguity", "ambiguity of the standard",
     "gfloat's encode_float writes every NaN as the one code fi.code_of_nan = 0xff (S=1), so +NaN, +Inf and a "
     "positive overflow under sat=False come out as the *negative* NaN 0xff; the spec (3.10) keeps the input's sign "
     "(0x7f). OFP8 defines S.1111.111 as NaN for both signs and gives NaN's sign no meaning; values are equal "
     "as NaNs, codes differ."),
    ("gfloat|torch", "round", r"e5m2b15i|e5m10b15i|e8m7b127i", r"nan_input", "ambiguity", "documented choice",
     "a NaN input gives a NaN code other than the spec's canonical quiet NaN (sign of the input, only the top "
     "mantissa bit set: 0x7e/0xfe for E5M2): gfloat writes 0xff / 0xffff (all ones, sign set) for every NaN, torch "
     "writes 0x7f/0xff for E5M2 and 0xffff for a negative NaN in bfloat16. IEEE 754 leaves the NaN payload of a "
     "conversion open; both are NaN."),
    ("gfloat", "round|quantize", r"^i8", r"saturated|inf_input", "ambiguity", "ambiguity of the standard",
     "INT8: gfloat's ocp_int8 is the full two's-complement range [-2, 1.984375] (code 0x80 = -2 is used: values "
     "below -1.9921875 and -Inf saturate to it); the family's int8 grid is symmetric (+-127/64, 0x80 never produced, "
     "as Microsoft's microxcaling reference clamps). OCP MX v1.0 5.3.4 does not say whether -2 may be produced."),
    ("gfloat", "quantize", r"", r"rejected.*No NaN", "spec", "bug",
     "a NaN in an FP6/FP4/INT8 block: compute_scale_amax gives a NaN scale (encoded 0xff), then round_float raises "
     "ValueError 'No NaN in format' for the NaN elements, so the whole block fails; OCP MX (and the spec, 4.1.2) "
     "make the block's scale NaN and its elements don't-care (the spec pins 0)."),
    ("gfloat", "quantize", r"", r"nan_input", "ambiguity", "ambiguity of the standard",
     "a NaN in an FP8 block: the scale is NaN (0xff) as in the spec, but every element is NaN (x / NaN); the spec "
     "pins the elements of a NaN block to 0. OCP MX v1.0: a NaN scale makes every value of the block NaN whatever "
     "the element codes, so the codes are unspecified."),
    ("gfloat", "quantize", r"", r"scale_log2_fp32|saturated|tie_away|toward_zero|away_directed|nearest", "spec", "bug",
     "with float32 blocks (the input's own type) compute_scale_amax takes floor(np.log2(amax)) in float32: for "
     "amax just below a power of two 2^k (|k| >= 4) log2 rounds up to k and the scale is twice OCP's (elements lose "
     "a bit or flush to zero); vals / q_scale in float32 also rounds elements that fall into fp32's subnormal range "
     "before round_float sees them. With float64 blocks (--dtype float64) these classes disappear."),
    ("gfloat", "round", r"", r"sr", "spec", "documented choice",
     "gfloat's Stochastic/StochasticOdd/StochasticFast first round t to R bits (to nearest even / odd / half up) "
     "and then compare with r; the spec's sr (= gfloat StochasticFastest) truncates t to R bits (3.4). They differ "
     "whenever t has more than R bits: P(away) = round(t 2^R)/2^R instead of floor(t 2^R)/2^R. Documented by gfloat "
     "as other rules; not a bug of either."),
    ("torchao", "quantize", r"e4m3b7n/blk16", r"exact", "spec", "bug",
     "NVFP4 two-level with a tiny tensor maximum (e.g. amax = 2^-139): per_tensor_amax_to_scale = amax / 2688 "
     "underflows to 0, the element multiplier (1 / 0) / S_g is Inf and a zero element becomes 0 * Inf = NaN, which "
     "f32_to_f4_unpacked turns into the garbage code 0xb (-1.5); the golden model's torchao_nvfp4 pipeline (same "
     "zero tensor scale) gives 0. Both are outside NVIDIA's definition (the tensor scale must be positive); torchao "
     "has no guard, TE's recipe maps a zero S_enc to 1."),
    ("torchao", "quantize", r"", r"nan_input", "ambiguity", "ambiguity of the standard",
     "a NaN in an MX block: torchao's scale is NaN (0xff) as in the spec; its elements are x / scale cast: -0 "
     "(0x80) for negative finite elements, NaN (0x7f) for fp8 and the garbage code +-1.5 for a NaN element in "
     "FP6/FP4 (custom_fp_utils has no NaN case; RCEIL multiplies by a NaN reciprocal, so every element is NaN / "
     "1.5). OCP makes the block NaN whatever the codes; the spec pins them to 0."),
    ("torchao", "quantize", r"", r"unknown", "spec", "ambiguity of the standard",
     "an Inf in an MX block: torchao reads the block maximum's exponent bits, Inf has 128, so the scale is "
     "2^(128 - emax_elem) (e.g. code 247 for E4M3) and the Inf element saturates; the spec clamps the shared "
     "exponent of an infinite maximum to E8M0's largest, 2^127 (code 254). OCP MX v1.0 does not define the scale "
     "of a block with an Inf."),
    ("qtorch", "quantize", r"", r"tie_away|tie_rule", "spec", "documented choice",
     "block_quantize 'nearest' adds 6*2^e to every element (making it positive), rounds half up and subtracts: ties "
     "of negative elements go toward +inf (-1.5 LSB -> -1 LSB), i.e. neither rna nor rne; no spec mode."),
    ("qtorch", "quantize", r"", r"exact|saturated|nearest_lower|unknown|rejected", "spec", "bug",
     "block_quantize computes base = 6 * 2^e in fp32: for a block maximum of 2^126 or more it overflows to Inf and "
     "every element of the block comes out as -3.3762e38 (the wrong sign and magnitude); a block whose maximum is an "
     "fp32 subnormal has exponent field 0, so base = 0 and the elements come out as garbage (0xff codes); the fp32 add "
     "x + base also rounds elements below 2^(e-23) before the rounding step (double rounding)."),
]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def campaign(args, lib, script, extra, op, formats, modes, arith, cases, workdir, tag):
    backend = f"{args.python} {os.path.join(ADAPTERS, script)} {extra}".strip()
    log = os.path.join(workdir, f"{tag}.jsonl")
    rep = os.path.join(workdir, f"{tag}.json")
    save = os.path.join(workdir, f"{tag}-failures")
    cmd = [args.mls, "check", "--backend-cmd", backend, "--random", "--ops", op, "--cases", str(cases), "--seed",
           str(SEED), "--formats", formats, "--modes", modes, "--max-failures", "0", "--max-shrinks", str(args.shrinks),
           "--timeout", "120000", "--log", log, "--report-json", rep, "--save-failures", save, "-q"]
    if arith:
        cmd += ["--arith", arith]
    t0 = time.time()
    p = run(cmd, cwd=workdir)
    secs = time.time() - t0
    lines = [json.loads(l) for l in open(log)] if os.path.exists(log) else []
    report = json.load(open(rep)) if os.path.exists(rep) else {}
    shown = [a for a in cmd if not a.startswith(work_prefix(workdir))]
    shown = [x for i, x in enumerate(shown) if not (x in ("--log", "--report-json", "--save-failures", "-q")
                                                     or (i and shown[i - 1] in ("--timeout",)) or x == "--timeout")]
    shown = ["mls"] + [f'"{x}"' if " " in x else x for x in shown[1:]]
    return {"library": lib, "backend": backend.replace(ROOT + "/", ""), "op": op, "formats": formats, "modes": modes,
            "arith": arith or "exact", "cases": cases, "exit": p.returncode, "seconds": round(secs, 2), "log": lines,
            "report": report, "stderr": p.stderr[-2000:],
            "cmd": " ".join(shown).replace(args.python, "build/outside-venv/bin/python").replace(ROOT + "/", "")}


def work_prefix(workdir):
    return workdir


def subject(summary):
    """(grid or format, mode, arith) from a case summary: 'round e4m3b7n rne [3]', 'quantize F rne arith A [2,3]'."""
    s = summary.split()
    arith = s[s.index("arith") + 1] if "arith" in s else "exact"
    return s[1], s[2], arith


def tally(c):
    t = collections.defaultdict(lambda: {"passed": 0, "mismatched": 0, "skipped": 0, "failures": 0})
    classes = collections.defaultdict(lambda: {"count": 0, "example": None})
    for j in c["log"]:
        key = subject(j["summary"])
        row = t[key]
        st = j["status"]
        if st == "ok" and j.get("passed"):
            row["passed"] += 1
        elif st == "unsupported":
            row["skipped"] += 1
        elif st in ("ok", "rejected", "accepted"):
            row["mismatched"] += 1
            v = j.get("verdict", {})
            cause = v.get("cause_id") or ("accepted_invalid" if j.get("golden_rejects") else st)
            rule = (v.get("detail") or {}).get("rule") or (j.get("message") or "")[:60]
            if st == "rejected":
                cause = "rejected: " + re.sub(r"\(block \d+\)|x\[\d+\]", "", j.get("message") or "")[:90]
            ck = (c["library"], c["op"], cause, rule)
            classes[ck]["count"] += 1
            classes[ck].setdefault("formats", set()).add(key[0])
        else:
            row["failures"] += 1
    declined = c["report"].get("ops", {}).get(c["op"], {}).get("skipped", 0) - sum(r["skipped"] for r in t.values())
    return t, classes, max(declined, 0)


def classify(lib, op, fmt, cause, rule):
    text = f"{cause} {rule}"
    for l, o, f, pat, right, kind, why in CLASSES:
        if re.search(l, lib) and re.search(o, op) and re.search(f, fmt) and re.search(pat, text):
            return right, kind, why
    return "?", "unclassified", "not yet read; see the minimal case"


def failure_examples(c):
    """class key -> the runner's failure record (shrunk case files) for the first failure of that class."""
    out = {}
    for f in c["report"].get("ops", {}).get(c["op"], {}).get("failures", []):
        v = f.get("verdict") or {}
        fmt = subject(f.get("summary", "x x x"))[0] if f.get("summary") else "?"
        cause = v.get("cause_id") or f.get("status")
        rule = (v.get("detail") or {}).get("rule") or ""
        out.setdefault((cause, rule), f)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mls", required=True)
    ap.add_argument("--python", required=True, help="the venv's python (scripts/install-outside.sh)")
    ap.add_argument("--libs", default="ml_dtypes,gfloat,torch,torchao,qtorch")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the case counts")
    ap.add_argument("--shrinks", type=int, default=150)
    ap.add_argument("--write", action="store_true", help="write docs/outside-implementations.{md,json} and docs/cases/")
    ap.add_argument("--ci-check", metavar="LIB", help="rerun the CI campaigns of LIB, compare with the committed tallies")
    ap.add_argument("--bench", help="a JSON of scripts/outside_bench.py to include")
    ap.add_argument("--rerender", action="store_true",
                    help="re-read the committed JSON, re-apply the class readings and rewrite the Markdown (no runs)")
    args = ap.parse_args()
    args.mls = os.path.abspath(args.mls)
    work = tempfile.mkdtemp(prefix="mls-outside-")
    if args.rerender:
        doc = json.load(open(os.path.join(DOCS, "outside-implementations.json")))
        for c in doc["campaigns"]:
            for cl in c["classes"]:
                cl["right"], cl["kind"], cl["reading"] = classify(c["library"], c["op"], cl["format"],
                                                                  cl["cause"] + " " + c["backend"], cl["rule"])
        for cl in doc["classes"]:
            cl["right"], cl["kind"], cl["reading"] = classify(cl["library"], cl["op"], cl["format"],
                                                              cl["cause"] + " " + cl["backend"], cl["rule"])
        json.dump(doc, open(os.path.join(DOCS, "outside-implementations.json"), "w"), indent=1, sort_keys=True)
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from outside_report_md import render
        open(os.path.join(DOCS, "outside-implementations.md"), "w").write(render(doc))
        return 0
    if args.ci_check:
        return ci_check(args, work)
    libs = args.libs.split(",")
    results = []
    todo = [(i, spec) for i, spec in enumerate(CAMPAIGNS) if spec[0] in libs]
    bar = tqdm(todo, desc="outside campaigns", unit="campaign", file=sys.stderr)  # progress (issue 17)
    for i, (lib, script, extra, op, formats, modes, arith, cases, ci) in bar:
        n = max(1, int(cases * args.scale))
        bar.set_postfix_str(f"{lib} {op} {modes} {arith or 'exact'}: {n} cases")
        c = campaign(args, lib, script, extra, op, formats, modes, arith, n, work, f"c{i}")
        c["ci"] = None
        if ci:
            cc = campaign(args, lib, script, extra, op, formats, modes, arith, ci, work, f"ci{i}")
            c["ci"] = ci_tallies(cc)
            c["ci"]["cases"] = ci
        results.append(c)
    edges = replay_edges(args, libs, work)
    doc = build(results, edges, args)
    if args.write:
        write(keep_committed(doc, libs), results, work, libs)
    print(json.dumps({k: doc[k] for k in ("summary",)}, indent=1))
    return 0


def ci_tallies(c):
    t, classes, declined = tally(c)
    return {"rows": {" ".join(k): v for k, v in sorted(t.items())}, "declined": declined,
            "classes": {" | ".join(k[2:]): v["count"] for k, v in sorted(classes.items())}, "exit": c["exit"]}


def ci_check(args, work):
    committed = json.load(open(os.path.join(DOCS, "outside-implementations.json")))
    want = [c for c in committed["campaigns"] if c["library"] == args.ci_check and c.get("ci")]
    if not want:
        print(f"outside ci-check: no committed CI campaign for {args.ci_check}")
        return 1
    bad = 0
    for idx, w in enumerate(want):
        spec = next(x for x in CAMPAIGNS if x[0] == w["library"] and x[3] == w["op"] and x[4] == w["formats"]
                    and x[5] == w["modes"] and (x[6] or "exact") == w["arith"] and (x[2] or "") == w["extra"])
        lib, script, extra, op, formats, modes, arith, cases, ci = spec
        c = campaign(args, lib, script, extra, op, formats, modes, arith, ci, work, f"ci{idx}")
        got = ci_tallies(c)
        got["cases"] = ci
        same = got == w["ci"]
        bad += not same
        n = {k: sum(r[k] for r in got["rows"].values()) for k in ("passed", "mismatched", "skipped", "failures")}
        print(f"outside {lib} {op} [{modes}] {ci} cases: {n['passed']} passed, {n['mismatched']} mismatched, "
              f"{n['skipped'] + got['declined']} skipped, {n['failures']} backend failures: "
              f"{'the committed verdicts' if same else 'DIFFERENT from the committed verdicts'}")
        if not same:
            print("  committed:", json.dumps(w["ci"], sort_keys=True)[:3000])
            print("  got:      ", json.dumps(got, sort_keys=True)[:3000])
            if c["stderr"]:
                print("  stderr:", c["stderr"][-1500:])
    print(f"{len(want) - bad} passed, {bad} failed")
    return 1 if bad else 0


def replay_edges(args, libs, work):
    """Replay docs/cases/edges/*.json (hand-written edge cases) on every adapter of `libs`."""
    out = []
    files = sorted(glob.glob(os.path.join(EDGES, "*.json")))
    scripts = {}
    for lib, script, extra, *_ in CAMPAIGNS:
        if lib in libs and not extra:
            scripts.setdefault(lib, script)
    for lib, script in scripts.items():
        for f in files:
            log = os.path.join(work, f"edge-{lib}-{os.path.basename(f)}.jsonl")
            backend = f"{args.python} {os.path.join(ADAPTERS, script)}"
            p = run([args.mls, "check", "--backend-cmd", backend, "--replay", f, "--log", log, "--timeout", "120000",
                     "-q"], cwd=work)
            rows = [json.loads(l) for l in open(log)] if os.path.exists(log) else []
            out.append({"library": lib, "file": os.path.relpath(f, ROOT), "exit": p.returncode, "cases": rows})
    return out


def build(results, edges, args):
    libs = collections.OrderedDict()
    for c in results:
        libs.setdefault(c["library"], []).append(c)
    versions = {}
    for lib in libs:
        p = run([args.python, "-c", f"from importlib.metadata import version; print(version('{lib}'))"])
        versions[lib] = p.stdout.strip() or "?"
    p = run([args.python, "-c", "import numpy; print(numpy.__version__)"])
    versions["numpy"] = p.stdout.strip()
    summary = {}
    camps = []
    all_classes = []
    for c in results:
        t, classes, declined = tally(c)
        ex = failure_examples(c)
        n = {k: sum(r[k] for r in t.values()) for k in ("passed", "mismatched", "skipped", "failures")}
        n["skipped"] += declined
        s = summary.setdefault(c["library"], {"passed": 0, "mismatched": 0, "skipped": 0, "failures": 0, "classes": 0})
        for k in n:
            s[k] += n[k]
        cls = []
        for (lib, op, cause, rule), v in sorted(classes.items(), key=lambda kv: -kv[1]["count"]):
            fmt = " ".join(sorted(v["formats"]))
            right, kind, why = classify(lib, op, fmt, cause + " " + c["backend"], rule)
            f = ex.get((cause, rule))
            cls.append({"format": fmt, "cause": cause, "rule": rule, "count": v["count"], "right": right, "kind": kind,
                        "reading": why, "case_file": f.get("case_file") if f else None,
                        "replay_file": f.get("replay_file") if f else None,
                        "detail": (f.get("verdict") or {}).get("detail") if f else None,
                        "summary": f.get("summary") if f else None})
        s["classes"] += len(cls)
        all_classes += [dict(x, library=c["library"], op=c["op"], backend=c["backend"]) for x in cls]
        camps.append({"library": c["library"], "backend": c["backend"], "extra": c["backend"].split(".py", 1)[1].strip(),
                      "op": c["op"], "formats": c["formats"], "modes": c["modes"], "arith": c["arith"],
                      "cases": c["cases"], "seconds": c["seconds"], "exit": c["exit"], "totals": n,
                      "declined_by_hello": declined, "cmd": c["cmd"],
                      "rows": [dict(zip(("subject", "mode", "arith"), k), **v) for k, v in sorted(t.items())],
                      "classes": cls, "ci": c["ci"],
                      "stderr": c["stderr"] if c["exit"] not in (0, 1) else ""})
    exh = []
    for f in sorted(glob.glob(os.path.join(DOCS, "*exhaustive*.json"))):
        try:
            exh.append({"file": os.path.relpath(f, ROOT), "content": json.load(open(f))})
        except (OSError, ValueError) as e:
            exh.append({"file": os.path.relpath(f, ROOT), "error": str(e)})
    bench = json.load(open(args.bench)) if args.bench and os.path.exists(args.bench) else None
    return {"schema": "mls-outside-report", "schema_version": 1, "generated": time.strftime("%Y-%m-%d"),
            "seed": SEED, "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "versions": versions, "summary": summary, "campaigns": camps, "classes": all_classes, "edges": edges,
            "exhaustive": exh, "bench": bench}


def keep_committed(doc, libs):
    """The report of `libs` merged into the committed one: the other libraries' parts stay as committed."""
    path = os.path.join(DOCS, "outside-implementations.json")
    if not os.path.exists(path):
        return doc
    old = json.load(open(path))
    order = list(dict.fromkeys([c["library"] for c in old["campaigns"]] + [c["library"] for c in doc["campaigns"]]))

    def merged(key):
        return [x for lib in order for x in (doc if lib in libs else old)[key] if x["library"] == lib]

    out = dict(doc, campaigns=merged("campaigns"), classes=merged("classes"), edges=merged("edges"))
    out["summary"] = {lib: (doc if lib in libs else old)["summary"][lib] for lib in order
                      if lib in (doc if lib in libs else old)["summary"]}
    out["versions"] = dict(old["versions"], **doc["versions"])
    if doc.get("bench") is None:
        out["bench"] = old.get("bench")
    return out


def write(doc, results, work, libs):
    os.makedirs(CASES, exist_ok=True)
    for lib in libs:
        for old in glob.glob(os.path.join(CASES, f"{lib}-*.h5")) + glob.glob(os.path.join(CASES, f"{lib}-*.json")):
            os.remove(old)
    counter = collections.Counter()
    for cl in doc["classes"]:
        # A case the vector format cannot hold (a cast to a group-scale grid, e.g. E8M0) has only its JSON.
        if cl["library"] not in libs or not (cl["replay_file"] or cl["case_file"]):
            continue
        lib = cl["library"]
        counter[lib] += 1
        base = f"{lib}-{cl['op']}-{counter[lib]}"
        for ext, key in ((".h5", "replay_file"), (".json", "case_file")):
            if not cl[key]:
                continue
            s = cl[key] if os.path.isabs(cl[key]) else os.path.join(work, cl[key])
            if os.path.exists(s):
                shutil.copy(s, os.path.join(CASES, base + ext))
        cl["committed_case"] = f"docs/cases/{base}{'.h5' if cl['replay_file'] else '.json'}"
    for c in doc["campaigns"]:
        if c["library"] not in libs:
            continue
        for cl in c["classes"]:
            m = next((x for x in doc["classes"] if x["backend"] == c["backend"] and x["op"] == c["op"]
                      and x["format"] == cl["format"] and x["cause"] == cl["cause"] and x["rule"] == cl["rule"]), None)
            cl["committed_case"] = m.get("committed_case") if m else None
    doc = dict(doc)
    json.dump(doc, open(os.path.join(DOCS, "outside-implementations.json"), "w"), indent=1, sort_keys=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from outside_report_md import render
    open(os.path.join(DOCS, "outside-implementations.md"), "w").write(render(doc))


if __name__ == "__main__":
    sys.exit(main())
