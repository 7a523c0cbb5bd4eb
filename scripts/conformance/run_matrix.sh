#!/usr/bin/env bash
# The whole conformance matrix: exports torchvision 0.14's classifiers with PyTorch 1.13 (Debian's
# python3-torch and python3-torchvision) at every opset and variant, scores each with fool's
# backends, and prints a pass/fail table per architecture x opset x variant x backend.
#
#   bash scripts/conformance/run_matrix.sh [OUT_DIR] [export_models.py selection flags]
#   e.g. bash scripts/conformance/run_matrix.sh /tmp/conformance --families resnet,vit --opsets 14
#
# One family at a time: export, score (OUT_DIR/results/<family>.json), then delete the family's
# model files, since the whole matrix would keep about 45 GB (KEEP_MODELS=1 keeps them, and a
# second run then only scores). The table of every family scored into OUT_DIR comes last.
# Set FOOL to another binary, PYTHON to another interpreter with torch 1.13 / torchvision 0.14,
# BACKENDS to the backends to score with (default opencv,torch,auto), MARKDOWN=1 for a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build/conformance}
shift || true
PYTHON=${PYTHON:-/usr/bin/python3}
FOOL=${FOOL:-build/src/cli/fool}
[ -x "$FOOL" ] || { echo "run_matrix.sh: $FOOL is not built (run scripts/setup.sh)" >&2; exit 1; }
families=$("$PYTHON" scripts/conformance/export_models.py --list "$@" | sed 's/-op[0-9]*-.*//' | uniq)
[ -n "$families" ] || { echo "run_matrix.sh: no case selected" >&2; exit 1; }
mkdir -p "$OUT/results"
for family in $families; do
  echo "[matrix] $family: exporting into $OUT" >&2
  # the selection flags, narrowed to this family (a later --families wins in argparse)
  "$PYTHON" scripts/conformance/export_models.py --out "$OUT" "$@" --families "$family" || true
  echo "[matrix] $family: scoring" >&2
  "$PYTHON" scripts/conformance/compare.py --fool "$FOOL" --cases "$OUT" --family "$family" \
    --json "$OUT/results/$family.json" --backends "${BACKENDS:-opencv,torch,auto}" \
    $([ -n "${KEEP_MODELS:-}" ] || echo --prune) || true
done
echo "[matrix] every family scored into $OUT" >&2
exec "$PYTHON" scripts/conformance/compare.py --report "$OUT"/results/*.json --cases "$OUT" ${MARKDOWN:+--markdown}
