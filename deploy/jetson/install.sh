#!/usr/bin/env bash
# Installs luxcert on a Jetson with JetPack 6 (L4T r36): ROS 2 Humble ros-base, Node.js, luxcert,
# onnxruntime built with CUDA and TensorRT under luxcert's own onnxruntime-node binding, the two
# ROS packages, the rclnodejs message bindings, and the systemd service. The Dockerfile runs the
# same steps (without the service), so the container and the native install cannot drift apart.
#
#   sudo deploy/jetson/install.sh                  # every step, versions from versions.tsv for this L4T
#   sudo deploy/jetson/install.sh --steps service  # some steps only (comma-separated)
#   deploy/jetson/install.sh --dry-run --jetpack 6.1   # print the plan, change nothing (any machine)
#
# Options: --jetpack X (default: from /etc/nv_tegra_release), --prefix DIR (/opt/luxcert),
# --steps LIST, --enable (enable and start the service), --jobs N (onnxruntime build; default
# from memory), --container (in an image build: the base image's L4T may differ from the row's),
# --dry-run, --row (print the chosen JetPack and base image, tab-separated, and stop).
# Steps: apt node luxcert onnxruntime ros-packages service.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
prefix=/opt/luxcert
jetpack=
steps=apt,node,luxcert,onnxruntime,ros-packages,service
enable=0
jobs=
dry=0
container=0
print_row=0
tegra_release=${LUXCERT_TEGRA_RELEASE:-/etc/nv_tegra_release}
all_steps=" apt node luxcert onnxruntime ros-packages service "

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "==> $*"; }
# Every command that changes the machine goes through run, so --dry-run prints the whole plan.
run() {
  if [ "$dry" = 1 ]; then printf '+'; printf ' %q' "$@"; printf '\n'; else "$@"; fi
}
# A scratch folder of our own (removed by the step that made it); a name only under --dry-run.
scratch() {
  if [ "$dry" = 1 ]; then echo "${TMPDIR:-/var/tmp}/luxcert-$1.XXXXXX"; else mktemp -d "${TMPDIR:-/var/tmp}/luxcert-$1.XXXXXX"; fi
}

while [ $# -gt 0 ]; do
  case "$1" in
    --jetpack) jetpack=${2:?--jetpack needs a version}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
    --steps) steps=${2:?--steps needs a list}; shift 2 ;;
    --enable) enable=1; shift ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --container) container=1; shift ;;
    --row) print_row=1; shift ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
for s in ${steps//,/ }; do
  [[ $all_steps == *" $s "* ]] || die "unknown step '$s' (steps:$all_steps)"
done
[[ $prefix == /* ]] || die "--prefix must be an absolute path, got '$prefix'"
[ -z "$jobs" ] || [[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer, got '$jobs'"

# L4T release from /etc/nv_tegra_release ("# R36 (release), REVISION: 4.3, …" is L4T 36.4.3).
l4t_release() {
  [ -r "$tegra_release" ] || return 1
  sed -n 's/^# R\([0-9]*\) (release), REVISION: \([0-9.]*\),.*/\1.\2/p' "$tegra_release" | head -n 1
}

# The row of versions.tsv for a JetPack (column 1) or an L4T release (column 2).
row=
while IFS=$'\t' read -r jp l4t _rest; do
  case "$jp" in '#'*|jetpack|'') continue ;; esac
  if [ -n "$jetpack" ]; then
    [ "$jp" = "$jetpack" ] && row="$jp"$'\t'"$l4t"$'\t'"$_rest"
  else
    detected=${detected:-$(l4t_release || true)}
    [ -n "$detected" ] || die "no --jetpack given and $tegra_release does not name an L4T release (is this a Jetson?)"
    [ "$l4t" = "$detected" ] && row="$jp"$'\t'"$l4t"$'\t'"$_rest"
  fi
done < "$here/versions.tsv"
if [ -z "$row" ]; then
  supported=$(awk -F'\t' '!/^#/ && $1 != "jetpack" {printf "%s%s", sep, $1; sep = ", "}' "$here/versions.tsv")
  die "no row in versions.tsv for $(if [ -n "$jetpack" ]; then echo "JetPack $jetpack"; else echo "L4T $detected"; fi) (supported JetPack releases: $supported)"
fi
IFS=$'\t' read -r jetpack l4t base ubuntu cuda cudnn tensorrt cuda_arch ros node onnxruntime rclnodejs <<< "$row"
if [ "$print_row" = 1 ]; then printf '%s\t%s\n' "$jetpack" "$base"; exit 0; fi
say "JetPack $jetpack (L4T $l4t, Ubuntu $ubuntu): CUDA $cuda, cuDNN $cudnn, TensorRT $tensorrt, sm_$cuda_arch; ROS 2 $ros, Node $node, onnxruntime $onnxruntime, rclnodejs $rclnodejs → $prefix"

if [ "$dry" = 0 ]; then
  [ "$(id -u)" = 0 ] || die "run as root (sudo): it installs packages and writes $prefix"
  [ "$(uname -m)" = aarch64 ] || die "this is $(uname -m), not a Jetson (aarch64); --dry-run shows the plan anywhere"
  actual=$(l4t_release || true)
  [ -z "$actual" ] || [ "$actual" = "$l4t" ] || [ "$container" = 1 ] || die "this Jetson runs L4T $actual, not $l4t (JetPack $jetpack); pass the matching --jetpack or flash it"
fi

app="$prefix/app"
ort_dir="$prefix/onnxruntime-$onnxruntime-cuda$cuda-trt$tensorrt"
export PATH="$prefix/node/bin:$PATH"
arch_lib=/usr/lib/aarch64-linux-gnu

step_apt() {
  say "apt: build tools, ROS 2 $ros ros-base and the message packages the node uses"
  run apt-get update
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    build-essential cmake git curl ca-certificates gnupg xz-utils python3-pip v4l-utils
  if [ ! -f /usr/share/keyrings/ros-archive-keyring.gpg ]; then
    run curl -fsSL https://raw.githubusercontent.com/ros/rosdistro/master/ros.key -o /usr/share/keyrings/ros-archive-keyring.gpg
  fi
  local list="deb [arch=arm64 signed-by=/usr/share/keyrings/ros-archive-keyring.gpg] http://packages.ros.org/ros2/ubuntu jammy main"
  if [ "$dry" = 1 ]; then echo "+ write /etc/apt/sources.list.d/ros2.list: $list"; else echo "$list" > /etc/apt/sources.list.d/ros2.list; fi
  run apt-get update
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    "ros-$ros-ros-base" "ros-$ros-foxglove-msgs" "ros-$ros-vision-msgs" "ros-$ros-diagnostic-msgs" python3-colcon-common-extensions
}

step_node() {
  say "node: Node.js $node (linux-arm64) into $prefix/node, checked against nodejs.org's SHASUMS256.txt"
  local tmp file="node-v$node-linux-arm64.tar.xz" url="https://nodejs.org/dist/v$node"
  tmp=$(scratch node)
  run curl -fsSL -o "$tmp/$file" "$url/$file"
  run curl -fsSL -o "$tmp/SHASUMS256.txt" "$url/SHASUMS256.txt"
  if [ "$dry" = 1 ]; then echo "+ check $file against SHASUMS256.txt"; else (cd "$tmp" && grep " $file\$" SHASUMS256.txt | sha256sum -c -); fi
  run mkdir -p "$prefix/node"
  run tar -xJf "$tmp/$file" -C "$prefix/node" --strip-components=1
  run rm -rf "$tmp"
}

step_luxcert() {
  say "luxcert: $source_dir → $app (npm ci without dev dependencies; the GPU binding and ROS bindings put back if built before)"
  # Built beside the running copy and swapped in at the end: an interrupted update leaves it intact.
  local next="$app.next"
  run rm -rf "$next"
  run mkdir -p "$next"
  # The working tree without what a developer's checkout may hold besides the sources.
  run tar -C "$source_dir" --exclude=./node_modules --exclude=./.git --exclude=./.cache --exclude=./luxcert-demo -cf "$prefix/app.tar" .
  run tar -C "$next" -xf "$prefix/app.tar"
  run rm -f "$prefix/app.tar"
  run env -C "$next" npm ci --omit=dev --no-audit --no-fund
  if [ -d "$ort_dir" ]; then place_onnxruntime "$next"; fi
  if [ -f "$prefix/ws/install/setup.bash" ]; then node_ros_bindings "$next"; fi
  if [ -d "$app" ]; then run mv "$app" "$app.previous"; fi
  run mv "$next" "$app"
  run rm -rf "$app.previous"
}

step_onnxruntime() {
  say "onnxruntime: $onnxruntime built with CUDA $cuda and TensorRT $tensorrt (sm_$cuda_arch) and its Node binding, into $ort_dir, and into luxcert's onnxruntime-node once installed"
  if [ "$dry" = 0 ]; then
    local locked
    locked=$(node -p "require('$source_dir/package-lock.json').packages['node_modules/onnxruntime-node'].version")
    [ "$locked" = "$onnxruntime" ] || die "luxcert's package-lock.json installs onnxruntime-node $locked but versions.tsv pins $onnxruntime: the binding must be built from the same version (update versions.tsv)"
  fi
  if [ -f "$ort_dir/onnxruntime_binding.node" ]; then
    say "onnxruntime $onnxruntime already built in $ort_dir (remove it to rebuild)"
  else
    build_onnxruntime
  fi
  if [ -d "$app/node_modules" ]; then place_onnxruntime "$app"; fi
}

# Builds onnxruntime and its Node binding from source into $ort_dir (hours on an Orin).
build_onnxruntime() {
  # Each cicc job of the CUDA build takes up to ~6 GB: fewer jobs than cores on an 8 GB Orin.
  local n=${jobs:-$(awk '/MemTotal/ {j = int($2 / 1024 / 1024 / 6); print (j < 1 ? 1 : j)}' /proc/meminfo)}
  local work
  work=$(scratch onnxruntime)
  # An interrupted build leaves no source tree behind (gigabytes); $work is expanded now, while set.
  # shellcheck disable=SC2064
  if [ "$dry" = 0 ]; then trap "rm -rf '$work'" EXIT; fi
  local ort="$work/onnxruntime" build="$work/onnxruntime/build/Linux/Release"
  run git clone --depth 1 --branch "v$onnxruntime" --recursive --shallow-submodules https://github.com/microsoft/onnxruntime "$ort"
  # Before the hours of building: the binding must pass TensorRT's engine cache and workspace options.
  run node "$here/patch-onnxruntime-node.mjs" "$ort/js/node/src/session_options_helper.cc"
  run env -C "$ort" ./build.sh --config Release --update --build --parallel "$n" --build_shared_lib --skip_tests --allow_running_as_root \
    --use_cuda --cuda_home /usr/local/cuda --cudnn_home "$arch_lib" \
    --use_tensorrt --tensorrt_home "$arch_lib" \
    --cmake_extra_defines "CMAKE_CUDA_ARCHITECTURES=$cuda_arch" onnxruntime_BUILD_UNIT_TESTS=OFF
  # The Node binding of the same source, with the CUDA and TensorRT providers compiled in.
  run env -C "$ort/js" npm ci --no-audit --no-fund
  run env -C "$ort/js/common" npm ci --no-audit --no-fund
  run env -C "$ort/js/node" npm ci --ignore-scripts --no-audit --no-fund
  run env -C "$ort/js/node" npm run build -- --config=Release --arch=arm64 "--onnxruntime-build-dir=$build" --use_cuda --use_tensorrt
  run mkdir -p "$ort_dir.partial"
  run install -m 644 "$ort/js/node/bin/napi-v6/linux/arm64/onnxruntime_binding.node" "$ort_dir.partial/onnxruntime_binding.node"
  run install -m 644 "$build/libonnxruntime.so.$onnxruntime" "$ort_dir.partial/libonnxruntime.so.1"
  local p
  for p in shared cuda tensorrt; do run install -m 644 "$build/libonnxruntime_providers_$p.so" "$ort_dir.partial/libonnxruntime_providers_$p.so"; done
  # Tells the runtime that this binding passes TensorRT options (the stock one ignores them).
  if [ "$dry" = 1 ]; then echo "+ write $ort_dir.partial/luxcert-binding.json"; else printf '{"trtOptions":true,"onnxruntime":"%s"}\n' "$onnxruntime" > "$ort_dir.partial/luxcert-binding.json"; fi
  run mv "$ort_dir.partial" "$ort_dir"
  run rm -rf "$work"
}

# Puts the GPU build over onnxruntime-node's CPU-only arm64 binary in an app folder. The binding
# loads libonnxruntime.so.1 from its own folder, which loads the providers from its own.
place_onnxruntime() {
  run cp -a "$ort_dir/." "$1/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/"
}

step_ros_packages() {
  say "ros-packages: luxcert_msgs and luxcert_ros with colcon into $prefix/ws, rclnodejs $rclnodejs and its message bindings"
  with_ros colcon --log-base "$prefix/ws/log" build --base-paths "$app/ros" --build-base "$prefix/ws/build" --install-base "$prefix/ws/install"
  node_ros_bindings "$app"
}

# rclnodejs (its install script picks the prebuilt binary for ROS_DISTRO) and the JavaScript
# bindings of every message the sourced workspace has, luxcert_msgs included, in an app folder.
node_ros_bindings() {
  with_ros env -C "$1" npm install --no-save --omit=dev --no-audit --no-fund "rclnodejs@$rclnodejs"
  with_ros env -C "$1" npx generate-ros-messages
}

# Runs a command with ROS 2 (and, once built, the luxcert workspace) sourced, in a subshell.
with_ros() {
  if [ "$dry" = 1 ]; then printf '+ [ROS %s sourced]' "$ros"; printf ' %q' "$@"; printf '\n'; return; fi
  (
    set +u # ROS's setup scripts read unset variables
    # shellcheck source=/dev/null
    source "/opt/ros/$ros/setup.bash"
    # shellcheck source=/dev/null
    if [ -f "$prefix/ws/install/setup.bash" ]; then source "$prefix/ws/install/setup.bash"; fi
    set -u
    "$@"
  )
}

step_service() {
  say "service: user luxcert, /etc/luxcert/luxcert.yaml (kept if present), the systemd unit and the camera udev rule"
  if ! id luxcert >/dev/null 2>&1; then run useradd --system --no-create-home --home-dir /var/lib/luxcert --shell /usr/sbin/nologin luxcert; fi
  local g
  for g in video render; do
    if getent group "$g" >/dev/null; then run usermod -aG "$g" luxcert; fi
  done
  run install -d -m 755 "$prefix/bin" /etc/luxcert
  run install -m 755 "$here/luxcert-service" "$prefix/bin/luxcert-service"
  # Never overwrite the user's config: a changed default lands beside it as luxcert.yaml.new.
  if [ -e /etc/luxcert/luxcert.yaml ]; then
    cmp -s "$here/luxcert.yaml" /etc/luxcert/luxcert.yaml || run install -m 644 "$here/luxcert.yaml" /etc/luxcert/luxcert.yaml.new
  else
    run install -m 644 "$here/luxcert.yaml" /etc/luxcert/luxcert.yaml
  fi
  local unit=/etc/systemd/system/luxcert.service
  if [ "$dry" = 1 ]; then echo "+ write $unit (paths under $prefix)"; else sed "s#/opt/luxcert#$prefix#g" "$here/luxcert.service" > "$unit"; fi
  run install -m 644 "$here/99-luxcert-camera.rules" /etc/udev/rules.d/99-luxcert-camera.rules
  run udevadm control --reload
  run udevadm trigger --subsystem-match=video4linux
  run systemctl daemon-reload
  if [ "$enable" = 1 ]; then run systemctl enable --now luxcert.service; else say "service installed; put the bundle where /etc/luxcert/luxcert.yaml says, then: sudo systemctl enable --now luxcert"; fi
}

for s in ${steps//,/ }; do
  "step_${s//-/_}"
done
say "done"
