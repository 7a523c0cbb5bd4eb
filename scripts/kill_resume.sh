#!/usr/bin/env bash
# Kill-and-resume test: SIGKILLs `fool evolve` (direct and CPPN) and `fool experiment retrain` at
# random moments, resumes each (the same command with --resume for evolve, the same command for an
# experiment; a plain rerun if the kill came before the directory existed), and compares with an
# uninterrupted run: identical summary (timings and command line aside), byte-identical images and
# genomes, every directory resumable, and no stray hidden temporary files afterwards.
#
#   scripts/kill_resume.sh [--kills N] [--retrain-kills M] [--fool BIN] [--seed S] [--model M.onnx]
# The model defaults to mnist_bn_cnn.onnx among the fixtures of BIN's build directory
# (BUILD/fixtures/onnx, which the build writes); when that is absent the fixtures are made with
# tests/fixtures/make_onnx_fixtures.py (Debian's python3-torch) in the temporary directory.
# Prints one line per trial and a total; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
KILLS=3 RETRAIN_KILLS=1 FOOL=./build/src/cli/fool SEED=1 MODEL=${FOOL_KILL_MODEL:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) KILLS=$2; shift 2 ;;
    --retrain-kills) RETRAIN_KILLS=$2; shift 2 ;;
    --fool) FOOL=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
DATA=${FOOL_DATA_DIR:-data}/mnist
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fool_kill.XXXXXX")
[ -n "${FOOL_KILL_KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT  # FOOL_KILL_KEEP=1 keeps failed trials for a look
if [ -z "$MODEL" ]; then
  MODEL=$(dirname "$FOOL")/../../fixtures/onnx/mnist_bn_cnn.onnx
  if [ ! -f "$MODEL" ]; then
    "${FOOL_PYTHON:-/usr/bin/python3}" tests/fixtures/make_onnx_fixtures.py --out "$WORK/fixtures" >/dev/null ||
      { echo "cannot make the fixture model (tests/fixtures/make_onnx_fixtures.py)" >&2; exit 1; }
    MODEL=$WORK/fixtures/mnist_bn_cnn.onnx
  fi
fi
[ -f "$MODEL" ] || { echo "no model $MODEL" >&2; exit 2; }
RANDOM=$SEED
fail=0 trials=0

# The comparable content of a run or experiment directory: JSON without timings, thread counts and
# command lines, with the directory's own name replaced,
# other files by SHA-256; and the hidden temporaries left in it.
fingerprint() {
  python3 - "$1" <<'PY'
import hashlib, json, os, sys
root = sys.argv[1]
drop = {"seconds", "command_line", "train_seconds", "evals_per_second", "threads"}
def clean(v):  # an experiment records its runs' model paths, which contain the directory's name
    if isinstance(v, dict): return {k: clean(x) for k, x in v.items() if k not in drop}
    if isinstance(v, list): return [clean(x) for x in v]
    if isinstance(v, str): return v.replace(root, "<dir>")
    return v
for d, _, files in sorted(os.walk(root)):
    for f in sorted(files):
        p = os.path.join(d, f); rel = os.path.relpath(p, root)
        if f == "log.jsonl":
            gens = [json.loads(l).get("generation") for l in open(p) if l.strip()]
            print(rel, "generations", gens)
        elif f.endswith(".json"):
            print(rel, json.dumps(clean(json.load(open(p))), sort_keys=True))
        elif f in (".fool-run", ".fool-lock"):  # fool's marker and (empty) lock file
            print(rel, "fool's")
        elif f.startswith("."):
            print(rel, "STRAY")
        else:
            print(rel, hashlib.sha256(open(p, "rb").read()).hexdigest())
PY
}

# run_until_done LOG CMD...: runs the resume command until it exits 0 (at most 3 tries).
trial() {  # name, delay limit in ms, command (without --out), resume flag ("--resume" or "")
  local name=$1 limit_ms=$2 resume=$3; shift 3
  local ref=$WORK/ref_$name out=$WORK/${name}_$trials
  local delay_ms=$(( (RANDOM * 32768 + RANDOM) % limit_ms ))
  "$@" --out "$out" >/dev/null 2>&1 &
  local pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  local how=resume err
  if [ -n "$resume" ] && [ -d "$out" ]; then
    err=$("$@" --out "$out" $resume 2>&1 >/dev/null); rc=$?
  else
    how=rerun; err=$("$@" --out "$out" 2>&1 >/dev/null); rc=$?
  fi
  local verdict=ok
  if [ $rc -ne 0 ]; then
    verdict="FAIL ($how exit $rc: ${err##*$'\n'})"
  elif ! diff <(fingerprint "$ref") <(fingerprint "$out") >"$WORK/diff" 2>&1; then
    verdict="FAIL (differs from the uninterrupted run: $(head -c 300 "$WORK/diff" | tr '\n' ' '))"
  fi
  trials=$((trials + 1))
  [ "$verdict" = ok ] || fail=$((fail + 1))
  echo "$name kill at ${delay_ms} ms, $how: $verdict"
  if [ "$verdict" = ok ] || [ -z "${FOOL_KILL_KEEP:-}" ]; then rm -rf "$out"; else echo "  kept in $out"; fi
}

EVOLVE_DIRECT=("$FOOL" evolve --model "$MODEL" --encoding direct --generations 30 --offspring 60 --init 60 --seed 5
               --backend opencv --checkpoint-every 4 --threads 2 --quiet)
EVOLVE_CPPN=("$FOOL" evolve --model "$MODEL" --encoding cppn --generations 30 --offspring 60 --init 60 --seed 5
             --backend torch --checkpoint-every 4 --threads 2 --quiet)
RETRAIN=("$FOOL" experiment retrain --data-dir "$DATA" --iterations 2 --epochs 1 --generations 6 --offspring 30
         --init 30 --eval-runs 1 --first-images 20 --seed 2 --threads 2)

measure() {  # name, command...: the uninterrupted reference; prints its duration in ms
  local name=$1; shift
  local t0; t0=$(date +%s%N)
  "$@" --out "$WORK/ref_$name" >/dev/null 2>&1 || { echo "reference run $name failed" >&2; exit 1; }
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
}

if [ "$KILLS" -gt 0 ]; then
  for enc in direct cppn; do
    if [ $enc = direct ]; then cmd=("${EVOLVE_DIRECT[@]}"); else cmd=("${EVOLVE_CPPN[@]}"); fi
    ms=$(measure "evolve_$enc" "${cmd[@]}")
    for _ in $(seq "$KILLS"); do trial "evolve_$enc" $((ms + ms / 5 + 1)) --resume "${cmd[@]}"; done
  done
fi
if [ "$RETRAIN_KILLS" -gt 0 ]; then
  ms=$(measure retrain "${RETRAIN[@]}")
  for _ in $(seq "$RETRAIN_KILLS"); do trial retrain $((ms + 1)) "" "${RETRAIN[@]}"; done
fi
echo "kill_resume: $trials trials, $fail failed"
[ $fail -eq 0 ]
