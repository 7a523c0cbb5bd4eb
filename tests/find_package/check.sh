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
# Only public headers are installed: none includes a fool header that is not installed, nor a
# library a user of fool does not link (oneDNN, libtorch, OpenCV, MPI, protoc's generated code).
bad=0
while IFS= read -r header; do
  while IFS= read -r inc; do
    if [[ $inc == fool/* ]]; then
      [ -f "$tmp/prefix/include/$inc" ] || { echo "check.sh: $header includes $inc, which is not installed" >&2; bad=1; }
    elif [[ $inc =~ ^(dnnl|ATen/|torch/|c10/|opencv2/|mpi\.h|.*\.pb\.h) ]]; then
      echo "check.sh: $header includes $inc, an internal dependency" >&2
      bad=1
    fi
  done < <(sed -nE 's/^#include [<"]([^>"]+)[>"].*/\1/p' "$header")
done < <(find "$tmp/prefix/include/fool" -name '*.h')
[ "$bad" = 0 ] || exit 1
cmake -S "$project" -B "$tmp/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" >/dev/null
"$tmp/build/$program" "$@"
