#!/usr/bin/env bash
# The cocotb bench of the quantizer RTL, self-contained: makes a venv under
# BUILD_DIR (first run only) with the pinned packages of requirements.txt from
# PyPI, then builds the RTL under Icarus Verilog and replays every `round`
# group of VECTORS.h5 (run_cocotb.py, test_quantizer.py).
#   run.sh BUILD_DIR VECTORS.h5 [run_cocotb.py options, e.g. --define MLS_RTL_BUG_TIE]
#   run.sh BUILD_DIR --setup    # only make the venv
# Exit status: 0 pass, 1 mismatch or failure, 77 when the venv cannot be made
# (no PyPI, no iverilog): ctest reports that as skipped, never as passed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1
shift
venv=$build/cocotb-venv
py=/usr/bin/python3
if ! command -v iverilog >/dev/null || ! command -v vvp >/dev/null; then
  echo "cocotb bench: iverilog/vvp not found (apt install iverilog): skipped" >&2
  exit 77
fi
stamp=$venv/.requirements
if ! cmp -s "$here/requirements.txt" "$stamp" 2>/dev/null; then
  rm -rf "$venv"
  mkdir -p "$build"
  if ! "$py" -m venv "$venv" || ! "$venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"; then
    echo "cocotb bench: could not install $(grep -v '^#' "$here/requirements.txt" | tr '\n' ' ')from PyPI into $venv: skipped" >&2
    rm -rf "$venv"
    exit 77
  fi
  cp "$here/requirements.txt" "$stamp"
fi
[ "${1:-}" = "--setup" ] && exit 0
exec "$venv/bin/python" "$here/run_cocotb.py" "$@" --build-dir "$build/cocotb-sim"
