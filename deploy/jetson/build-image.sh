#!/usr/bin/env bash
# Builds the luxcert image for a JetPack release of versions.tsv (default: this Jetson's, else the
# first row): deploy/jetson/build-image.sh [JETPACK] [docker build options…]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
want=${1:-}
[ $# -eq 0 ] || shift
if [ -z "$want" ] && [ -r /etc/nv_tegra_release ]; then
  l4t=$(sed -n 's/^# R\([0-9]*\) (release), REVISION: \([0-9.]*\),.*/\1.\2/p' /etc/nv_tegra_release | head -n 1)
  want=$(awk -F'\t' -v l="$l4t" '!/^#/ && $2 == l {print $1; exit}' "$here/versions.tsv")
fi
want=${want:-$(awk -F'\t' '!/^#/ && $1 != "jetpack" {print $1; exit}' "$here/versions.tsv")}
base=$(awk -F'\t' -v j="$want" '!/^#/ && $1 == j {print $3}' "$here/versions.tsv")
[ -n "$base" ] || { echo "build-image.sh: JetPack '$want' is not in versions.tsv" >&2; exit 1; }
echo "luxcert:jetpack-$want from $base"
exec docker build -f "$here/Dockerfile" --build-arg "BASE_IMAGE=$base" --build-arg "JETPACK=$want" -t "luxcert:jetpack-$want" "$@" "$here/../.."
