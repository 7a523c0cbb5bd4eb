#!/usr/bin/env bash
# Installs fool from BUILD_DIR into a temporary prefix, builds tests/find_package against it with
# find_package(fool), and runs the result on the fixture model. Usage: check.sh BUILD_DIR MODEL
set -euo pipefail
build=$1 model=$2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$here" -B "$tmp/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" >/dev/null
"$tmp/build/consumer" "$model"
