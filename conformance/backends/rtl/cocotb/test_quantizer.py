"""cocotb testbench of the quantizer RTL (../rtl/mls_quantizer.sv): every case
of every `round` group of an mls-vectors HDF5 file (spec/08-vectors.md) whose
format matches the DUT's parameters, read with h5py, driven one element per
clock, every output code (or overflow flag, for an expected error) compared.

Environment: MLS_VECTORS (the .h5 file), MLS_DUT (E,M,BIAS,ZERO_ONLY,EG,MG as
built), MLS_MAX_CASES (optional cap per group). run_cocotb.py builds and runs it.
"""
import os

import cocotb
import h5py
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def matching_groups(path, dut_params):
    E, M, BIAS, ZERO_ONLY, EG, MG = dut_params
    with h5py.File(path, "r") as f:
        if "round" not in f:
            return []
        out = []
        for name in sorted(f["round"]):
            g = f["round"][name]
            a = g.attrs
            fmt = (int(a["element_exp_bits"]), int(a["element_man_bits"]), int(a["element_bias"]),
                   int(a["element_zero"]), int(a["group_exp_bits"]), int(a["group_man_bits"]))
            if fmt != (E, M, BIAS, ZERO_ONLY, EG, MG):
                continue
            out.append(dict(
                name=g.name, label=text(a["label"]), mode=int(a["rounding_mode"]), bits=int(a["rounding_bits"]),
                poszero=int(a["signed_zero"]) == 1,
                x=g["inputs/x"][()].astype(np.uint32), st=g["inputs/tensor_scale"][()].astype(np.uint32),
                gs=g["inputs/group_scale"][()].astype(np.uint32), word=g["inputs/rand"][()].astype(np.uint32),
                status=g["outputs/status"][()].astype(np.uint8), code=g["outputs/code"][()].astype(np.uint32)))
        return out


@cocotb.test()
async def replay_round_vectors(dut):
    path = os.environ["MLS_VECTORS"]
    params = tuple(int(v) for v in os.environ["MLS_DUT"].split(","))
    cap = int(os.environ.get("MLS_MAX_CASES", "0"))
    groups = matching_groups(path, params)
    assert groups, f"{path}: no round group for the DUT's format {params}"
    cocotb.start_soon(Clock(dut.clk, 10, units="ns").start())
    dut.in_valid.value = 0
    for _ in range(128):  # drain: every valid bit of the pipeline becomes 0 (it starts as x)
        await RisingEdge(dut.clk)
    total = bad = 0
    for g in groups:
        n = len(g["x"]) if cap <= 0 else min(cap, len(g["x"]))
        results = []

        async def monitor():
            # outputs change at the rising edge; sample them at the falling edge
            while len(results) < n:
                await FallingEdge(dut.clk)
                if int(dut.out_valid.value):
                    results.append((int(dut.out_code.value), int(dut.out_ovf.value)))

        mon = cocotb.start_soon(monitor())
        for i in range(n):
            await FallingEdge(dut.clk)
            dut.in_valid.value = 1
            dut.in_x.value = int(g["x"][i])
            dut.in_st.value = int(g["st"][i]) & 0x7FFFFFFF
            dut.in_gs.value = int(g["gs"][i])
            dut.in_mode.value = g["mode"]
            dut.in_rbits.value = g["bits"] & 63
            dut.in_word.value = int(g["word"][i])
            dut.in_poszero.value = int(g["poszero"])
        await FallingEdge(dut.clk)
        dut.in_valid.value = 0
        await mon
        for i, (code, ovf) in enumerate(results):
            want_err = int(g["status"][i]) != 0
            ok = bool(ovf) if want_err else code == int(g["code"][i])
            if not ok:
                bad += 1
                if bad <= 10:
                    dut._log.error("MISMATCH %s case %d: x=0x%08x tensor_scale=0x%08x group_scale=0x%x mode=%d R=%d "
                                   "word=0x%08x: expected %s, RTL code 0x%x ovf %d", g["name"], i, int(g["x"][i]),
                                   int(g["st"][i]), int(g["gs"][i]), g["mode"], g["bits"], int(g["word"][i]),
                                   "an overflow error" if want_err else "code 0x%x" % int(g["code"][i]), code, ovf)
        total += n
        dut._log.info("%s (%s): %d cases", g["name"], g["label"], n)
    dut._log.info("cocotb replay: %d groups, %d cases, %d mismatches", len(groups), total, bad)
    assert bad == 0, f"{bad} mismatches in {total} cases"
