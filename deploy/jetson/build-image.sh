#!/usr/bin/env bash
# Builds the luxcert image for a JetPack release of versions.tsv (default: this Jetson's, else the
# first row): deploy/jetson/build-image.sh [JETPACK] [docker build options…]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
want=${1:-}
[ $# -eq 0 ] || shift
if [ -z "$want" ] && [ ! -r "${LUXCERT_TEGRA_RELEASE:-/etc/nv_tegra_release}" ]; then
  want=$(awk -F'\t' '!/^#/ && $1 != "jetpack" {print $1; exit}' "$here/versions.tsv")
fi
# install.sh picks the row (from the Jetson's L4T release when no JetPack is given) and refuses an unknown one.
row=$("$here/install.sh" --row ${want:+--jetpack "$want"})
IFS=$'\t' read -r jetpack base <<< "$row"
echo "luxcert:jetpack-$jetpack from $base"
exec docker build -f "$here/Dockerfile" --build-arg "BASE_IMAGE=$base" --build-arg "JETPACK=$jetpack" -t "luxcert:jetpack-$jetpack" "$@" "$here/../.."
