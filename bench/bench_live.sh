#!/usr/bin/env bash
# The cost of the live view (live.html, grid.png, images/ written while a run goes): the same seeded
# 200 x 200 MNIST run (fool evolve --preset mnist: 200 generations x 200 offspring, 200 initial
# genomes, --seed 1) with --no-live and with the live view, interleaved round by round (the order
# alternates: live first in odd rounds, --no-live first in even ones) so that the machine's load hits
# both alike. Each live setting is one mode: "default" (the CLI's --live-every 10) and, with
# LIVE_EVERY="10 1" for instance, "every1" (--live-every 1: ten times as many updates).
# Prints each run's wall and CPU (user + sys) seconds and the seconds fool itself spent writing the
# live view (its "live view: N updates in X s" line); then per encoding and mode the ratio of the
# medians and the ratio of the minimums, live / no live, for wall and CPU time, and the live view's
# own share of the run. On a loaded machine identical runs differ by tens of percent in wall time;
# the minimums, the CPU times and the live view's own seconds are the steadier measures.
# Usage: bash bench/bench_live.sh [lenet.onnx] [rounds] [encodings]
#   env FOOL (default build/src/cli/fool), LIVE_EVERY (default "10"), THREADS (default: fool's).
set -euo pipefail
cd "$(dirname "$0")/.."
F=${FOOL:-build/src/cli/fool}
LENET=${1:-build/test-cache/lenet_3_epochs_seed_1.onnx}
ROUNDS=${2:-5}
ENCODINGS=${3:-direct cppn}
LIVE_EVERY=${LIVE_EVERY:-10}
[ -x "$F" ] || { echo "bench_live: no fool binary at $F (build the fool_cli target)" >&2; exit 2; }
[ -f "$LENET" ] || { echo "bench_live: no model at $LENET (the e2e tests cache one there)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
THREAD_FLAG=()
[ -n "${THREADS:-}" ] && THREAD_FLAG=(--threads "$THREADS")
echo "# $(date -u +%FT%TZ) $(uptime | sed 's/.*load/load/'); rounds $ROUNDS; live-every $LIVE_EVERY"
echo "# encoding mode round wall_s cpu_s live_view_s live_updates"
run() {  # encoding mode round
  local enc=$1 mode=$2 round=$3 flags=()
  if [ "$mode" = nolive ]; then flags=(--no-live); else flags=(--live-every "${mode#every}"); fi
  /usr/bin/time -f "%e %U %S" -o "$WORK/t" "$F" evolve --model "$LENET" --encoding "$enc" --preset mnist --seed 1 \
    "${THREAD_FLAG[@]}" "${flags[@]}" --overwrite --out "$WORK/run" >/dev/null 2>"$WORK/err" ||
    { cat "$WORK/err" >&2; exit 1; }
  local wall user sys live updates
  read -r wall user sys <"$WORK/t"
  live=$(sed -n 's/.*live view: [0-9]* updates in \([0-9.]*\) s.*/\1/p' "$WORK/err")
  updates=$(sed -n 's/.*live view: \([0-9]*\) updates in.*/\1/p' "$WORK/err")
  echo "$enc $mode $round $wall $(echo "$user + $sys" | bc) ${live:-0} ${updates:-0}" | tee -a "$WORK/times"
}
for enc in $ENCODINGS; do
  for round in $(seq 1 "$ROUNDS"); do
    modes=(nolive)
    for e in $LIVE_EVERY; do modes+=("every$e"); done
    if [ $((round % 2)) = 1 ]; then modes=("${modes[@]:1}" nolive); fi
    for mode in "${modes[@]}"; do run "$enc" "$mode" "$round"; done
  done
done
python3 - "$WORK/times" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    enc, mode, _, wall, cpu, live, updates = line.split()
    runs.setdefault((enc, mode), []).append((float(wall), float(cpu), float(live), int(updates)))
med = statistics.median
for enc in dict.fromkeys(k[0] for k in runs):
    off = runs[(enc, "nolive")]
    for mode in [m for (e, m) in runs if e == enc and m != "nolive"]:
        on = runs[(enc, mode)]
        col = lambda rs, i: [r[i] for r in rs]
        w1, w0, c1, c0 = med(col(on, 0)), med(col(off, 0)), med(col(on, 1)), med(col(off, 1))
        mw1, mw0, mc1, mc0 = min(col(on, 0)), min(col(off, 0)), min(col(on, 1)), min(col(off, 1))
        own = med(col(on, 2))
        print(f"{enc} --live-every {mode[5:]} vs --no-live ({len(on)} rounds): "
              f"wall median {w1:.2f}/{w0:.2f} s = {w1 / w0:.3f}, min {mw1:.2f}/{mw0:.2f} s = {mw1 / mw0:.3f}; "
              f"CPU median {c1:.2f}/{c0:.2f} s = {c1 / c0:.3f}, min {mc1:.2f}/{mc0:.2f} s = {mc1 / mc0:.3f}; "
              f"live view's own time {own:.3f} s in {med(col(on, 3)):.0f} updates = {100 * own / w1:.2f}% of the run")
PY
echo "# $(date -u +%FT%TZ) $(uptime | sed 's/.*load/load/')"
