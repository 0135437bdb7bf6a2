#!/usr/bin/env bash
# Type-checks the rclnodejs-facing node (src/ros/rcl) against rclnodejs's own declarations.
# rclnodejs is installed without its install script (which needs a sourced ROS 2) into
# .cache/rclnodejs, and our stand-in for the generated message typings is put beside its types.
set -euo pipefail
cd "$(dirname "$0")/.."
version=2.2.0
dir=.cache/rclnodejs
if [ ! -f "$dir/node_modules/rclnodejs/package.json" ] || ! grep -q "\"version\": \"$version\"" "$dir/node_modules/rclnodejs/package.json"; then
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"name":"rclnodejs-types","private":true}' > "$dir/package.json"
  npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund --no-save "rclnodejs@$version" >/dev/null
fi
cp src/ros/rcl/rclnodejs-interfaces.d.ts "$dir/node_modules/rclnodejs/types/interfaces.d.ts"
npx tsc -p tsconfig.ros.json
echo "src/ros/rcl type-checks against rclnodejs $version's declarations"
