#!/usr/bin/env bash
# Issue 6's benchmark: a char-level LSTM language model on text8, trained on
# the first 90M characters for at most 60 minutes (validated every 2,000
# steps on the first 300k characters of the next 5M), then scored on the last
# 5M characters (the test part saved in the model directory). One LSTM layer
# of 768 units (against 512: fewer characters in the hour, a lower score at
# every minute past the first few), Adam at 3e-3 after 300 warm-up steps,
# annealed along a cosine to 0 over the run (--cosine: its epoch or its time
# limit, whichever ends first), since the hour sees less than one epoch.
#
#   bash bench/lm_text8.sh [OUT_DIR] [MINUTES]
#
# HIDDEN, LAYERS, BATCH, LR, WARMUP, VALIDATE_EVERY and EPOCHS override the recipe
# (defaults: the recipe BENCHMARKS.md reports last; the earlier runs there
# were HIDDEN=512 LR=0.004 WARMUP=0 VALIDATE_EVERY=800).
#
# Prints the validation curve (bits per character against wall-clock
# minutes, from history.csv) and the test score; the model directory also
# holds bpc_time.png/.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/attend-lm-text8}
minutes=${2:-60}
export ATTEND_DATA_DIR=${ATTEND_DATA_DIR:-../shared/data}
cargo build --release --quiet
bin=target/release/attend
hidden=${HIDDEN:-768}
layers=${LAYERS:-1}
batch=${BATCH:-64}
lr=${LR:-0.003}
warmup=${WARMUP:-300}
validate_every=${VALIDATE_EVERY:-2000}
epochs=${EPOCHS:-1}
rm -rf "$out"
start=$(date +%s)
$bin --threads 2 lm train --data text8 --level char --holdout-chars 5000000 \
  --cell lstm --embed 64 --hidden "$hidden" --layers "$layers" --dropout 0 \
  --batch-size "$batch" --bptt 50 --lr "$lr" --cosine --warmup-steps "$warmup" \
  --validate-every-steps "$validate_every" --valid-tokens 300000 \
  --time-limit "$minutes" --epochs "$epochs" --out "$out"
echo "training wall time: $(( $(date +%s) - start )) s"
echo "validation curve (minutes, bits per char):"
python3 - "$out/history.csv" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    if r.get("valid_bits_per_char"):
        print(f"  {float(r['elapsed'])/60:6.1f} min  step {r['step']:>6}  {float(r['valid_bits_per_char']):.4f}")
PY
$bin --threads 2 lm eval --model "$out" --json
