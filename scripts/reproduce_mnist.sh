#!/usr/bin/env bash
# Reproduces the paper's MNIST evolution result (its Figs. 4 and 5): trains the paper's LeNet with
# `fool train`, then evolves fooling images with both encodings for 5 seeds each, 200 generations,
# and prints a markdown table of what was measured.
# Usage: scripts/reproduce_mnist.sh [OUT_DIR [extra fool evolve flags...]], e.g. runs/mnist400 --offspring 400
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/mnist}
shift || true
EXTRA=("$@")
FOOL=./build/src/cli/fool
mkdir -p "$OUT"
[ -f "$OUT/lenet.onnx" ] || $FOOL train --dataset mnist --arch lenet --seed 1 --quiet --out "$OUT/lenet.onnx" >/dev/null
python3 - "$OUT/lenet.onnx.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"LeNet: held-out accuracy {j['test_accuracy']*100:.2f}% on {j['test_examples']} digits, "
      f"{j['epochs']} epochs in {j['seconds']:.1f} s (seed {j['seed']})\n")
PY
echo "| encoding | seed | classes >= 99% | classes >= 99.99% | median confidence | all >= 99.99% at generation | seconds |"
echo "|---|---|---|---|---|---|---|"
for enc in direct cppn; do
  for seed in 1 2 3 4 5; do
    run="$OUT/$enc-seed$seed"
    $FOOL evolve --model "$OUT/lenet.onnx" --encoding "$enc" --preset mnist --seed "$seed" --out "$run" \
      --overwrite --quiet "${EXTRA[@]}" >/dev/null
    python3 - "$run/summary.json" "$enc" "$seed" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
firsts = [c["first_reached"]["0.9999"] for c in s["classes"]]
when = max(firsts) if all(f is not None for f in firsts) and len(firsts) == 10 else "not all"
at = s["classes_at_or_above"]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {at['0.99']}/10 | {at['0.9999']}/10 | "
      f"{s['median_confidence']*100:.4f}% | {when} | {s['seconds']:.1f} |")
PY
  done
done
