#!/usr/bin/python3
"""Draw the plots of an `mls inspect --json` report (PNG, matplotlib).

  sqnr_vs_bits.png          SQNR (dB) versus bits per element, one curve per element family
                            (same E, group scale, group shape, scale policy, rounding; points
                            along M), one panel per tensor, with the --target line
  em_heatmap.png            E x M grid of SQNR, one panel per tensor (for one group scale and
                            rounding: --group-scale, --rounding; default the first in the report)
  error_hist_<format>.png   histogram of the quantization error (dequantized - input, over the
                            elements with x != 0) of one format (--format, --rounding), per tensor

--compare prints instead a markdown table (one row per format: bits per element, SQNR range per
role), e.g. for the MLS / MX / NVFP4 comparison of the README.

Exact cases (every error 0, SQNR = inf; JSON null) are drawn at the top of the axis with an
upward triangle, and written "inf" in the heatmap.

Usage:
  build/tools/mls inspect data/cnn_digits.h5 --sweep-elements -q --json out/inspect.json
  /usr/bin/python3 scripts/plot_inspect.py out/inspect.json -o out/plots --format e2m1.g4m1
Needs python3-matplotlib (scripts/install-deps.sh).
"""
import argparse
import json
import math
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def short(name):
    """'data/cnn_digits.h5:/final/conv1/error' -> 'final/conv1/error'."""
    return name.split(":/", 1)[1] if ":/" in name else os.path.basename(name)


def grid(n):
    cols = min(n, 4)
    return (n + cols - 1) // cols, cols


def family(r):
    return (r["E"], r["group_scale"], r["group_shape_given"], r["scale_policy"], r["rounding"])


def sqnr(r):
    return math.inf if r["sqnr_db"] is None else r["sqnr_db"]


def panel_axes(n, size=(4.2, 3.2)):
    rows, cols = grid(n)
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def plot_sqnr_vs_bits(rep, tensors, out, target):
    fig, axes = panel_axes(len(tensors))
    finite = [sqnr(r) for r in rep["results"] if sqnr(r) != math.inf]
    top = (max(finite) if finite else 40) + 5
    for ax, (ti, t) in zip(axes, tensors):
        rows = [r for r in rep["results"] if r["tensor_index"] == ti]
        fams = {}
        for r in rows:
            fams.setdefault(family(r), []).append(r)
        variants = sorted({f[1:] for f in fams})
        for f, rs in sorted(fams.items()):
            rs.sort(key=lambda r: r["bits_per_element"])
            x = [r["bits_per_element"] for r in rs]
            y = [min(sqnr(r), top) for r in rs]
            v = variants.index(f[1:])
            label = f"E{f[0]}" if len(variants) == 1 else f"E{f[0]} {' '.join(f[1:])}"
            # colour = E, line style = the other settings; E0 hollow and dashed-over because
            # E0 and E1 share their values (E1M(k) = E0M(k+1), spec 1.3).
            line, = ax.plot(x, y, color=f"C{f[0] % 10}", linestyle=["-", "--", ":", "-."][v % 4],
                            marker="osD^v<>"[v % 7], ms=5 if f[0] == 0 else 3, mfc="none" if f[0] == 0 else None,
                            label=label, zorder=3 if f[0] == 0 else 2)
            ex = [(xx, top) for xx, r in zip(x, rs) if sqnr(r) == math.inf]
            if ex:
                ax.plot(*zip(*ex), linestyle="none", marker="^", ms=7, color=line.get_color())
        ax.axhline(target, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(f"{short(t['name'])} ({t['role'] or 'tensor'})", fontsize=9)
        ax.set_xlabel("bits per element (incl. scales)", fontsize=8)
        ax.set_ylabel("SQNR (dB)", fontsize=8)
        ax.set_ylim(bottom=min(0, min((sqnr(r) for r in rows), default=0)), top=top + 2)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    many = len(labels) > 6
    fig.suptitle(f"SQNR versus storage cost (grey dashed: {target:g} dB; triangle: exact)", fontsize=11)
    if many:
        fig.legend(handles, labels, loc="center right", fontsize=7, title="element family (points: M)", title_fontsize=7)
        fig.tight_layout(rect=(0, 0, 0.83, 1))
    else:
        axes[0].legend(fontsize=7, title="element family (points: M)", title_fontsize=7)
        fig.tight_layout()
    path = os.path.join(out, "sqnr_vs_bits.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_heatmap(rep, tensors, out, group_scale, rounding):
    first = next((r for r in rep["results"] if r["group_scale"] == group_scale), rep["results"][0])
    shape, policy = first["group_shape_given"], first["scale_policy"]  # one group shape and policy per heatmap
    rows_all = [r for r in rep["results"] if r["group_scale"] == group_scale and r["rounding"] == rounding
                and r["group_shape_given"] == shape and r["scale_policy"] == policy]
    es = sorted({r["E"] for r in rows_all})
    ms = sorted({r["M"] for r in rows_all})
    if not es:
        sys.exit(f"plot_inspect: no results with group scale {group_scale} and rounding {rounding}")
    fig, axes = panel_axes(len(tensors), size=(4.4, 3.0))
    finite = [sqnr(r) for r in rows_all if sqnr(r) != math.inf]
    vmax = max(finite) if finite else 1
    vmin = min(0.0, min(finite)) if finite else 0
    im = None
    for ax, (ti, t) in zip(axes, tensors):
        z = np.full((len(es), len(ms)), np.nan)
        text = {}
        for r in rows_all:
            if r["tensor_index"] != ti:
                continue
            i, j = es.index(r["E"]), ms.index(r["M"])
            s = sqnr(r)
            z[i, j] = vmax if s == math.inf else s
            text[(i, j)] = "inf" if s == math.inf else f"{s:.0f}"
        im = ax.imshow(z, origin="lower", cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
        for (i, j), s in text.items():
            ax.text(j, i, s, ha="center", va="center", fontsize=6.5,
                    color="white" if z[i, j] < (vmin + vmax) / 2 else "black")
        ax.set_xticks(range(len(ms)), [str(m) for m in ms], fontsize=7)
        ax.set_yticks(range(len(es)), [str(e) for e in es], fontsize=7)
        ax.set_xlabel("M (mantissa bits)", fontsize=8)
        ax.set_ylabel("E (exponent bits)", fontsize=8)
        ax.set_title(f"{short(t['name'])} ({t['role'] or 'tensor'})", fontsize=9)
    fig.suptitle(f"SQNR (dB) of element E x M, group scale {group_scale}, groups {shape}, {policy}, {rounding}",
                 fontsize=11)
    fig.tight_layout()
    fig.colorbar(im, ax=axes, shrink=0.6, label="SQNR (dB)")
    path = os.path.join(out, "em_heatmap.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_error_hist(rep, tensors, out, fmt, rounding):
    sel = {r["tensor_index"]: r for r in rep["results"] if r["format"] == fmt and r["rounding"] == rounding}
    if not sel:
        names = sorted({(r["format"], r["rounding"]) for r in rep["results"]})
        sys.exit(f"plot_inspect: format {fmt} with rounding {rounding} is not in the report; it has: "
                 + ", ".join(f"{f} {m}" for f, m in names[:12]) + (" ..." if len(names) > 12 else ""))
    tensors = [(ti, t) for ti, t in tensors if ti in sel]
    fig, axes = panel_axes(len(tensors))
    for ax, (ti, t) in zip(axes, tensors):
        r = sel[ti]
        h = r["error_hist"]
        counts = np.array(h["counts"], dtype=float)
        edges = np.linspace(h["lo"], h["hi"], len(counts) + 1)
        if h["hi"] > h["lo"]:
            ax.stairs(counts, edges, fill=True, alpha=0.7)
            ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "every error is 0", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("error (dequantized - x), x != 0", fontsize=8)
        ax.set_ylabel("elements", fontsize=8)
        s = "inf" if r["sqnr_db"] is None else f"{r['sqnr_db']:.1f}"
        ax.set_title(f"{short(t['name'])}: SQNR {s} dB\nexact {h['exact']}/{h['samples']}, bias {r['mean_error']:.2e}",
                     fontsize=8)
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 2))
    fig.suptitle(f"Quantization error histogram, {fmt} {rounding}", fontsize=11)
    fig.tight_layout()
    path = os.path.join(out, "error_hist_" + re.sub(r"[^A-Za-z0-9_.-]", "_", fmt) + ".png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def summary(rep, tensors, target):
    """Per role and element family: the smallest M whose SQNR meets the target on every tensor of the role."""
    lines = [f"Smallest M with SQNR >= {target:g} dB on every tensor of the role (bits/element of the widest tensor):"]
    roles = {}
    for ti, t in tensors:
        roles.setdefault(t["role"] or "(no role)", []).append(ti)
    fams = sorted({family(r)[1:] for r in rep["results"]})
    for role, tis in roles.items():
        for fam in fams:
            cells = []
            for e in sorted({r["E"] for r in rep["results"]}):
                best = None
                for m in sorted({r["M"] for r in rep["results"] if r["E"] == e}):
                    rs = [r for r in rep["results"] if r["tensor_index"] in tis and r["E"] == e and r["M"] == m
                          and family(r)[1:] == fam]
                    if len(rs) == len(tis) and all(sqnr(r) >= target for r in rs):
                        best = (m, max(r["bits_per_element"] for r in rs), min(sqnr(r) for r in rs))
                        break
                cells.append(f"E{e}: " + ("-" if best is None else f"M{best[0]} ({best[1]:.2f} b, min {best[2]:.1f} dB)"))
            lines.append(f"  {role:12s} [{' '.join(fam[:3])} {fam[3]}]  " + "  ".join(cells))
    return "\n".join(lines)


def compare(rep, tensors):
    """Markdown table: one row per case (in report order), its bits per element (range over the
    tensors) and, per role, the SQNR range (dB) over the tensors of that role."""
    roles = {}
    for ti, t in tensors:
        roles.setdefault(t["role"] or "(no role)", []).append(ti)
    head = "| format | bits/el | " + " | ".join(roles) + " |"
    lines = [head, "|" + "---|" * (2 + len(roles))]
    order = []
    for r in rep["results"]:
        if r["case"] not in order:
            order.append(r["case"])
    for c in order:
        rs = [r for r in rep["results"] if r["case"] == c and any(r["tensor_index"] == ti for ti, _ in tensors)]
        if not rs:
            continue
        lo, hi = min(r["bits_per_element"] for r in rs), max(r["bits_per_element"] for r in rs)
        cells = [f"{lo:.3f}" if hi - lo < 0.0005 else f"{lo:.3f}-{hi:.3f}"]
        for tis in roles.values():
            db = [sqnr(r) for r in rs if r["tensor_index"] in tis]
            cells.append("-" if not db else f"{min(db):.1f}..{max(db):.1f}")
        lines.append(f"| {rs[0].get('label', rs[0]['format'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", help="JSON written by mls inspect --json")
    ap.add_argument("-o", "--out", default=".", help="output folder")
    ap.add_argument("--format", default="e2m1.g4m1", help="format of the error histogram (short name as in the report)")
    ap.add_argument("--rounding", default="rne", help="rounding of the error histogram and the heatmap")
    ap.add_argument("--group-scale", default=None, help="group scale of the heatmap (default: the first in the report)")
    ap.add_argument("--tensors", default="", help="regular expression: only tensors whose name matches")
    ap.add_argument("--target", type=float, default=None, help="SQNR line (default: the report's target)")
    ap.add_argument("--compare", action="store_true",
                    help="only print a markdown table: per case its bits/element and the SQNR range of each role")
    a = ap.parse_args()
    with open(a.report) as f:
        rep = json.load(f)
    if rep.get("mls_inspect") != 1:
        sys.exit(f"plot_inspect: {a.report} is not an mls inspect report")
    tensors = [(i, t) for i, t in enumerate(rep["tensors"]) if re.search(a.tensors, t["name"])]
    if not tensors:
        sys.exit(f"plot_inspect: no tensor matches {a.tensors!r}")
    if a.compare:
        print(compare(rep, tensors))
        return 0
    os.makedirs(a.out, exist_ok=True)
    target = a.target if a.target is not None else rep["options"]["target_sqnr_db"]
    gs = a.group_scale or rep["results"][0]["group_scale"]
    print(summary(rep, tensors, target))
    for p in (plot_sqnr_vs_bits(rep, tensors, a.out, target), plot_heatmap(rep, tensors, a.out, gs, a.rounding),
              plot_error_hist(rep, tensors, a.out, a.format, a.rounding)):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
