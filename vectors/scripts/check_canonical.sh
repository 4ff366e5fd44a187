#!/bin/sh
# Regenerates the committed canonical suites listed in vectors/canonical/SUITES
# and compares them byte for byte with vectors/canonical/MANIFEST.sha256
# (spec/08-vectors.md 8.7).
#   check_canonical.sh MLS            check (CI; exit 1 on any difference)
#   check_canonical.sh MLS --update   rewrite the committed files and the manifest
set -eu
mls=$1
mode=${2:-check}
here=$(cd "$(dirname "$0")/../canonical" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
grep -v '^#' "$here/SUITES" | while read -r name args; do
  [ -n "$name" ] || continue
  # shellcheck disable=SC2086  # the arguments are words
  "$mls" gen -q -o "$out/$name" $args
done
if [ "$mode" = "--update" ]; then
  cp "$out"/*.h5 "$here"/
  (cd "$here" && sha256sum -- *.h5 > MANIFEST.sha256)
  cat "$here/MANIFEST.sha256"
  exit 0
fi
status=0
(cd "$here" && sha256sum --quiet -c MANIFEST.sha256) || { echo "the committed canonical files do not match MANIFEST.sha256"; status=1; }
if ! (cd "$out" && sha256sum --quiet -c "$here/MANIFEST.sha256"); then
  echo "regenerated canonical suites differ from MANIFEST.sha256:"
  for f in "$out"/*.h5; do
    n=$(basename "$f")
    new=$("$mls" vinfo "$f" | sed -n 's/^  content_sha256: //p')
    old=$("$mls" vinfo "$here/$n" | sed -n 's/^  content_sha256: //p' || true)
    if [ "$new" = "$old" ]; then
      echo "  $n: same content (content_sha256 $new) but different file bytes: another HDF5 library version?"
    else
      echo "  $n: content differs (committed $old, regenerated $new)"
    fi
  done
  status=1
fi
[ $status -eq 0 ] && echo "canonical suites regenerate bit for bit: $(wc -l < "$here/MANIFEST.sha256") files"
exit $status
