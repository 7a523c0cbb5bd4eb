#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan, build-fuzz/) and fuzzes each parser for
# SECONDS seconds (default 300), then prints per target: executions, corpus size, crashes, hangs
# (timeouts) and out-of-memory findings. Exits non-zero if any target found anything.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
# Environment: JOBS (build jobs, 2), FOOL_FUZZ_PARALLEL (targets fuzzed at once, 1),
# FOOL_FUZZ_SKIP_BUILD=1 (fuzz the targets already in build-fuzz/ as they are).
set -uo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-300}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzz_onnx_opencv fuzz_onnx_torch fuzz_idx fuzz_png fuzz_checkpoint fuzz_genome
                                     fuzz_summary fuzz_experiment fuzz_caffe)
PARALLEL=${FOOL_FUZZ_PARALLEL:-1}
if [ "${FOOL_FUZZ_SKIP_BUILD:-0}" != 1 ]; then
  if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFOOL_FUZZ=ON \
      -DFOOL_BUILD_CLI=OFF -DFOOL_BUILD_BENCH=OFF ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} >/dev/null
  fi
  cmake --build build-fuzz -j "${JOBS:-2}" --target "${TARGETS[@]}" >/dev/null || { echo "fuzz build failed" >&2; exit 1; }
fi
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
fuzz_one() {
  local t=$1 out=build-fuzz/fuzz-long/$1
  rm -rf "$out" && mkdir -p "$out/corpus" "$out/artifacts"
  build-fuzz/fuzz/$t -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=4096 -max_len=1048576 \
    -artifact_prefix="$out/artifacts/" -print_final_stats=1 "$out/corpus" "fuzz/corpus/$t" >"$out/log" 2>&1
}
for t in "${TARGETS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n; done
  fuzz_one "$t" &
done
wait
found=0
printf '| target | seconds | executions | corpus | crashes | hangs | out of memory |\n|---|---|---|---|---|---|---|\n'
for t in "${TARGETS[@]}"; do
  out=build-fuzz/fuzz-long/$t
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/log" | grep -o '[0-9]*$' || echo "?")
  crashes=$(find "$out/artifacts" -name 'crash-*' | wc -l)
  hangs=$(find "$out/artifacts" -name 'timeout-*' | wc -l)
  ooms=$(find "$out/artifacts" -name 'oom-*' | wc -l)
  leaks=$(find "$out/artifacts" -name 'leak-*' | wc -l)
  crashes=$((crashes + leaks))
  corpus=$(find "$out/corpus" -type f | wc -l)
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$SECONDS_PER_TARGET" "${execs:-?}" "$corpus" "$crashes" "$hangs" "$ooms"
  found=$((found + crashes + hangs + ooms))
done
[ $found -eq 0 ]
