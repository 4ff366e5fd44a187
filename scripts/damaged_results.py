#!/usr/bin/python3
"""The damaged-results experiment (issue 15, spec/07-errors.md 7.8).

A results file written with h5py -- as the README's offline example writes
one, so it has no mls user block or checksum -- is damaged N times (1-16
random byte changes, biased to the head and the tail of the file, where
HDF5 keeps its superblock, object headers, B-trees and heaps) and `mls
verify VECTORS RESULTS` is run on every damaged copy.

Every run must end with exit code 0 (the damage hit bytes nobody reads),
1 (a mismatch: the damage hit data), or 65 (an input error) with a message on
standard error (`mls: error: ...` naming the file) -- never a signal, never
another exit code, never a hang, never a 65 without a message.

Usage: /usr/bin/python3 scripts/damaged_results.py --mls build/tools/mls [--tries 150] [--seed 1]
           [--workdir DIR] [--gen-args "--level 1"] [--timeout 120] [--keep-failures]
Exit status: 0 when no run crashed, 1 otherwise (the offending copies are
kept in the workdir), 2 when the setup itself failed.
"""
import argparse
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py


def write_results(vectors, results):
    """The README's h5py stand-in implementation: copy the expected outputs."""
    with h5py.File(vectors, "r") as v, h5py.File(results, "w") as r:
        r.attrs.update(schema="mls-vectors", schema_version=1, kind="results", generator="damage-experiment 1.0")
        for op in v:
            for g in v[op]:
                out = r.create_group(v[op][g].name).create_group("outputs")
                for ds in v[op][g]["outputs"]:
                    out[ds] = v[op][g]["outputs"][ds][...]


def damage(data, rng):
    """1-16 random byte changes; half of them in the first or last 4 KiB."""
    b = bytearray(data)
    n = len(b)
    for _ in range(rng.randint(1, 16)):
        where = rng.random()
        if where < 0.35:
            i = rng.randrange(min(n, 4096))
        elif where < 0.5:
            i = n - 1 - rng.randrange(min(n, 4096))
        else:
            i = rng.randrange(n)
        b[i] = rng.choice([rng.randrange(256), b[i] ^ (1 << rng.randrange(8)), 0, 0xFF])
    return bytes(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mls", required=True)
    ap.add_argument("--tries", type=int, default=150)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir")
    ap.add_argument("--gen-args", default="--level 1", help="arguments of `mls gen` for the vector file")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a run counts as a hang")
    ap.add_argument("--keep-failures", action="store_true")
    a = ap.parse_args()

    work = a.workdir or tempfile.mkdtemp(prefix="mls-damage-")
    os.makedirs(work, exist_ok=True)
    vec = os.path.join(work, "vectors.h5")
    clean = os.path.join(work, "results-clean.h5")
    try:
        subprocess.run([a.mls, "gen", "-q", "-o", vec] + shlex.split(a.gen_args), check=True)
        write_results(vec, clean)
        rc = subprocess.run([a.mls, "verify", vec, clean], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
        if rc != 0:
            print(f"setup: mls verify of the undamaged results file exited {rc}, expected 0", file=sys.stderr)
            return 2
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"setup failed: {e}", file=sys.stderr)
        return 2

    data = open(clean, "rb").read()
    rng = random.Random(a.seed)
    counts = {}
    bad = []
    t0 = time.time()
    for k in range(a.tries):
        path = os.path.join(work, f"damaged-{k:04d}.h5")
        with open(path, "wb") as f:
            f.write(damage(data, rng))
        try:
            p = subprocess.run([a.mls, "verify", vec, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=a.timeout)
            rc, err, out = p.returncode, p.stderr.decode(errors="replace"), p.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired:
            rc, err, out = "hang", "", ""
        if isinstance(rc, int) and rc < 0:
            key = "signal " + signal.Signals(-rc).name
        else:
            key = f"exit {rc}"
            if rc == 65 and "the HDF5 library crashed" in err:
                key += " (the HDF5 library crashed in the isolated reader)"
            elif rc == 65 and "did not finish within" in err:
                key += " (the HDF5 library hung in the isolated reader)"
        counts[key] = counts.get(key, 0) + 1
        ok = False
        if isinstance(rc, int) and rc == 65:
            ok = "mls: error: " in err and path in err  # a message, naming the file
        elif rc in (0, 1):
            ok = "result:" in out
        if not ok:
            bad.append((k, key, err.strip().splitlines()[-1:] if err.strip() else ["(no message)"]))
            if not a.keep_failures:
                shutil.copy(path, path + ".failed")
        if ok or not a.keep_failures:
            os.remove(path)
    secs = time.time() - t0
    print(f"damaged-results experiment: {a.tries} tries, seed {a.seed}, {len(data)} bytes, {secs:.1f} s")
    for key in sorted(counts):
        print(f"  {key}: {counts[key]}")
    print(f"  crashes (signal, hang, other exit code, or no message): {len(bad)}")
    for k, key, msg in bad[:20]:
        print(f"    try {k}: {key}: {msg[0][:300]}")
    if bad:
        print(f"  damaged copies kept in {work} (damaged-NNNN.h5.failed)")
        return 1
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
