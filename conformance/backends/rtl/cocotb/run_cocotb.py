"""Builds the quantizer RTL under Icarus Verilog with cocotb's runner and runs
test_quantizer.py against an mls-vectors file. Exit status 0 when every case
matches, 1 otherwise.

    python run_cocotb.py VECTORS.h5 --build-dir DIR [--define MLS_RTL_BUG_TIE] [--max-cases N]
"""
import argparse
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from cocotb.runner import get_runner

HERE = Path(__file__).resolve().parent
RTL = HERE.parent / "rtl"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vectors")
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--define", action="append", default=[])
    ap.add_argument("--max-cases", type=int, default=0)
    ap.add_argument("--dut", default="2,1,3,0,4,1", help="E,M,BIAS,ZERO_ONLY,EG,MG (default mls-e2m1)")
    a = ap.parse_args()
    E, M, B, Z, EG, MG = (int(v) for v in a.dut.split(","))
    build = Path(a.build_dir) / ("sim_" + "_".join([a.dut.replace(",", "_")] + a.define))
    runner = get_runner("icarus")
    runner.build(verilog_sources=[RTL / "mls_quantizer.sv", RTL / "mls_div_stage.sv"], hdl_toplevel="mls_quantizer",
                 parameters=dict(E=E, M=M, BIAS=B, ZERO_ONLY=Z, EG=EG, MG=MG), defines={d: 1 for d in a.define},
                 build_args=["-g2012"], build_dir=build, timescale=("1ns", "1ps"), always=True)
    results = runner.test(hdl_toplevel="mls_quantizer", test_module="test_quantizer", test_dir=build, build_dir=build,
                          results_xml=str(build / "results.xml"),
                          extra_env=dict(MLS_VECTORS=str(Path(a.vectors).resolve()), MLS_DUT=a.dut,
                                         MLS_MAX_CASES=str(a.max_cases), PYTHONPATH=str(HERE)))
    failures = len(ET.parse(results).getroot().findall(".//failure")) if Path(results).exists() else 1
    tests = len(ET.parse(results).getroot().findall(".//testcase")) if Path(results).exists() else 0
    print(f"cocotb: {tests} test(s), {failures} failed ({results})")
    return 0 if tests > 0 and failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
