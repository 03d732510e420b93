"""Vector files between attend and gensim, both ways, plus attend's evaluation against gensim's.

attend writes a vector file as word2vec text and binary; gensim loads both (vectors must be
bit-identical to each other: attend's text is exact), writes them again in both formats, and
attend reads gensim's files back: the text attend writes from them must equal its own byte for
byte. Then gensim scores the vectors with `evaluate_word_analogies` (restrict_vocab=30000,
case-insensitive) and `evaluate_word_pairs` exactly as ../shared/bench/word2vec_gensim.py does,
and the numbers are compared with `attend embed eval --json`. Ends with one JSON line.

    python bench/word2vec_roundtrip.py --vectors vectors.txt [--attend target/release/attend]
"""
import argparse, gzip, json, logging, os, subprocess, sys, tempfile
import numpy as np
from gensim.models import KeyedVectors

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--vectors", required=True, help="a vector file attend can read")
ap.add_argument("--attend", default=os.path.join("target", "release", "attend"))
ap.add_argument("--data-dir", default=os.path.join("..", "shared", "data"))
ap.add_argument("--no-eval", action="store_true", help="round trip only")
args = ap.parse_args()
tmp = tempfile.mkdtemp(prefix="attend_w2v_roundtrip_")
env = dict(os.environ, ATTEND_DATA_DIR=os.environ.get("ATTEND_DATA_DIR", args.data_dir))

def attend(*a):
    return subprocess.run([args.attend, *a], check=True, capture_output=True, text=True, env=env).stdout

def path(name):
    return os.path.join(tmp, name)

attend("embed", "convert", args.vectors, path("attend.txt"), "--to", "text")
attend("embed", "convert", args.vectors, path("attend.bin"), "--to", "binary")
kt = KeyedVectors.load_word2vec_format(path("attend.txt"), binary=False)
kb = KeyedVectors.load_word2vec_format(path("attend.bin"), binary=True)
assert kt.index_to_key == kb.index_to_key, "gensim reads different words from attend's text and binary files"
assert np.array_equal(kt.vectors.view(np.uint32), kb.vectors.view(np.uint32)), \
    "gensim reads different floats from attend's text and binary files"

kt.save_word2vec_format(path("gensim.txt"), binary=False)
kb.save_word2vec_format(path("gensim.bin"), binary=True)
attend("embed", "convert", path("gensim.txt"), path("back-from-text.txt"), "--to", "text")
attend("embed", "convert", path("gensim.bin"), path("back-from-binary.txt"), "--to", "text")
mine = open(path("attend.txt"), "rb").read()
for back in ("back-from-text.txt", "back-from-binary.txt"):
    assert open(path(back), "rb").read() == mine, f"attend reads gensim's file differently: {back}"
res = dict(script="word2vec_roundtrip", words=len(kt), dim=kt.vector_size, roundtrip="identical", out=tmp)

if not args.no_eval:
    logging.getLogger("gensim").setLevel(logging.WARNING)
    score, sections = kt.evaluate_word_analogies(os.path.join(args.data_dir, "questions-words.txt.gz"),
                                                 restrict_vocab=30000, case_insensitive=True)
    ours = json.loads(attend("embed", "eval", "--vectors", path("attend.txt"), "--json"))
    res["analogy_accuracy"] = dict(gensim=round(score, 6), attend=round(ours["analogy_accuracy"], 6))
    SIM = {"wordsim353": ("wordsim353.tsv.gz", "\t", 2), "simlex999": ("simlex999.tsv.gz", "\t", 3),
           "men3000": ("men3000.txt.gz", " ", 2)}
    for name, (fn, sep, col) in SIM.items():
        rows = []
        for line in gzip.open(os.path.join(args.data_dir, fn), "rt", encoding="utf-8").read().splitlines():
            f = line.strip().split(sep)
            try: rows.append(f"{f[0]}\t{f[1]}\t{float(f[col])}")
            except (ValueError, IndexError): pass
        open(path(name + ".tsv"), "w").write("\n".join(rows) + "\n")
        pearson, spearman, oov = kt.evaluate_word_pairs(path(name + ".tsv"), delimiter="\t", case_insensitive=True)
        res[name] = dict(gensim=dict(spearman=round(float(spearman[0]), 6), oov_percent=round(float(oov), 4)),
                         attend=dict(spearman=round(ours[name]["spearman"], 6),
                                     oov_percent=round(ours[name]["oov_percent"], 4)))
    same = abs(score - ours["analogy_accuracy"]) < 1e-9 and all(
        abs(res[n]["gensim"]["spearman"] - res[n]["attend"]["spearman"]) < 1e-4 for n in SIM)
    res["evaluation"] = "same" if same else "DIFFERENT"
print(json.dumps(res), flush=True)
sys.exit(0 if res.get("evaluation", "same") == "same" else 1)
