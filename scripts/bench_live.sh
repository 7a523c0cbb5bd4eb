#!/usr/bin/env bash
# The cost of the live view (live.html, grid.png, images/ during a run): fool evolve --preset mnist
# (200 generations x 200 offspring) on a LeNet, with the live view at its defaults (every
# checkpoint, i.e. every 25 generations, and at most every 10 s) and with --no-live, in alternating
# pairs so that the machine's load hits both alike. Prints each run's wall and CPU (user + sys)
# seconds and, with the live view, the seconds fool spent writing it (its own "live view: N updates
# in X s" line); then per encoding the medians, their ratios, and the live view's share of the run.
# On a loaded machine wall times vary by tens of percent between identical runs; the CPU times and
# the live view's own seconds are the steadier measures.
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
      /usr/bin/time -f "%e %U %S" -o "$WORK/t" $F evolve --model "$LENET" --encoding $enc --preset mnist \
        --seed "$i" --overwrite $flag --out "$WORK/$mode" >/dev/null 2>"$WORK/err"
      read -r wall user sys <"$WORK/t"
      live=$(sed -n 's/.*live view: [0-9]* updates in \([0-9.]*\) s.*/\1/p' "$WORK/err")
      echo "$enc $mode $wall $(echo "$user + $sys" | bc) ${live:-0}" | tee -a "$WORK/times"
    done
  done
done
python3 - "$WORK/times" <<'PY'
import statistics, sys
t = {}
for line in open(sys.argv[1]):
    enc, mode, wall, cpu, live = line.split()
    t.setdefault((enc, mode), []).append((float(wall), float(cpu), float(live)))
med = lambda xs: statistics.median(xs)
for enc in ("direct", "cppn"):
    on, off = t[(enc, "live")], t[(enc, "nolive")]
    w1, w0 = med([x[0] for x in on]), med([x[0] for x in off])
    c1, c0 = med([x[1] for x in on]), med([x[1] for x in off])
    share = med([x[2] / x[0] for x in on])
    print(f"{enc}: wall {w1:.2f} s live / {w0:.2f} s no live = {w1 / w0:.3f}; CPU {c1:.2f} / {c0:.2f} s = "
          f"{c1 / c0:.3f}; live view's own time {med([x[2] for x in on]):.3f} s = {100 * share:.2f}% of the run "
          f"(medians of {len(on)} pairs)")
PY
uptime
