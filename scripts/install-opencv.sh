#!/usr/bin/env bash
# Installs the optional OpenCV binding that `luxcert run` uses for video files and cameras:
# Debian's OpenCV (and a compiler), then @u4/opencv4nodejs built against it (2–6 minutes).
# The binding is not in package.json, so a plain `npm install` never spends that time.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg -s libopencv-dev >/dev/null 2>&1 || ! command -v g++ >/dev/null || ! command -v make >/dev/null; then
  SUDO=$([ "$(id -u)" = 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends libopencv-dev g++ make python3 >/dev/null
fi
# Build against the system OpenCV instead of downloading and compiling OpenCV itself. glob@11 and
# rimraf@6 are named because @u4/opencv-build asks for "glob": "*" and "rimraf": "*" (it needs
# globSync and the named rimraf export), and npm would otherwise hand it the project's hoisted
# glob 7 and rimraf 2.
OPENCV4NODEJS_DISABLE_AUTOBUILD=1 npm install --no-save --no-audit --no-fund @u4/opencv4nodejs@7.1.2 glob@11 rimraf@6
node -e "process.env.OPENCV4NODEJS_DISABLE_AUTOBUILD='1'; import('@u4/opencv4nodejs').then((m) => console.log('OpenCV binding ready, OpenCV', (m.default ?? m).version))"
