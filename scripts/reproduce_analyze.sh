#!/usr/bin/env bash
# Measures the paper's repetition observation on MNIST (its Section 3.2): trains the paper's LeNet,
# evolves fooling images with both encodings for some seeds (200 generations), then runs
# `fool analyze repetition` and `fool analyze occlusion` on every run and prints a markdown table.
# Usage: scripts/reproduce_analyze.sh [OUT_DIR [SEEDS...]], e.g. runs/analyze 1 2 3
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/analyze}
shift || true
SEEDS=("$@")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(1 2 3)
FOOL=./build/src/cli/fool
mkdir -p "$OUT"
[ -f "$OUT/lenet.onnx" ] || $FOOL train --dataset mnist --arch lenet --seed 1 --quiet --out "$OUT/lenet.onnx" >/dev/null
echo "| encoding | seed | median confidence | images repeating | repeating: all copies / half / one (medians) | occlusion: median largest drop | 25% / 50% / 75% of tiles filled (medians) |"
echo "|---|---|---|---|---|---|---|"
for enc in direct cppn; do
  for seed in "${SEEDS[@]}"; do
    run="$OUT/$enc-seed$seed"
    [ -f "$run/summary.json" ] || $FOOL evolve --model "$OUT/lenet.onnx" --encoding "$enc" --preset mnist --seed "$seed" \
      --out "$run" --overwrite --quiet >/dev/null
    $FOOL analyze repetition "$run" --quiet >/dev/null
    $FOOL analyze occlusion "$run" --quiet --seed 1 >/dev/null
    python3 - "$run" "$enc" "$seed" <<'PY'
import json, sys
run, enc, seed = sys.argv[1:]
r = json.load(open(f"{run}/analysis/repetition.json"))
o = json.load(open(f"{run}/analysis/occlusion.json"))
m = r["repeating_median"]
pc = lambda v: f"{v*100:.4f}%"
rep = f"{pc(m['all_copies'])} / {pc(m['half_copies'])} / {pc(m['one_copy'])}" if r["repeating"] else "-"
filled = " / ".join(pc(f["median_confidence"]) for f in o["filled"])
print(f"| {enc} | {seed} | {pc(o['median_confidence'])} | {r['repeating']}/{r['images']} | {rep} | {o['median_max_drop']:.4f} | {filled} |")
PY
  done
done
