#!/usr/bin/env bash
# Installs the outside libraries under test (conformance/python/adapters/)
# into a virtual environment, pinned, from PyPI.
#
#   bash scripts/install-outside.sh [--ci | --all] [VENV]
#
#   --ci   (default) ml_dtypes and gfloat with numpy: a few MB, what the normal
#          test command checks (requirements-ci.txt)
#   --all  also torch (CPU use of the PyPI wheel, which pulls several GB of CUDA
#          runtime wheels), torchao and qtorch: what scripts/outside-report.sh
#          needs (requirements-all.txt)
#   VENV   the venv directory; default $MLS_OUTSIDE_VENV, else build/outside-venv
#
# The venv is made with Debian's /usr/bin/python3 (MLS_PYTHON3 overrides). A
# stamp file remembers what was installed, so a second run with the same
# requirements does nothing. Exit status: 0 installed (or already there), 1 pip
# failed (the message names the requirement file), 64 usage error.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
req_dir="$root/conformance/python/adapters"
set_name=ci
venv=""
for a in "$@"; do
  case "$a" in
    --ci) set_name=ci ;;
    --all) set_name=all ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "install-outside.sh: unknown option $a (use --ci, --all, or a venv directory)" >&2; exit 64 ;;
    *) venv="$a" ;;
  esac
done
venv="${venv:-${MLS_OUTSIDE_VENV:-$root/build/outside-venv}}"
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
py="${MLS_PYTHON3:-/usr/bin/python3}"
req="$req_dir/requirements-$set_name.txt"
stamp="$venv/.mls-outside-$set_name"
# The stamp holds the requirement files' contents: a changed pin reinstalls.
want="$(cat "$req_dir/requirements-ci.txt" "$req")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install-outside.sh: $venv already has requirements-$set_name.txt"
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$(dirname "$venv")"
  if ! "$py" -m venv "$venv"; then
    echo "install-outside.sh: could not make a venv with $py -m venv $venv (Debian: apt-get install python3-venv)" >&2
    exit 1
  fi
fi
echo "install-outside.sh: installing $(grep -v '^[#-]' "$req" | grep . | tr '\n' ' ')into $venv"
if ! (cd "$req_dir" && "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"); then
  echo "install-outside.sh: pip could not install $req into $venv" >&2
  exit 1
fi
printf '%s' "$want" > "$stamp"
"$venv/bin/python" - <<'PY'

for name in ("numpy", "ml_dtypes", "gfloat", "torch", "torchao", "qtorch"):
    try:
        from importlib.metadata import version
        print(f"  {name} {version(name)}")
    except Exception:
        pass
PY
