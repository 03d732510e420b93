"""Scores detokenized translations of Multi30k the three ways BENCHMARKS.md reports:

1. sacreBLEU's defaults (13a, cased) against the raw references — what papers report;
2. the same, lowercased;
3. the setup of the PyTorch tutorial series (bentrevett/pytorch-seq2seq, whose attention
   model reports 28.30 on test_2016_flickr, re-implemented by ../shared/bench/seq2seq_multi30k.py):
   hypotheses and references cut by spaCy's rule-based tokenizer (spacy.blank, no model
   download), lowercased, corpus BLEU-4 with tokenize='none' and no smoothing.

    python bench/multi30k_score.py HYPS.txt ../shared/data/multi30k/test_2016_flickr.en.gz --lang en

Prints one JSON line. Needs `sacrebleu spacy`.
"""
import argparse, gzip, json

import sacrebleu
import spacy

p = argparse.ArgumentParser()
p.add_argument("hyps"); p.add_argument("refs"); p.add_argument("--lang", default="en")
a = p.parse_args()
opener = gzip.open if a.refs.endswith(".gz") else open
with opener(a.refs, "rt", encoding="utf-8") as f:
    refs = [l.rstrip("\n") for l in f]
with open(a.hyps, encoding="utf-8") as f:
    hyps = [l.rstrip("\n") for l in f]
assert len(hyps) == len(refs), f"{len(hyps)} hypotheses, {len(refs)} references"
tok = spacy.blank(a.lang).tokenizer
def words(s): return " ".join(t.text.lower() for t in tok(s))
metric = sacrebleu.BLEU()
cased = metric.corpus_score(hyps, [refs])
lower = sacrebleu.corpus_bleu(hyps, [refs], lowercase=True)
tutorial = sacrebleu.corpus_bleu([words(h) for h in hyps], [[words(r) for r in refs]],
                                 tokenize="none", smooth_method="none", force=True)
chrf = sacrebleu.corpus_chrf(hyps, [refs])
print(json.dumps({"sacrebleu_13a": round(cased.score, 2), "sacrebleu_13a_lc": round(lower.score, 2),
                  "tutorial_setup": round(tutorial.score, 2), "chrf2": round(chrf.score, 2),
                  "signature": str(metric.get_signature())}))
