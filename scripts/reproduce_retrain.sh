#!/usr/bin/env bash
# Reproduces the paper's MNIST retraining experiment (its Section 3.4) at its scale: 15 networks,
# each trained on the real digits plus every fooling image so far as an 11th class, with new
# evolution runs against each (200 generations x 200 offspring, CPPN and direct encoding); then
# longer searches (1000 generations, as the paper's code ran for MNIST) against the first and the
# last network. Prints a markdown table per encoding. Not part of scripts/test.sh (hours on 2 cores).
# Usage: scripts/reproduce_retrain.sh [OUT_DIR [extra `fool experiment retrain` flags...]]
# Environment: ENCODINGS (cppn direct), ITERATIONS (15), EPOCHS (10), GENERATIONS (200),
#   OFFSPRING (200), INIT (200), LONG_GENERATIONS (1000), LONG_RUNS (5), THREADS (1),
#   DATASET_FLAGS (e.g. "--dataset fashion-mnist"), FOOL (./build/src/cli/fool).
# Rerunning the same command resumes every experiment and skips the finished long runs.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/retrain}
shift || true
EXTRA=("$@")
FOOL=${FOOL:-./build/src/cli/fool}
ITERATIONS=${ITERATIONS:-15}
EPOCHS=${EPOCHS:-10}
GENERATIONS=${GENERATIONS:-200}
OFFSPRING=${OFFSPRING:-200}
INIT=${INIT:-200}
LONG_GENERATIONS=${LONG_GENERATIONS:-1000}
LONG_RUNS=${LONG_RUNS:-5}
THREADS=${THREADS:-1}
read -r -a DATA <<<"${DATASET_FLAGS:-}"
mkdir -p "$OUT"

for enc in ${ENCODINGS:-cppn direct}; do
  x="$OUT/$enc"
  start=$(date +%s)
  $FOOL experiment retrain --out "$x" --encoding "$enc" --iterations "$ITERATIONS" --epochs "$EPOCHS" \
    --generations "$GENERATIONS" --offspring "$OFFSPRING" --init "$INIT" --threads "$THREADS" "${DATA[@]}" "${EXTRA[@]}" \
    >/dev/null 2>"$OUT/$enc.log"
  echo "## $enc: $ITERATIONS iterations, $EPOCHS epochs, $GENERATIONS generations x $OFFSPRING ($(($(date +%s) - start)) s this session)"
  echo
  python3 - "$x/experiment.json" <<'PY'
import json, sys
x = json.load(open(sys.argv[1]))
print("| network | training images (fooling) | real accuracy | held-out fooling in extra class | median confidence | share >= 99.99% |")
print("|---|---|---|---|---|---|")
for r in x["iterations"]:
    h = r["heldout_fooling"]
    caught = "-" if h is None else f"{h['fraction_in_fooling_class']*100:.0f}% of {h['images']}"
    print(f"| DNN_{r['iteration']} | {r['train_examples']:,} ({r['fooling_examples_in_training']:,}) | "
          f"{r['heldout_real_accuracy']*100:.2f}% | {caught} | {r['median_confidence']*100:.4f}% | {r['fraction_at_9999']*100:.0f}% |")
PY
  echo
  echo "| longer search ($LONG_GENERATIONS generations x $OFFSPRING, $LONG_RUNS runs) | median confidence | share >= 99.99% | share >= 99% | generation by which half the classes reached 99.99% |"
  echo "|---|---|---|---|---|"
  for it in 1 "$ITERATIONS"; do
    runs=()
    for seed in $(seq 1 "$LONG_RUNS"); do
      run="$OUT/$enc-long/dnn$it-seed$seed"
      if [ ! -f "$run/summary.json" ]; then
        $FOOL evolve --model "$x/iteration$it/dnn.onnx" --encoding "$enc" --generations "$LONG_GENERATIONS" \
          --offspring "$OFFSPRING" --init "$INIT" --seed "$((1000 + seed))" --threads "$THREADS" --checkpoint-every 0 \
          --overwrite --quiet --out "$run" >/dev/null
      fi
      runs+=("$run/summary.json")
    done
    python3 - "DNN_$it" "${runs[@]}" <<'PY'
import json, statistics, sys
conf, firsts = [], []
for f in sys.argv[2:]:
    s = json.load(open(f))
    for c in s["classes"]:
        conf.append(c["confidence"])
        firsts.append(c["first_reached"].get("0.9999"))
reached = sorted(g for g in firsts if g is not None)
half = reached[len(firsts) // 2 - 1] if len(reached) >= len(firsts) // 2 else "never"
print(f"| {sys.argv[1]} | {statistics.median(conf)*100:.4f}% | {sum(c >= 0.9999 for c in conf)/len(conf)*100:.0f}% | "
      f"{sum(c >= 0.99 for c in conf)/len(conf)*100:.0f}% | {half} |")
PY
  done
  echo
done
