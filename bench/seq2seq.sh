#!/usr/bin/env bash
# Side-by-side translation benchmark on the PyTorch lesson's data (fra→eng,
# 10,599 tutorial-filtered pairs, the same 1,059 held-out pairs for everyone):
#   1. ../shared/bench/seq2seq_tutorial.py  (the lesson, batch 1, 75,000 iterations)
#   2. ../shared/bench/seq2seq_batched.py   (a modern batched PyTorch rewrite, 80 epochs)
#   3. attend translate train (its defaults) + attend translate eval
# Then prints BLEU (sacreBLEU, tokenize none), exact match, training wall time and
# the time ratio. Run it on a quiet machine: timings are wall-clock.
#
#   PYTHON=/path/to/venv/bin/python bench/seq2seq.sh            # full run
#   QUICK=1 bench/seq2seq.sh                                       # smoke run (minutes)
#   OUT=dir bench/seq2seq.sh   # reference results already in dir (tutorial.json,
#                              # batched.json) are reused, so attend can be re-run
#                              # against one reference run
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
THREADS=${THREADS:-2}
OUT=${OUT:-$(mktemp -d /tmp/attend-bench-XXXXXX)}
if [[ -n "${QUICK:-}" ]]; then ITERS=2000; EPOCHS=2; ATTEND_ARGS=(--epochs 1); else ITERS=75000; EPOCHS=80; ATTEND_ARGS=(); fi
mkdir -p "$OUT"
echo "results in $OUT" >&2

export ATTEND_DATA_DIR=${ATTEND_DATA_DIR:-$(cd ../shared/data && pwd)}

if [[ ! -s "$OUT/tutorial.json" ]]; then
  "$PY" ../shared/bench/seq2seq_tutorial.py --iters "$ITERS" --threads "$THREADS" --out "$OUT/tutorial" | tail -n 1 > "$OUT/tutorial.json.tmp"
  mv "$OUT/tutorial.json.tmp" "$OUT/tutorial.json"
fi
if [[ ! -s "$OUT/batched.json" ]]; then
  "$PY" ../shared/bench/seq2seq_batched.py --epochs "$EPOCHS" --threads "$THREADS" --out "$OUT/batched" | tail -n 1 > "$OUT/batched.json.tmp"
  mv "$OUT/batched.json.tmp" "$OUT/batched.json"
fi
[[ -n "${REFERENCE_ONLY:-}" ]] && exit 0

cargo build --release --quiet
BIN=target/release/attend

rm -rf "$OUT/attend"
start=$(date +%s.%N)
"$BIN" --threads "$THREADS" translate train --data eng-fra --tutorial-filter --reverse "${ATTEND_ARGS[@]}" --out "$OUT/attend" >&2
end=$(date +%s.%N)
"$BIN" --threads "$THREADS" translate eval --model "$OUT/attend" --split test --greedy --json > "$OUT/attend.json"
"$BIN" --threads "$THREADS" translate eval --model "$OUT/attend" --split test --beam 5 --json > "$OUT/attend_beam5.json"
python3 - "$OUT" "$start" "$end" <<'PYEOF'
import json, sys
out, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
tut = json.load(open(f"{out}/tutorial.json"))
bat = json.load(open(f"{out}/batched.json"))
att = json.load(open(f"{out}/attend.json"))
beam = json.load(open(f"{out}/attend_beam5.json"))
att_train = end - start  # whole command: data loading, vocab and per-epoch validation included
rows = [("seq2seq_tutorial.py", tut["bleu"], tut["exact_match"], tut["train_seconds"]),
        ("seq2seq_batched.py", bat["bleu"], bat["exact_match"], bat["train_seconds"]),
        ("attend (greedy)", att["bleu"], att["exact_match"], att_train),
        ("attend (beam 5)", beam["bleu"], beam["exact_match"], att_train)]
print(f"{'system':<22}{'BLEU':>8}{'exact':>8}{'train s':>10}")
for name, bleu, em, secs in rows:
    print(f"{name:<22}{bleu:>8.2f}{em:>8.3f}{secs:>10.1f}")
print(f"attend BLEU − tutorial BLEU: {att['bleu'] - tut['bleu']:+.2f} greedy, {beam['bleu'] - tut['bleu']:+.2f} beam 5")
print(f"attend BLEU − batched BLEU:  {att['bleu'] - bat['bleu']:+.2f} greedy, {beam['bleu'] - bat['bleu']:+.2f} beam 5")
print(f"tutorial train time / attend train time: {tut['train_seconds'] / att_train:.1f}x")
print(f"batched train time / attend train time:  {bat['train_seconds'] / att_train:.1f}x")
print(f"attend signature: {att.get('signature', '')}")
PYEOF
