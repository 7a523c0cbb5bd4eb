#!/usr/bin/env bash
# The whole conformance matrix: exports torchvision 0.14's classifiers with PyTorch 1.13 (Debian's
# python3-torch and python3-torchvision) at every opset and variant, scores each with fool's
# backends, and prints a pass/fail table per architecture x opset x variant x backend.
#
#   bash scripts/conformance/run_matrix.sh [OUT_DIR] [export_models.py selection flags]
#   e.g. bash scripts/conformance/run_matrix.sh /tmp/conformance --families resnet,vit --opsets 14
#
# OUT_DIR (default build/conformance) keeps the exported cases, so a second run only scores.
# Set FOOL to another binary, PYTHON to another interpreter with torch 1.13 / torchvision 0.14.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-build/conformance}
shift || true
PYTHON=${PYTHON:-/usr/bin/python3}
FOOL=${FOOL:-build/src/cli/fool}
[ -x "$FOOL" ] || { echo "run_matrix.sh: $FOOL is not built (run scripts/setup.sh)" >&2; exit 1; }
mkdir -p "$OUT"
echo "[matrix] exporting into $OUT" >&2
"$PYTHON" scripts/conformance/export_models.py --out "$OUT" "$@" || true
echo "[matrix] scoring" >&2
exec "$PYTHON" scripts/conformance/compare.py --fool "$FOOL" --cases "$OUT" --json "$OUT/results.json" \
  --backends "${BACKENDS:-opencv,torch,auto}" ${MARKDOWN:+--markdown}
