#!/usr/bin/env bash
# Issue 6's names check: a char-level GRU language model conditioned on
# language (the PyTorch "generating names" lesson) samples SAMPLES surnames
# per language; our own names classifier (`attend classify train --data
# names`, its default recipe) labels them. Prints, per language, how often
# the classifier names the language the model was asked for, the overall
# rate against chance (1/18), and how many samples are new (not a training
# name).
#
#   bash bench/lm_names.sh [OUT_DIR] [SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/attend-lm-names}
samples=${2:-50}
export ATTEND_DATA_DIR=${ATTEND_DATA_DIR:-../shared/data}
cargo build --release --quiet
bin=target/release/attend
rm -rf "$out" && mkdir -p "$out"
$bin --threads 2 classify train --data names --out "$out/classifier" 2>"$out/classifier.log"
$bin classify eval --model "$out/classifier" | head -3
$bin --threads 2 lm train --data names --condition-col language --cell gru --embed 32 \
  --hidden 128 --batch-size 32 --epochs 12 --lr 0.003 --out "$out/lm" 2>"$out/lm.log"
tail -2 "$out/lm.log"
$bin lm eval --model "$out/lm"
languages=$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["conditions"]))' "$out/lm/config.json")
: > "$out/generated.tsv"
for lang in $languages; do
  $bin --seed 1 lm generate --model "$out/lm" --condition "$lang" --count "$samples" \
    | while IFS= read -r name; do printf '%s\t%s\n' "$lang" "$name"; done >> "$out/generated.tsv"
done
cut -f2 "$out/generated.tsv" | $bin classify predict --model "$out/classifier" > "$out/predicted.jsonl"
python3 - "$out/generated.tsv" "$out/predicted.jsonl" "$ATTEND_DATA_DIR/names.tsv.gz" <<'PY'
import collections, gzip, json, sys
asked = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[1], encoding="utf-8")]
said = [json.loads(l)["label"] for l in open(sys.argv[2], encoding="utf-8")]
assert len(asked) == len(said), (len(asked), len(said))
known = {l.split("\t")[0] for l in gzip.open(sys.argv[3], "rt", encoding="utf-8")}
hits, per = 0, collections.defaultdict(lambda: [0, 0])
for (lang, name), label in zip(asked, said):
    per[lang][1] += 1
    if label == lang:
        per[lang][0] += 1
        hits += 1
for lang in sorted(per):
    h, n = per[lang]
    print(f"  {lang:12s} {h:3d}/{n}  {100*h/n:5.1f} %")
n = len(asked)
new = sum(1 for _, name in asked if name not in known)
print(f"classifier agrees with the asked language: {hits}/{n} = {100*hits/n:.1f} % (chance {100/len(per):.1f} %)")
print(f"new names (not in names.tsv): {new}/{n} = {100*new/n:.1f} %")
PY
