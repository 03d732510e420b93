#!/usr/bin/env bash
# Multi30k side by side (BENCHMARKS.md, "Real translation"): the PyTorch tutorial
# series' attention model (../shared/bench/seq2seq_multi30k.py, one epoch, or the
# first REF_STEPS batches of it as a speed probe), then attend's recipe on the same
# official splits; prints training pairs/s of both and their ratio, and attend's
# test_2016_flickr BLEU three ways (bench/multi30k_score.py). Wall-clock timings:
# run it on a quiet machine.
#
#   PYTHON=/path/to/venv/bin/python bench/multi30k.sh          # de→en
#   SRC=en TGT=de REF=0 bench/multi30k.sh                        # attend only
#   REF_STEPS=60 bench/multi30k.sh                               # a shorter reference probe
#   ATTEND_ARGS="--epochs 12" bench/multi30k.sh                  # flags over --recipe multi30k
#   ENSEMBLE=2 ATTEND_ARGS="--epochs 7" REF=0 bench/multi30k.sh    # two seeds side by side, one
#                                                                # thread each, decoded as an ensemble
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
THREADS=${THREADS:-2}
SRC=${SRC:-de}
TGT=${TGT:-en}
OUT=${OUT:-$(mktemp -d /tmp/attend-m30k-XXXXXX)}
mkdir -p "$OUT"
echo "results in $OUT" >&2
export ATTEND_DATA_DIR=${ATTEND_DATA_DIR:-$(cd ../shared/data && pwd)}
DATA=$ATTEND_DATA_DIR/multi30k

if [[ "${REF:-1}" != 0 && ! -s "$OUT/reference.json" ]]; then
  "$PY" ../shared/bench/seq2seq_multi30k.py --data-dir "$ATTEND_DATA_DIR" --threads "$THREADS" \
    --src "$SRC" --tgt "$TGT" --epochs 1 ${REF_STEPS:+--max-steps "$REF_STEPS"} --out "$OUT/reference" \
    | tail -n 1 > "$OUT/reference.json"
fi

cargo build --release --quiet
BIN=target/release/attend
export ENSEMBLE=${ENSEMBLE:-1}
start=$(date +%s.%N)
if [[ "$ENSEMBLE" == 1 ]]; then
  rm -rf "$OUT/attend"
  # shellcheck disable=SC2086
  "$BIN" --threads "$THREADS" translate train --recipe multi30k --src-lang "$SRC" --tgt-lang "$TGT" \
    ${ATTEND_ARGS:-} --out "$OUT/attend" 2> "$OUT/attend.log"
  RUNS=("$OUT/attend")
else
  # Members with seeds 1..N trained side by side, one thread each.
  RUNS=()
  for i in $(seq "$ENSEMBLE"); do
    rm -rf "$OUT/attend$i"
    # shellcheck disable=SC2086
    "$BIN" --threads 1 --seed "$i" translate train --recipe multi30k --src-lang "$SRC" --tgt-lang "$TGT" \
      ${ATTEND_ARGS:-} --out "$OUT/attend$i" 2> "$OUT/attend$i.log" &
    RUNS+=("$OUT/attend$i")
  done
  wait
fi
end=$(date +%s.%N)
# The recipe's last step, chosen on the validation split: the mean of the last 4
# validations' weights (of each member).
MODELS=()
for run in "${RUNS[@]}"; do
  "$BIN" translate average --model "$run" --last 4 --out "$run.averaged" 2>> "$OUT/attend.log"
  MODELS+=(--model "$run.averaged")
done
mkdir -p "$OUT/attend"
"$BIN" --threads "$THREADS" translate eval "${MODELS[@]}" --json --output "$OUT/attend/test.hyps.txt" \
  > "$OUT/attend_eval.json"
"$PY" bench/multi30k_score.py "$OUT/attend/test.hyps.txt" "$DATA/test_2016_flickr.$TGT.gz" --lang "$TGT" \
  > "$OUT/attend_scores.json"

"$PY" - "$OUT" "$start" "$end" <<'PYEOF'
import csv, json, os, sys
out, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
members = int(os.environ.get("ENSEMBLE", "1"))
run = os.path.join(out, "attend" if members == 1 else "attend1")
rows = list(csv.DictReader(open(os.path.join(run, "history.csv"))))
epochs = len(rows)
wall = end - start
pairs = 29000 * epochs * members
scores = json.load(open(os.path.join(out, "attend_scores.json")))
ev = json.load(open(os.path.join(out, "attend_eval.json")))
print(f"attend: {members} model(s) of {epochs} epochs in {wall:.0f} s (everything: tokenizers, validation), {pairs / wall:.1f} pairs/s")
print(f"attend test_2016_flickr (last 4 averaged{', ensemble of %d' % members if members > 1 else ''}, beam 5, alpha 1): sacreBLEU 13a {scores['sacrebleu_13a']} (cased), "
      f"{scores['sacrebleu_13a_lc']} (lowercased), {scores['tutorial_setup']} in the tutorial's setup, "
      f"chrF2 {scores['chrf2']}; decoding {ev['tokens_per_second']:.0f} tokens/s")
ref_path = os.path.join(out, "reference.json")
if os.path.exists(ref_path) and os.path.getsize(ref_path):
    ref = json.load(open(ref_path))
    steps = int(os.environ.get("REF_STEPS") or 0)
    ref_pairs = min(29000, steps * 128) if steps else 29000
    ref_rate = ref_pairs / ref["train_seconds"]
    print(f"reference: {ref_pairs} pairs in {ref['train_seconds']} s (with one validation pass), "
          f"{ref_rate:.1f} pairs/s, {ref['train_tokens_per_second']} of its tokens/s")
    print(f"attend / reference training pairs/s: {pairs / wall / ref_rate:.1f}x")
PYEOF
