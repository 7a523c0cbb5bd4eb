#!/usr/bin/env bash
# Reproduces the paper's gradient-ascent figures on MNIST: fooling images for every digit with its
# three regularisation settings (no decay; L2 decay 0.01; decay 0.001 with a Gaussian blur of sigma
# 0.4 every 2 steps), and prints a markdown table of what was measured.
# Usage: scripts/reproduce_ascent.sh [OUT_DIR]  (reuses OUT_DIR/lenet.onnx, else trains one)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/ascent}
FOOL=./build/src/cli/fool
mkdir -p "$OUT"
[ -f "$OUT/lenet.onnx" ] || $FOOL train --dataset mnist --arch lenet --seed 1 --quiet --out "$OUT/lenet.onnx" >/dev/null
echo "| setting | flags | classes >= 99.99% (saved PNGs) | median confidence | steps (max over classes) | steps/s | seconds |"
echo "|---|---|---|---|---|---|---|"
run() {
  local name=$1; shift
  $FOOL ascend --model "$OUT/lenet.onnx" --out "$OUT/$name" --overwrite --quiet "$@" >/dev/null
  python3 - "$OUT/$name/summary.json" "$name" "$*" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print(f"| {sys.argv[2]} | `{sys.argv[3] or '(defaults)'}` | {s['classes_at_or_above']['0.9999']}/{len(s['classes'])} | "
      f"{s['median_confidence']*100:.4f}% | {s['steps']} | {s['steps_per_second']:.0f} | {s['seconds']:.2f} |")
PY
}
run no-decay --decay 0
run decay-0.01 --decay 0.01
run decay-0.001-blur --decay 0.001 --blur-sigma 0.4 --blur-every 2
