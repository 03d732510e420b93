#!/usr/bin/env bash
# word2vec side by side with gensim (issue 5): ../shared/bench/word2vec_gensim.py and
# `attend embed train` with the same flags on the same machine, one after the other —
# text8, 100 dims, window 5, 5 negatives, sample 1e-3, min-count 5, 5 epochs, alpha 0.025
# (gensim's default for both models; its min_alpha 1e-4 is passed to attend too), THREADS
# threads (default 2) — for skip-gram and CBOW and every seed in SEEDS (default "1 2 3":
# Hogwild runs differ from run to run, so one run per side says little). attend's vectors are
# scored by `attend embed eval`, which computes gensim's evaluations (bench/word2vec_roundtrip.py
# checks that on the same file). Prints one table and the means; raw JSON lines in $OUT.
#
#   PYTHON=/path/to/venv/bin/python bench/word2vec.sh          # ~25 min on 2 cores
#   SEEDS=1 MODELS=cbow bench/word2vec.sh                       # one CBOW pair (~2 min)
# Run it on a quiet machine: words/s are wall-clock.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
THREADS=${THREADS:-2}
SEEDS=${SEEDS:-1 2 3}
MODELS=${MODELS:-skipgram cbow}
OUT=${OUT:-$(mktemp -d /tmp/attend-word2vec-XXXXXX)}
export ATTEND_DATA_DIR=${ATTEND_DATA_DIR:-../shared/data}
mkdir -p "$OUT"
cargo build --release --quiet
BIN=target/release/attend
for model in $MODELS; do
  sg=$([[ $model == skipgram ]] && echo 1 || echo 0)
  for seed in $SEEDS; do
    "$PY" ../shared/bench/word2vec_gensim.py --sg "$sg" --threads "$THREADS" --seed "$seed" \
      --out "$OUT/gensim-$model-$seed" 2> "$OUT/gensim-$model-$seed.log" >> "$OUT/gensim.jsonl"
    rm -f "$OUT/gensim-$model-$seed/vectors.txt"
    "$BIN" --threads "$THREADS" --seed "$seed" embed train --corpus text8 --model "$model" \
      --size 100 --window 5 --negative 5 --sample 1e-3 --min-count 5 --epochs 5 \
      --alpha 0.025 --min-alpha 0.0001 --out "$OUT/attend-$model-$seed.txt" --json \
      > "$OUT/attend-train-$model-$seed.json"
    "$BIN" embed eval --vectors "$OUT/attend-$model-$seed.txt" --json > "$OUT/attend-eval-$model-$seed.json"
    python3 - "$OUT/attend-train-$model-$seed.json" "$OUT/attend-eval-$model-$seed.json" \
      >> "$OUT/attend.jsonl" <<'PYEOF'
import json, sys
t, e = (json.load(open(p)) for p in sys.argv[1:3])
print(json.dumps({**t, **e}))
PYEOF
    [[ $seed == "${SEEDS%% *}" ]] || rm -f "$OUT/attend-$model-$seed.txt"
  done
done
python3 - "$OUT/gensim.jsonl" "$OUT/attend.jsonl" <<'EOF'
import json, sys, statistics as st
g = [json.loads(l) for l in open(sys.argv[1])]
a = [json.loads(l) for l in open(sys.argv[2])]
print(f"{'model':<9} {'seed':>4} {'gensim acc':>10} {'attend acc':>10} {'gensim w/s':>11} {'attend w/s':>11} {'speed-up':>8}"
      f" {'ws353 g/a':>11} {'simlex g/a':>11} {'men g/a':>11}")
for model, sg in (("skipgram", 1), ("cbow", 0)):
    gs = [r for r in g if r["sg"] == sg]; ats = [r for r in a if r["model"] == model]
    for gr, ar in zip(gs, ats):
        sim = lambda n: f"{gr['similarity'][n]['spearman']:.3f}/{ar[n]['spearman']:.3f}"
        print(f"{model:<9} {ar['seed']:>4} {100*gr['analogy_accuracy']:>9.2f}% {100*ar['analogy_accuracy']:>9.2f}% "
              f"{gr['effective_words_per_second']:>11.0f} {ar['effective_words_per_second']:>11.0f} "
              f"{ar['effective_words_per_second']/gr['effective_words_per_second']:>7.2f}x "
              f"{sim('wordsim353'):>11} {sim('simlex999'):>11} {sim('men3000'):>11}")
    if gs and ats:
        m = lambda rs, f: st.mean(f(r) for r in rs)
        ga, aa = m(gs, lambda r: r["analogy_accuracy"]), m(ats, lambda r: r["analogy_accuracy"])
        gw, aw = m(gs, lambda r: r["effective_words_per_second"]), m(ats, lambda r: r["effective_words_per_second"])
        print(f"{model:<9} {'mean':>4} {100*ga:>9.2f}% {100*aa:>9.2f}% {gw:>11.0f} {aw:>11.0f} {aw/gw:>7.2f}x")
print(f"words/s = effective (trained, after subsampling) words per second of training; "
      f"gensim {g[0]['gensim']}, {g[0]['threads']} threads; raw results in {sys.argv[1]} and {sys.argv[2]}")
EOF
