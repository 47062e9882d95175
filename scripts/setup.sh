#!/usr/bin/env bash
# One command from a fresh Debian/Ubuntu machine to a working `lookalike`: system packages, npm
# packages, the TypeScript build and the default model's conversion to ONNX. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# opencv-data: the Haar cascades; ffmpeg: video notes; fonts: text in reply pictures;
# postgresql: the server the storage tests start (the bots themselves default to SQLite);
# redis-server: the queue of `lookalike worker`s (tests start their own throwaway server).
packages=(opencv-data ffmpeg fonts-dejavu-core postgresql redis-server)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# onnxruntime-node's install script would fetch CUDA libraries from outside the npm registry;
# CPU inference needs none of them (GPU hosts: see README, "GPU").
export ONNXRUNTIME_NODE_INSTALL=skip
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi

npm run build
node bin/lookalike.js model convert-default
echo "setup: done. Try: npx --no-install lookalike index build <folder> && npx --no-install lookalike match <photo>"
