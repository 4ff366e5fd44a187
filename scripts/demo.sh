#!/usr/bin/env bash
# The README's main-job command: installs dependencies, builds, and runs the demo.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/build.sh" >/dev/null
"$root/build/tools/mls" demo "$@"
