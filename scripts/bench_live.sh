#!/usr/bin/env bash
# The cost of the live view (live.html, grid.png, images/ during a run): fool evolve --preset mnist
# (200 generations x 200 offspring) on a LeNet, with the live view at its defaults (every
# checkpoint, i.e. every 25 generations, and at most every 10 s) and with --no-live, in alternating
# pairs so that the machine's load hits both alike. Prints each pair's wall seconds, then the
# medians and their ratio per encoding.
# Usage: bash scripts/bench_live.sh [lenet.onnx] [pairs]
set -euo pipefail
cd "$(dirname "$0")/.."
F=build/src/cli/fool
LENET=${1:-build/test-cache/lenet_3_epochs_seed_1.onnx}
PAIRS=${2:-7}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
uptime
for enc in direct cppn; do
  for i in $(seq 1 "$PAIRS"); do
    for mode in live nolive; do
      flag=""
      [ "$mode" = nolive ] && flag="--no-live"
      start=$(date +%s.%N)
      $F evolve --model "$LENET" --encoding $enc --preset mnist --seed "$i" --quiet --overwrite $flag \
        --out "$WORK/$mode" >/dev/null
      end=$(date +%s.%N)
      echo "$enc $mode $(echo "$end - $start" | bc)" | tee -a "$WORK/times"
    done
  done
done
python3 - "$WORK/times" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    enc, mode, s = line.split()
    t.setdefault((enc, mode), []).append(float(s))
for enc in ("direct", "cppn"):
    a, b = statistics.median(t[(enc, "live")]), statistics.median(t[(enc, "nolive")])
    pairs = [x / y for x, y in zip(t[(enc, "live")], t[(enc, "nolive")])]
    print(f"{enc}: live {a:.3f} s, no live {b:.3f} s (medians of {len(pairs)}), ratio {a / b:.4f}; "
          f"median of pair ratios {statistics.median(pairs):.4f}")
PY
uptime
