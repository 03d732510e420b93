#!/usr/bin/env bash
# The sentence-classification benchmarks (BENCHMARKS.md, "Sentence classification"):
# SST-2 and SST-1 trained on their official training file, selected on dev and
# scored once on their test file; MR and Subj by 10-fold cross-validation. Two
# runs go side by side at one thread each (2 cores); every flag in ARGS goes to
# each run.
#
#   bench/sentences.sh                                   # the defaults, from scratch
#   ARGS="--embeddings text8.300.bin" bench/sentences.sh  # word2vec vectors (non-static)
#   ARGS="--init-from-lm text8-lm" bench/sentences.sh     # an `attend lm` model's encoder
#   SETS="sst2 sst1" ARGS="--autotune 10" bench/sentences.sh
#
# Prints one line per set: test accuracy (SST) or the cross-validation's mean ± std.
set -euo pipefail
cd "$(dirname "$0")/.."
export ATTEND_DATA_DIR=${ATTEND_DATA_DIR:-$(cd ../shared/data && pwd)}
OUT=${OUT:-$(mktemp -d /tmp/attend-sentences-XXXXXX)}
SETS=${SETS:-"sst2 sst1 mr subj"}
FOLDS=${FOLDS:-10}
mkdir -p "$OUT"
echo "results in $OUT" >&2
cargo build --release --quiet
BIN=target/release/attend

run_set() {
  local set=$1 start end
  start=$(date +%s)
  case "$set" in
    sst2 | sst1)
      # shellcheck disable=SC2086
      "$BIN" --threads 1 classify train --data "$set" ${ARGS:-} --out "$OUT/$set" > "$OUT/$set.log" 2>&1
      end=$(date +%s)
      "$BIN" classify eval --model "$OUT/$set" --json > "$OUT/$set.test.json"
      python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f'{sys.argv[2]}: test accuracy {100*r[\"accuracy\"]:.2f} %, macro F1 {100*r[\"macro\"][\"f1\"]:.2f} % ({sys.argv[3]} s)')" \
        "$OUT/$set.test.json" "$set" "$((end - start))"
      ;;
    *)
      # shellcheck disable=SC2086
      "$BIN" --threads 1 classify cv --data "$set" --folds "$FOLDS" ${ARGS:-} --out "$OUT/$set" \
        > "$OUT/$set.table" 2> "$OUT/$set.log"
      end=$(date +%s)
      echo "$set: $(tail -n 1 "$OUT/$set.table") ($((end - start)) s)"
      ;;
  esac
}

# Two at a time, one thread each.
set -- $SETS
while (($#)); do
  run_set "$1" &
  if (($# > 1)); then run_set "$2" & fi
  wait
  shift $(($# > 1 ? 2 : 1))
done
