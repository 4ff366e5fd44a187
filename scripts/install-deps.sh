#!/usr/bin/env bash
# Installs every build, test and tool dependency of mls-ref from Debian packages.
# Idempotent; run as root (or with sudo available). Safe with no stdin.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(
  build-essential cmake ninja-build pkg-config
  libboost-dev librapidcheck-dev libgtest-dev libgmock-dev googletest
  nlohmann-json3-dev libhdf5-dev hdf5-tools libmpfr-dev libgmp-dev
  libcli11-dev libbenchmark-dev
  python3 python3-numpy python3-h5py python3-venv python3-tqdm
  verilator iverilog python3-matplotlib python3-sklearn
  pocl-opencl-icd ocl-icd-opencl-dev opencl-headers opencl-c-headers clinfo
  clang-14 libclang-rt-14-dev  # the libFuzzer harnesses of fuzz/ (scripts/fuzz.sh; libFuzzer ships in libclang-rt)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi
