#!/usr/bin/env bash
# Recurrent-layer micro-benchmark, attend against PyTorch in one run on the
# same machine (issue 7): RNN (tanh), LSTM, GRU × hidden 128/256/512 ×
# batch 1/16/64, length 20, forward and forward + backward, THREADS threads
# each (default 2). Prints one table: milliseconds, attend's GFLOP/s, the
# share of attend's time that its matrix products alone take (the ceiling,
# measured in the same run), and torch time / attend time.
#
#   PYTHON=/path/to/venv/bin/python bench/recurrent.sh          # full (~5 min)
#   QUICK=1 bench/recurrent.sh                                    # hidden 256, batch 1/64
#   REFERENCE=1 bench/recurrent.sh   # also time attend's reference graph
#   CELL=gru HIDDEN=512 BATCH=64 bench/recurrent.sh   # one case (any of the three)
# Run it on a quiet machine: timings are wall-clock.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
THREADS=${THREADS:-2}
OUT=${OUT:-$(mktemp -d /tmp/attend-recurrent-XXXXXX)}
mkdir -p "$OUT"
FLAGS=(--threads "$THREADS")
[[ -n "${QUICK:-}" ]] && FLAGS+=(--quick)
[[ -n "${CELL:-}" ]] && FLAGS+=(--cell "$CELL")
[[ -n "${HIDDEN:-}" ]] && FLAGS+=(--hidden "$HIDDEN")
[[ -n "${BATCH:-}" ]] && FLAGS+=(--batch "$BATCH")
ATTEND_FLAGS=("${FLAGS[@]}" --json)
[[ -n "${REFERENCE:-}" ]] && ATTEND_FLAGS+=(--reference)

cargo bench --bench recurrent -- "${ATTEND_FLAGS[@]}" > "$OUT/attend.jsonl"
"$PY" bench/recurrent_torch.py "${FLAGS[@]}" > "$OUT/torch.jsonl"

"$PY" - "$OUT/attend.jsonl" "$OUT/torch.jsonl" <<'EOF'
import json, sys
key = lambda r: (r["cell"], r["hidden"], r["batch"], r["pass"])
attend = {key(r): r for r in map(json.loads, open(sys.argv[1]))}
torch = {key(r): r for r in map(json.loads, open(sys.argv[2]))}
print(f"{'cell':<5} {'H':>4} {'B':>3} {'pass':<8} {'attend ms':>10} {'torch ms':>10} "
      f"{'speed-up':>8} {'GFLOP/s':>8} {'ceil GF/s':>9} {'of ceil':>7} {'ref ms':>8}")
for k, a in attend.items():
    t = torch.get(k)
    if t is None:
        continue
    ref = a["reference_seconds"]
    print(f"{k[0]:<5} {k[1]:>4} {k[2]:>3} {k[3]:<8} {a['seconds']*1e3:>10.3f} "
          f"{t['seconds']*1e3:>10.3f} {t['seconds']/a['seconds']:>7.2f}x "
          f"{a['gflops']:>8.1f} {a['ceiling_gflops']:>9.1f} "
          f"{100*a['ceiling_seconds']/a['seconds']:>6.0f}% "
          f"{'-' if ref is None else f'{ref*1e3:.3f}':>8}")
print(f"threads: {a['threads']}; torch {t['torch']}; raw results in {sys.argv[1]} and {sys.argv[2]}")
EOF
