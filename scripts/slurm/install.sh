#!/usr/bin/env bash
# Opt-in: the Debian packages of the single-node Slurm cluster that
# scripts/slurm/test_local_cluster.sh starts (not part of scripts/install-deps.sh:
# the normal build and test command need no Slurm). Idempotent; root or sudo.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(slurm-wlm munge)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi
command -v sbatch >/dev/null && command -v slurmctld >/dev/null && command -v munged >/dev/null
