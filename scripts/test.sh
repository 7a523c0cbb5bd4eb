#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the whole test suite with CTest: the release build
# (unit, e2e, slow and browser tests), then the unit tests again in a build with AddressSanitizer
# and UndefinedBehaviorSanitizer (build-asan/). Extra arguments go to the release run's ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
(cd build && ctest --output-on-failure --timeout 900 -j 2 "$@")

echo "[test] unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)" >&2
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release -DFOOL_SANITIZE=ON -DFOOL_BUILD_CLI=OFF \
  -DFOOL_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j "$(nproc)"
# libtorch and OpenCV are not instrumented; their allocations outlive main (leak reports are noise).
export ASAN_OPTIONS=detect_leaks=0:detect_odr_violation=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure --timeout 900 -j 2 -L unit)
