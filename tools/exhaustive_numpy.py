#!/usr/bin/env python3
"""Exhaustive check of a vectorised cast against a breakpoint table
(spec/11-exhaustive.md 11.10): every fp32 input of a range -- by default all
2^32 -- in chunks through a numpy function, compared with the table, with the
report of 11.9 (`mls check --merge-exhaustive` joins shards and adds the
diagnoses).

  python tools/exhaustive_numpy.py --table t.json --cast ml_dtypes:float8_e4m3fn --report-json r.json
  python tools/exhaustive_numpy.py --table t.json --cast mymodule:cast --range 0x3f800000:0x3fffffff
  python tools/exhaustive_numpy.py --all-ml-dtypes --mls build/tools/mls --out-dir out/exh \
      --summary docs/exhaustive-ml_dtypes.json        # every ml_dtypes dtype the family can express, rne
      (run again, it reuses the finished reports in --out-dir; --dtypes A,B picks some)

--cast MODULE:FUNCTION names f(x) -> codes: x a float32 array, codes an array
of unsigned integers of the same length, or (codes, status) with status 0 for
a code and 1 for an input error. `ml_dtypes:NAME` is x.astype(NAME) with the
element's bits as its code. The table is read from its JSON form (or HDF5
with h5py) and its digest checked here; this tool never calls mls to decide
an answer (--mls only adds diagnoses afterwards). Runs with numpy (and
ml_dtypes) in any interpreter: the venv of scripts/install-outside.sh.
Exit status: 0 pass, 1 mismatch, 2 nothing checked, 64 usage, 65 bad table.
"""
import argparse
import hashlib
import importlib
import json
import multiprocessing
import os
import subprocess
import sys
import time

import numpy as np

# The ml_dtypes dtypes the family can express as a cast in rne (its grid and
# policies as `mls gen --breakpoints` options), and why the others are left out.
ML_DTYPES = {
    "float8_e4m3fn": ("fp8_e4m3", "nan"),
    "float8_e5m2": ("fp8_e5m2", "infinity"),
    "float8_e4m3": ("e4m3b7i", "infinity"),
    "float8_e3m4": ("e3m4b3i", "infinity"),
    "float6_e2m3fn": ("fp6_e2m3", "saturate"),
    "float6_e3m2fn": ("fp6_e3m2", "saturate"),
    "float4_e2m1fn": ("fp4_e2m1", "saturate"),
    "bfloat16": ("e8m7b127i", "infinity"),
    "float8_e8m0fnu": ("e8m0", "nan"),
    "float8_e5m3fnu": ("g5m3b15sn", "nan"),
}
ML_DTYPES_LEFT_OUT = {
    "float8_e4m3fnuz": "NaN at 0x80 and no -0: no special-value encoding of the family (1.6)",
    "float8_e5m2fnuz": "NaN at 0x80 and no -0: no special-value encoding of the family (1.6)",
    "float8_e4m3b11fnuz": "NaN at 0x80 and no -0: no special-value encoding of the family (1.6)",
    "int1, int2, int4, uint1, uint2, uint4": "integer types: astype truncates like a C cast, no rounding mode",
    "bcomplex32, complex32": "complex types",
}

STATUS = {0: "ok", 1: "error", 2: "unsupported", 3: "buffer", 4: "internal"}


class TableError(Exception):
    pass


def hex32(v):
    return "0x%08x" % int(v)


def parse_pattern(s, field):
    try:
        v = int(s, 16) if s.lower().startswith("0x") else int(s, 10)
    except ValueError:
        raise SystemExit("%s: %r is not a bit pattern (hex with 0x, or decimal)" % (field, s))
    if not 0 <= v <= 0xFFFFFFFF:
        raise SystemExit("%s: %s is outside the fp32 space 0x00000000..0xffffffff" % (field, s))
    return v


def parse_range(text):
    parts = text.split(":")
    if len(parts) != 2:
        raise SystemExit("--range %r is not of the form FIRST:LAST" % text)
    a, b = (parse_pattern(p, "--range") for p in parts)
    if b < a:
        raise SystemExit("--range %r: the last pattern is below the first" % text)
    return a, b


def shard_part(first, last, i, n):
    size = last - first + 1
    if not 1 <= n <= size or not 0 <= i < n:
        raise SystemExit("--shard %d/%d: i must be 0..N-1 and N 1..%d" % (i, n, size))
    return first + size * i // n, first + size * (i + 1) // n - 1


# ---- the table ----------------------------------------------------------------------

def data_lines(start, last, status, code):
    return "".join("%08x%08x%02x%08x\n" % t for t in zip(start, last, status, code))


def table_digest(spec, start, last, status, code):
    h = hashlib.sha256()
    h.update(b"mls-breakpoints 1\n")
    h.update(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode() + b"\n")
    h.update(data_lines(start, last, status, code).encode())
    return h.hexdigest()


def load_table(path):
    """Spec, columns and digest of a table file, checked (11.5): structure and digest."""
    if path.endswith(".json"):
        with open(path) as f:
            j = json.load(f)
        if j.get("schema") != "mls-breakpoints" or j.get("schema_version") != 1:
            raise TableError("%s: not an mls-breakpoints table (schema 1)" % path)
        spec, e, digest = j["spec"], j["entries"], j["table_sha256"]
        cols = [list(map(int, e[k])) for k in ("start", "last", "status", "code")]
    elif path.endswith(".h5") or path.endswith(".hdf5"):
        import h5py  # only for this form
        with h5py.File(path, "r") as f:
            a = f.attrs
            if a.get("schema") not in ("mls-breakpoints", b"mls-breakpoints"):
                raise TableError("%s: not an mls-breakpoints table" % path)
            spec = json.loads(a["spec"])
            digest = a["table_sha256"]
            digest = digest.decode() if isinstance(digest, bytes) else str(digest)
            cols = [list(map(int, f["entries"][k][...])) for k in ("start", "last", "status", "code")]
    else:
        raise TableError("%s: give the .json (or .h5) form of the table" % path)
    start, last, status, code = cols
    n = len(start)
    if n == 0 or start[0] != 0 or any(len(c) != n for c in cols):
        raise TableError("%s: entries must start at 0x00000000 and the four columns be equally long" % path)
    for k in range(n):
        want_last = start[k + 1] - 1 if k + 1 < n else 0xFFFFFFFF
        if last[k] != want_last or (k and start[k] <= start[k - 1]):
            raise TableError("%s: entries[%d]: starts must increase and last be the next start - 1" % (path, k))
        if status[k] not in (0, 1):
            raise TableError("%s: entries[%d]: status %d is not 0 or 1" % (path, k, status[k]))
    got = table_digest(spec, start, last, status, code)
    if got != digest:
        raise TableError("%s: table_sha256 mismatch: the file says %s, its spec and entries give %s (11.5)"
                         % (path, digest, got))
    return {"spec": spec, "start": np.array(start, dtype=np.uint64), "last": np.array(last, dtype=np.uint64),
            "status": np.array(status, dtype=np.uint8), "code": np.array(code, dtype=np.uint64),
            "digest": digest, "label": label_of(spec)}


def label_of(spec):
    """The label 11.5 writes (BreakpointSpec::label)."""
    r = spec["rounding"]
    mode = r["mode"] + (str(r["bits"]) if r["mode"] == "sr" else "")
    s = spec["element_name"] + " " + mode
    if r["mode"] == "sr":
        s += " word " + hex32(spec["word"])
    sc = spec["scale"]
    s += " scale " + (str(sc["mant"]) if sc["exp"] == 0 else "%d*2^%d" % (sc["mant"], sc["exp"]))
    if spec["overflow"] != "saturate":
        s += " overflow " + spec["overflow"]
    if spec["signed_zero"] != "preserve":
        s += " signed_zero " + spec["signed_zero"]
    if spec["arith"] != "exact":
        s += " arith " + spec["arith"]
    return s


# ---- the cast under test ------------------------------------------------------------

def make_cast(text):
    """(function, implementation name) for --cast."""
    if ":" not in text:
        raise SystemExit("--cast %r is not MODULE:FUNCTION or ml_dtypes:DTYPE" % text)
    mod, name = text.split(":", 1)
    if mod == "ml_dtypes":
        import ml_dtypes
        dt = np.dtype(getattr(ml_dtypes, name))
        view = {1: np.uint8, 2: np.uint16, 4: np.uint32}[dt.itemsize]

        def cast(x):
            return x.astype(dt).view(view)
        return cast, "ml_dtypes %s %s (numpy %s astype)" % (ml_dtypes.__version__, name, np.__version__)
    sys.path.insert(0, os.getcwd())
    f = getattr(importlib.import_module(mod), name)
    version = getattr(sys.modules[mod], "__version__", "")
    return f, ("%s %s" % (text, version)).strip()


# ---- one chunk ----------------------------------------------------------------------

_T = None  # the table and the cast in each worker (set before the pool forks)
_CAST = None


def input_class(x):
    m = x & 0x7FFFFFFF
    return "zero" if m == 0 else "subnormal" if m < 0x800000 else "normal" if m < 0x7F800000 else \
        "inf" if m == 0x7F800000 else "nan"


def run_chunk(args):
    """Counts and classes of the inputs a..b: {n, mismatched, skipped, failures, classes: {key: [count, first]}}."""
    a, b, k_first = args
    t, cast = _T, _CAST
    n = b - a + 1
    x = np.arange(n, dtype=np.uint32) + np.uint32(a)
    t0 = time.perf_counter()
    out = cast(x.view(np.float32))
    cast_s = time.perf_counter() - t0
    if isinstance(out, tuple):
        got_code, got_status = np.asarray(out[0]), np.asarray(out[1]).astype(np.uint8)
    else:
        got_code, got_status = np.asarray(out), None
    if got_code.shape != (n,) or (got_status is not None and got_status.shape != (n,)):
        raise SystemExit("the cast returned %s values for %d inputs" % (got_code.shape, n))
    if got_code.size and int(got_code.max()) >= 1 << 20:
        raise SystemExit("the cast returned a code of more than 20 bits (%d)" % int(got_code.max()))
    if got_status is not None and not got_status.any():
        got_status = None
    classes, mism, skipped, failures = {}, 0, 0, 0
    k0 = int(np.searchsorted(t["start"], a, side="right")) - 1
    k1 = int(np.searchsorted(t["start"], b, side="right")) - 1
    for k in range(k0, k1 + 1):  # one entry at a time: a compare with one code, at memory speed
        lo, hi = max(int(t["start"][k]), a) - a, min(int(t["last"][k]), b) - a
        ws, wc = int(t["status"][k]), int(t["code"][k])
        seg = got_code[lo:hi + 1]
        gst = got_status[lo:hi + 1] if got_status is not None else None
        if ws == 0 and gst is None:
            nbad = int(np.count_nonzero(seg != wc))
            if nbad == 0:
                continue
            bad = np.flatnonzero(seg != wc)
            gs = np.zeros(bad.size, dtype=np.uint64)
        else:
            st = gst if gst is not None else np.zeros(seg.size, dtype=np.uint8)
            bad = np.flatnonzero((st != ws) | ((st == 0) & (seg != wc)) if ws == 0 else (st != ws))
            if bad.size == 0:
                continue
            gs = st[bad].astype(np.uint64)
        gc = np.where(gs == 0, seg[bad].astype(np.uint64), 0)
        key = (((np.uint64(ws) * np.uint64(256)) + gs) << np.uint64(40)) | (np.uint64(wc) << np.uint64(20)) | gc
        order = np.argsort(key, kind="stable")  # by class, each class in increasing input order
        uniq, begin, counts = np.unique(key[order], return_index=True, return_counts=True)
        for u, s0, c in zip(uniq.tolist(), begin.tolist(), counts.tolist()):
            first = [a + lo + int(q) for q in bad[order[s0:s0 + min(c, k_first)]]]
            if u in classes:
                classes[u][0] += c
                classes[u][1] = (classes[u][1] + first)[:k_first]
            else:
                classes[u] = [c, first]
        skipped += int(np.count_nonzero(gs == 2))
        failures += int(np.count_nonzero(gs > 2))
        mism += int(bad.size) - int(np.count_nonzero(gs >= 2))
    return {"n": n, "mismatched": mism, "skipped": skipped, "failures": failures, "classes": classes, "cast_s": cast_s}


def baseline_chunk(args):
    a, b = args
    x = np.arange(b - a + 1, dtype=np.uint32) + np.uint32(a)
    return int(x.sum(dtype=np.uint64))


def chunks(first, last, size):
    out, a = [], first
    while a <= last:
        b = min(last, a + size - 1)
        out.append((a, b))
        a = b + 1
    return out


# ---- a check -------------------------------------------------------------------------

def check(table, cast, impl, first=0, last=0xFFFFFFFF, shard=None, chunk_log2=24, jobs=0, k_first=8,
          progress=True, baseline=True):
    global _T, _CAST
    _T, _CAST = table, cast
    a, b = shard_part(first, last, *shard) if shard else (first, last)
    parts = chunks(a, b, 1 << chunk_log2)
    jobs = jobs or os.cpu_count() or 1
    ctx = multiprocessing.get_context("fork")
    run = {"tool": "tools/exhaustive_numpy.py", "jobs": jobs, "chunk": 1 << chunk_log2}
    total = b - a + 1
    with ctx.Pool(jobs) as pool:
        pool.map(baseline_chunk, [(0, 0)] * jobs)  # start the workers before anything is timed
        if baseline:
            t0 = time.perf_counter()
            for _ in pool.imap(baseline_chunk, parts):
                pass
            run["baseline_inputs_per_s"] = total / max(time.perf_counter() - t0, 1e-9)
        t0 = time.perf_counter()
        done = mism = skipped = failures = 0
        classes, cast_s, last_print = {}, 0.0, -1e9
        tty = sys.stderr.isatty()
        for r in pool.imap(run_chunk, [(x, y, k_first) for x, y in parts]):
            done += r["n"]
            mism += r["mismatched"]
            skipped += r["skipped"]
            failures += r["failures"]
            cast_s += r["cast_s"]
            for k, (c, f) in r["classes"].items():
                if k in classes:
                    classes[k][0] += c
                    classes[k][1] = (classes[k][1] + f)[:k_first]  # chunks arrive in increasing order
                else:
                    classes[k] = [c, f[:k_first]]
            el = time.perf_counter() - t0
            if progress and (el - last_print >= (0.25 if tty else 30) or done == total):
                rate = done / max(el, 1e-9)
                left = (total - done) / max(rate, 1e-9)
                sys.stderr.write("%sexhaustive: %5.1f%% %d/%d inputs, %.1f M/s, %dm%02ds left, %d mismatches%s" % (
                    "\r" if tty else "", 100.0 * done / total, done, total, rate / 1e6, left // 60, left % 60, mism,
                    "" if tty and done < total else "\n"))
                sys.stderr.flush()
                last_print = el
        seconds = time.perf_counter() - t0
    run.update(seconds=seconds, inputs_per_s=total / max(seconds, 1e-9), cast_worker_seconds=cast_s)
    if "baseline_inputs_per_s" in run:
        run["fraction_of_baseline"] = run["inputs_per_s"] / run["baseline_inputs_per_s"]
    cls = []
    for k, (c, f) in classes.items():
        ws, gs = (k >> 40) // 256, (k >> 40) % 256
        wc, gc = (k >> 20) & 0xFFFFF, k & 0xFFFFF
        if gs == 2:
            continue  # skipped, counted above
        cls.append({"kind": "element", "expected": outcome(ws, wc), "got": outcome(gs, gc), "count": c,
                    "first_inputs": [hex32(v) for v in f], "input_class": input_class(f[0])})
    cls.sort(key=lambda c: int(c["first_inputs"][0], 16))
    matched = total - mism - skipped - failures
    rep = {"schema": "mls-exhaustive-report", "schema_version": 1,
           "table": {"spec": table["spec"], "label": table["label"], "table_sha256": table["digest"]},
           "implementation": impl, "stage": {"op": "round"},
           "requested": [hex32(first), hex32(last)], "covered": [[hex32(a), hex32(b)]], "complete": True,
           "inputs": {"checked": total - skipped, "matched": matched, "mismatched": mism, "skipped": skipped,
                      "backend_failures": failures, "out_of_reach": 0, "scale_mismatches": 0},
           "classes": cls, "classes_dropped": 0, "run": run}
    if shard:
        rep["shard"] = {"index": shard[0], "count": shard[1]}
    res = "backend_failure" if failures else "mismatch" if mism else "pass" if total - skipped else "backend_failure"
    rep["result"], rep["exit_code"] = res, {"pass": 0, "mismatch": 1}.get(res, 2)
    return rep


def outcome(status, code):
    o = {"status": STATUS.get(status, "status %d" % status)}
    if status == 0:
        o["code"] = int(code)
    return o


def summary(rep, out=sys.stdout):
    i = rep["inputs"]
    out.write("exhaustive check: %s against the table of %s\n" % (rep["implementation"], rep["table"]["label"]))
    out.write("  checked %d: %d matched, %d mismatched, %d skipped\n" % (i["checked"], i["matched"], i["mismatched"],
                                                                       i["skipped"]))
    for n, c in enumerate(rep["classes"], 1):
        out.write("  MISMATCH class %d: %d inputs (%s), expected %s, got %s\n    first inputs: %s\n" % (
            n, c["count"], c["input_class"], json.dumps(c["expected"]), json.dumps(c["got"]),
            " ".join(c["first_inputs"])))
        if c.get("cause_id"):
            out.write("    likely cause [%s]: %s\n" % (c["cause_id"], c["cause"]))
    r = rep["run"]
    out.write("  %.1f M inputs/s (a loop that only reads the inputs: %.1f M/s), %.1f s on %d processes\n" % (
        r["inputs_per_s"] / 1e6, r.get("baseline_inputs_per_s", 0) / 1e6, r["seconds"], r["jobs"]))
    out.write("result: %s\n" % rep["result"].upper())


def write_json(path, obj):
    tmp = path + ".tmp-%d" % os.getpid()
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def diagnose(mls, path):
    """Adds the diagnoses of 10.7 (mls check --merge-exhaustive on the one report)."""
    r = subprocess.run([mls, "check", "--merge-exhaustive", path, "--report-json", path + ".diag"],
                       capture_output=True, text=True)
    if r.returncode not in (0, 1) or not os.path.exists(path + ".diag"):
        raise SystemExit("mls could not diagnose %s: %s" % (path, r.stderr.strip()))
    with open(path) as f:
        mine = json.load(f)
    with open(path + ".diag") as f:
        diag = json.load(f)
    os.remove(path + ".diag")
    diag["run"] = mine["run"]  # the timings of this run, not the merge's
    write_json(path, diag)
    return diag


# ---- every ml_dtypes dtype ----------------------------------------------------------

def all_ml_dtypes(a):
    import ml_dtypes
    os.makedirs(a.out_dir, exist_ok=True)
    rows = []
    unknown = [n for n in a.dtypes if n not in ML_DTYPES]
    if unknown:
        raise SystemExit("--dtypes: %s not among %s" % (", ".join(unknown), ", ".join(ML_DTYPES)))
    for name, (grid, overflow) in ML_DTYPES.items():
        if a.dtypes and name not in a.dtypes:
            continue
        if not hasattr(ml_dtypes, name):
            rows.append({"dtype": name, "result": "absent from this ml_dtypes"})
            continue
        tpath = os.path.join(a.out_dir, "%s-rne.json" % name)
        g = subprocess.run([a.mls, "gen", "--breakpoints", "-f", grid, "-r", "rne", "--overflow", overflow, "-o", tpath],
                           capture_output=True, text=True)
        if g.returncode != 0:
            raise SystemExit("mls gen --breakpoints for %s: %s" % (name, g.stderr.strip()))
        cast, impl = make_cast("ml_dtypes:" + name)
        table = load_table(tpath)
        first, last = parse_range(a.range) if a.range else (0, 0xFFFFFFFF)
        rpath = os.path.join(a.out_dir, "%s-rne.report.json" % name)
        rep = finished_report(rpath, table, impl, first, last)
        if rep is None:
            rep = check(table, cast, impl, first, last, chunk_log2=a.chunk_log2, jobs=a.jobs, k_first=a.first_inputs,
                        progress=not a.quiet)
            write_json(rpath, rep)
            rep = diagnose(a.mls, rpath)
        else:
            sys.stderr.write("%s: reusing the finished report %s\n" % (name, rpath))
        summary(rep)
        i = rep["inputs"]
        rows.append({"dtype": name, "grid": grid, "overflow": overflow, "table": rep["table"]["label"],
                     "table_sha256": rep["table"]["table_sha256"], "checked": i["checked"], "matched": i["matched"],
                     "mismatched": i["mismatched"], "result": rep["result"], "seconds": round(rep["run"]["seconds"], 1),
                     "inputs_per_s": round(rep["run"]["inputs_per_s"]),
                     "baseline_inputs_per_s": round(rep["run"].get("baseline_inputs_per_s", 0)),
                     "classes": [{"count": c["count"], "input_class": c["input_class"], "expected": c["expected"],
                                  "got": c["got"], "first_inputs": c["first_inputs"][:3],
                                  "cause_id": c.get("cause_id", "")} for c in rep["classes"]]})
        write_summary(a, rows, ml_dtypes.__version__)  # after every dtype: a stopped sweep keeps what it finished
    write_summary(a, rows, ml_dtypes.__version__)
    return 1 if any(r.get("result") not in ("pass",) for r in rows) else 0


def write_summary(a, rows, version):
    if not a.summary:
        return
    out = {"schema": "mls-exhaustive-ml_dtypes", "ml_dtypes": version, "numpy": np.__version__,
           "range": a.range or "0x00000000:0xffffffff", "rounding": "rne",
           "command": "tools/exhaustive_numpy.py --all-ml-dtypes", "dtypes": rows,
           "not_run_yet": [n for n in ML_DTYPES if n not in {r["dtype"] for r in rows}], "left_out": ML_DTYPES_LEFT_OUT}
    write_json(a.summary, out)


def finished_report(path, table, impl, first, last):
    """A complete report of the same check already in --out-dir (a sweep run again continues), else None."""
    try:
        with open(path) as f:
            r = json.load(f)
    except (OSError, ValueError):
        return None
    same = (r.get("table", {}).get("table_sha256") == table["digest"] and r.get("implementation") == impl
            and r.get("requested") == [hex32(first), hex32(last)] and r.get("complete") is True
            and "shard" not in r)
    return r if same else None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--table", help="the breakpoint table (.json, or .h5 with h5py)")
    p.add_argument("--cast", help="MODULE:FUNCTION or ml_dtypes:DTYPE")
    p.add_argument("--range", help="FIRST:LAST inclusive bit patterns (default all 2^32)")
    p.add_argument("--shard", help="part i/N of the range")
    p.add_argument("--chunk-log2", type=int, default=24, help="inputs per chunk: 2^this (default 24)")
    p.add_argument("-j", "--jobs", type=int, default=0, help="processes (0: every core)")
    p.add_argument("--first-inputs", type=int, default=8)
    p.add_argument("--report-json", help="write the report (spec 11.9)")
    p.add_argument("--mls", help="the mls tool: add diagnoses to the report (and make tables for --all-ml-dtypes)")
    p.add_argument("--all-ml-dtypes", action="store_true", help="every ml_dtypes dtype the family expresses, rne")
    p.add_argument("--out-dir", default="out/exhaustive-ml_dtypes")
    p.add_argument("--dtypes", default="", help="--all-ml-dtypes: only these (comma-separated)")
    p.add_argument("--summary", help="--all-ml-dtypes: the JSON summary (e.g. docs/exhaustive-ml_dtypes.json)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    a = p.parse_args()
    if not 10 <= a.chunk_log2 <= 28:
        p.error("--chunk-log2 must be 10..28")
    a.dtypes = [d for d in a.dtypes.split(",") if d]
    if a.all_ml_dtypes:
        if not a.mls:
            p.error("--all-ml-dtypes needs --mls (to write the tables)")
        return all_ml_dtypes(a)
    if not a.table or not a.cast:
        p.error("give --table and --cast (or --all-ml-dtypes)")
    try:
        table = load_table(a.table)
    except (TableError, KeyError, ValueError, OSError) as e:
        sys.stderr.write("exhaustive_numpy: %s\n" % e)
        return 65
    first, last = parse_range(a.range) if a.range else (0, 0xFFFFFFFF)
    shard = None
    if a.shard:
        try:
            shard = tuple(int(v) for v in a.shard.split("/"))
            assert len(shard) == 2
        except (ValueError, AssertionError):
            p.error("--shard %r is not i/N" % a.shard)
        shard_part(first, last, *shard)
    cast, impl = make_cast(a.cast)
    rep = check(table, cast, impl, first, last, shard, a.chunk_log2, a.jobs, a.first_inputs, not a.quiet)
    if a.report_json:
        write_json(a.report_json, rep)
        if a.mls:
            rep = diagnose(a.mls, a.report_json)
    summary(rep)
    return rep["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
