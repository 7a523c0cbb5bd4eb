#!/usr/bin/env bash
# Installs fool from BUILD_DIR into a temporary prefix, builds the CMake project PROJECT_DIR against
# it with find_package(fool), and runs its PROGRAM with ARGS. ctest runs it for tests/find_package
# (the consumer, on a fixture model) and for examples/ (own_classifier).
# Usage: check.sh BUILD_DIR PROJECT_DIR PROGRAM [ARGS...]
set -euo pipefail
build=$1 project=$2 program=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$project" -B "$tmp/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" >/dev/null
"$tmp/build/$program" "$@"
