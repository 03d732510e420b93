#!/usr/bin/env bash
# One training step of the PyTorch tutorial's seq2seq model (GRU 256, its
# attention decoder, source and target 8 tokens, forward + backward + SGD),
# attend against PyTorch in one run on the same machine (issue 7), at batch
# 1 and 64, THREADS threads each (default 2). Prints steps/s and the ratio.
#
#   PYTHON=/path/to/venv/bin/python bench/seq2seq_step.sh
# Run it on a quiet machine: timings are wall-clock.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
THREADS=${THREADS:-2}
OUT=${OUT:-$(mktemp -d /tmp/attend-step-XXXXXX)}
mkdir -p "$OUT"
cargo bench --bench seq2seq_step -- --threads "$THREADS" --json > "$OUT/attend.jsonl"
"$PY" bench/seq2seq_step_torch.py --threads "$THREADS" > "$OUT/torch.jsonl"
"$PY" - "$OUT/attend.jsonl" "$OUT/torch.jsonl" <<'PYEOF'
import json, sys
a = {r["batch"]: r for r in map(json.loads, open(sys.argv[1]))}
t = {r["batch"]: r for r in map(json.loads, open(sys.argv[2]))}
print(f"{'batch':>5} {'attend steps/s':>15} {'torch steps/s':>14} {'ratio':>7}")
for b in sorted(a):
    x, y = a[b]["steps_per_second"], t[b]["steps_per_second"]
    print(f"{b:>5} {x:>15.1f} {y:>14.1f} {x / y:>6.2f}x")
print(f"threads: {a[b]['threads']}; torch {t[b]['torch']}")
PYEOF
