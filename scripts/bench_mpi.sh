#!/usr/bin/env bash
# Evaluations per second with 1 process x 1 thread, 1 process x 2 threads and 2 processes x 1 thread
# (mpirun), and bytes rank 0 sends per generation, for LeNet (400 images of 28x28) and ResNet-18
# (random weights, exported by bench/export_resnet18.py with python3-torchvision; 256x256 colour
# images, 10 crops of 224, as --preset imagenet). Usage: bash scripts/bench_mpi.sh [lenet.onnx]
# Prints one JSON line per measurement; docs/design.md has the numbers of one run.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/bench/bench_mpi
MPI="mpirun -q --oversubscribe --allow-run-as-root"
LENET=${1:-build/test-cache/lenet_3_epochs_seed_1.onnx}
RESNET=${RESNET:-build/bench-models/resnet18_random.onnx}
if [ ! -f "$RESNET" ]; then
  mkdir -p "$(dirname "$RESNET")"
  python3 bench/export_resnet18.py "$RESNET"
fi
uptime
for round in 1 2; do
  $B --model "$LENET" --threads 1 --rounds 5
  $B --model "$LENET" --threads 2 --rounds 5
  $MPI -np 2 $B --model "$LENET" --threads 1 --rounds 5
done
# 20 images per timed generation (10 crops each = 200 ResNet-18 forward passes); bytes scale with images.
R="--model $RESNET --images 20 --image-size 256 --crops 10 --eval-batch 10 --rounds 2"
$B $R --threads 1
$B $R --threads 2
$MPI -np 2 $B $R --threads 1
uptime
