#!/usr/bin/env bash
# The main job on the embedded default: sets everything up (scripts/setup.sh), trains the paper's
# LeNet on MNIST, and evolves fooling images for all ten digits with both encodings (the paper's
# MNIST settings: 200 generations of 200 offspring). Results land in runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
FOOL=./build/src/cli/fool
OUT=runs/demo
mkdir -p "$OUT"
if [ ! -f "$OUT/lenet.onnx" ]; then
  echo "== training LeNet on MNIST (fool train)" >&2
  $FOOL train --dataset mnist --arch lenet --seed 1 --out "$OUT/lenet.onnx"
fi
for enc in direct cppn; do
  echo "== evolving fooling images, $enc encoding (fool evolve)" >&2
  $FOOL evolve --model "$OUT/lenet.onnx" --encoding "$enc" --preset mnist --seed 1 --out "$OUT/$enc" --overwrite
done
echo "== what LeNet says of the evolved images (fool score)" >&2
$FOOL score --model "$OUT/lenet.onnx" --top 1 "$OUT"/cppn/images/class_*.png
echo "Done. Look at $OUT/direct/grid.png and $OUT/cppn/grid.png; numbers in $OUT/*/summary.json" >&2
