#!/usr/bin/env python3
"""Writes tests/fixtures/sacrebleu_cases.json: sacreBLEU 2.6.0's own results
for BLEU (tokenizers 13a, intl, char, none), chrF and chrF++, and its
tokenizers, on cased Unicode text, for tests/sacrebleu_parity.rs.

Run from the repository root with sacreBLEU 2.6.0 installed:

    python3 -m venv /tmp/sbvenv && /tmp/sbvenv/bin/pip install sacrebleu==2.6.0
    /tmp/sbvenv/bin/python scripts/sacrebleu_cases.py

The `intl` tokenizer's Unicode classes come from the Python `regex` module,
whose version is recorded in the file (its Unicode tables change between
releases). References are Multi30k validation lines (de, fr) and invented
sentences; hypotheses are invented translations with typical errors.

Every case lists all of the metric's constructor arguments in `options`, so
the reader builds its configuration from them alone: BLEU(**options) or
CHRF(**options), then corpus_score(hypotheses, references) (references as
reference streams, one line per hypothesis) or sentence_score(hypothesis,
references).
"""

import json
import platform
import sys
from pathlib import Path

import regex
import sacrebleu
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from sacrebleu.tokenizers.tokenizer_char import TokenizerChar
from sacrebleu.tokenizers.tokenizer_intl import TokenizerV14International

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sacrebleu_cases.json"

# Multi30k val.de lines 2, 3, 7, 13, 17, 20, 27, 32.
DE_REFS = [
    "Ein Mann schläft in einem grünen Raum auf einem Sofa.",
    "Ein Junge mit Kopfhörern sitzt auf den Schultern einer Frau.",
    "Ein brauner Hund rennt dem schwarzen Hund hinterher.",
    "Drei kleine Kinder stehen um ein blau-weißes Fass herum.",
    "Ein halbnackter Mann schläft draußen auf seinem Stuhl.",
    "Drei Mädchen, von denen eines gerade trinkt, stehen in einer belebten Straße und schneiden Grimassen.",
    "Ein süßes Baby lächelt einem anderen Kind zu.",
    "Eine Person überquert die Straße und meidet dabei die ausgelaufene Farbe.",
]
DE_REFS_2 = [
    "Ein Mann liegt schlafend auf einem Sofa in einem grünen Zimmer.",
    "Ein Junge mit Kopfhörern sitzt einer Frau auf den Schultern.",
    "Ein brauner Hund läuft hinter dem schwarzen Hund her.",
    "Drei Kinder stehen rund um ein blau-weißes Fass.",
    "Ein Mann mit nacktem Oberkörper schläft draußen auf einem Stuhl.",
    "Drei Mädchen – eines trinkt gerade – schneiden auf einer belebten Straße Grimassen.",
    "Ein süßes Baby lächelt ein anderes Kind an.",
    "Jemand überquert die Straße und weicht der ausgelaufenen Farbe aus.",
]
DE_HYPS = [
    "Ein Mann schläft in einem grünen Zimmer auf dem Sofa.",
    "Ein Junge mit Kopfhörer sitzt auf der Schulter einer Frau",
    "Ein brauner Hund läuft hinter dem schwarzen Hund her.",
    "Drei kleine Kinder stehen um ein blau-weisses Fass.",
    "Ein halb nackter Mann schläft draussen auf seinem Stuhl.",
    "Drei Mädchen – eines trinkt gerade – stehen auf einer belebten Strasse und ziehen Grimassen.",
    "Ein süßes Baby lächelt ein anderes Kind an.",
    "EINE PERSON ÜBERQUERT DIE STRASSE, meidet die Farbe.",
]

# Multi30k val.fr lines 2, 3, 7, 76, 153, 180, and paraphrases with « », —, ’.
FR_REFS = [
    "Un homme dormant dans une chambre verte sur un canapé.",
    "Un garçon avec un casque est assis sur les épaules d'une femme.",
    "Un chien brun court après le chien noir.",
    "Deux personnes tiennent un grand globe d'environ 4 pieds de diamètre sens dessus dessous, et un enfant semble être en train de sauter sur l'Antarctique.",
    "Il y a 3 personnes jouant avec des instruments de musique et une autre personne semble en train de chanter.",
    "Un 4x4 tente de sortir d'un fossé.",
]
FR_REFS_2 = [
    "Un homme dort sur un canapé dans une pièce verte.",
    "Un garçon — casque sur les oreilles — est assis sur les épaules d’une femme.",
    "Un chien marron poursuit le chien noir.",
    "Deux personnes tiennent un globe d’environ 1,20 m, à l’envers ; un enfant « saute » sur l’Antarctique.",
    "Trois personnes jouent de la musique et une autre semble chanter.",
    "Un véhicule 4x4 essaie de sortir d'un fossé.",
]
FR_HYPS = [
    "Un homme dort dans une chambre verte sur un canapé.",
    "Un garçon avec un casque est assis sur l'épaule d'une femme !",
    "Un chien brun court derrière le chien noir.",
    "Deux personnes tiennent un grand globe d'environ 4 pieds de diamètre à l'envers, et un enfant semble sauter sur l'« Antarctique ».",
    "Il y a 3 personnes qui jouent des instruments de musique — une autre semble chanter.",
    "Un 4 x 4 essaie de sortir d’un fossé.",
]

# Numbers with separators, hyphens, quotes, CJK, emoji, Greek final sigma,
# Turkish dotted capital I (lowercases to two code points).
MIX_REFS = [
    "The price rose 3.5% to $1,000 in 2019.",
    "東京は、今日も晴れです。",
    "Das Café „Zur Post“ öffnet um 8.30 Uhr — täglich!",
    "She said: «C'est la vie» and left 🙂.",
    "A well-known 3-year-old boy plays with 1,000 LEGO bricks.",
    "Ο ΔΡΟΜΟΣ είναι μακρύς.",
    "İstanbul'da 2.500 kişi yürüdü.",
]
MIX_HYPS = [
    "The price rose by 3.5 % to $1.000 in 2019.",
    "東京は今日、晴れです。",
    "Das Cafe \"Zur Post\" öffnet um 8:30 Uhr - täglich!",
    "She said « c'est la vie » and left 🙂🙂.",
    "A well known three-year-old boy is playing with 1,000 Lego bricks.",
    "Ο δρόμος είναι μακρύς",
    "Istanbul'da 2,500 kişi yürüdü.",
]

# A corpus with an empty hypothesis and an empty reference line.
EMPTY_HYPS = ["Ein Hund rennt.", "", "Zwei Männer arbeiten."]
EMPTY_REFS = ["Ein brauner Hund rennt.", "Eine Frau liest.", ""]

DATASETS = {
    "de": (DE_HYPS, [DE_REFS]),
    "de_2refs": (DE_HYPS, [DE_REFS, DE_REFS_2]),
    "fr": (FR_HYPS, [FR_REFS]),
    "fr_2refs": (FR_HYPS, [FR_REFS, FR_REFS_2]),
    "mix": (MIX_HYPS, [MIX_REFS]),
    "empty_lines": (EMPTY_HYPS, [EMPTY_REFS]),
}

# Extra tokenizer inputs: edge cases of each rule.
TOKENIZER_EXTRAS = [
    "in 2019.",
    "a,,b ..x 5.. 5,a a,5",
    "e-mail 9-5 -3 3- (hi) [ok] {x}",
    "&quot;q&quot; &amp; &lt;t&gt; <skipped>",
    "tabs\tand\u00a0nbsp\u3000ideographic  spaces ",
    "٣.٥ and ३,४ and ½·2",
    "¿Qué? ¡Sí! «Oui» “yes” ‘no’ „ja“ ‹x›",
    "100°C ± 2 ≠ 5 € £3 ¥4 ©®™ §7 ¶",
    "👍🏽 family: 👨‍👩‍👧 flags: 🇩🇪🇫🇷",
    "日本語の文章です。「引用」と（括弧）。",
    "x\u2e60y \u20c1 5\U00011de0.\U00011de1 1.\u2e61",
    "",
    " ",
]

BLEU_TOKENIZERS = ["13a", "intl", "char", "none"]


def bleu_options(tokenize, lowercase=False, effective_order=False,
                 smooth_method="exp", smooth_value=None):
    return {
        "tokenize": tokenize,
        "lowercase": lowercase,
        "smooth_method": smooth_method,
        "smooth_value": smooth_value,
        "max_ngram_order": 4,
        "effective_order": effective_order,
    }


def chrf_options(char_order=6, word_order=0, beta=2, lowercase=False,
                 whitespace=False, eps_smoothing=False):
    return {
        "char_order": char_order,
        "word_order": word_order,
        "beta": beta,
        "lowercase": lowercase,
        "whitespace": whitespace,
        "eps_smoothing": eps_smoothing,
    }


def bleu_result(metric, score):
    sig = str(metric.get_signature())
    return {
        "score": score.score,
        "counts": list(score.counts),
        "totals": list(score.totals),
        "precisions": list(score.precisions),
        "bp": score.bp,
        "sys_len": score.sys_len,
        "ref_len": score.ref_len,
        "signature": sig,
        "line": str(score),
        "line_with_signature": score.format(signature=sig),
    }


def chrf_result(metric, score, hyps, refs):
    # The summed [hyp, ref, match] statistics per order, for an exact check
    # of the counting before the floating-point F-score.
    seg_stats = metric._extract_corpus_statistics(hyps, refs)
    stats = [sum(s[i] for s in seg_stats) for i in range(len(seg_stats[0]))]
    sig = str(metric.get_signature())
    return {
        "score": score.score,
        "stats": stats,
        "signature": sig,
        "line": str(score),
        "line_with_signature": score.format(signature=sig),
    }


def corpus_case(metric_name, name, options, data):
    hyps, refs = DATASETS[data]
    case = {"name": name, "metric": metric_name, "level": "corpus",
            "options": options, "hypotheses": hyps, "references": refs}
    if metric_name == "bleu":
        m = BLEU(**options)
        case.update(bleu_result(m, m.corpus_score(hyps, refs)))
    else:
        m = CHRF(**options)
        case.update(chrf_result(m, m.corpus_score(hyps, refs), hyps, refs))
    return case


def sentence_case(metric_name, name, options, hyp, refs):
    case = {"name": name, "metric": metric_name, "level": "sentence",
            "options": options, "hypothesis": hyp, "references": refs}
    if metric_name == "bleu":
        m = BLEU(**options)
        case.update(bleu_result(m, m.sentence_score(hyp, refs)))
    else:
        m = CHRF(**options)
        score = m.sentence_score(hyp, refs)
        case.update(chrf_result(m, score, [hyp], [[r] for r in refs]))
    return case


def bleu_cases():
    cases = []
    for data in ["de", "de_2refs", "fr_2refs", "mix"]:
        for tok in BLEU_TOKENIZERS:
            for lc in [False, True]:
                name = f"{data}_{tok}" + ("_lc" if lc else "")
                cases.append(corpus_case("bleu", name, bleu_options(tok, lc), data))
    for tok in ["intl", "char"]:
        cases.append(corpus_case("bleu", f"fr_{tok}", bleu_options(tok), "fr"))
        cases.append(corpus_case("bleu", f"empty_lines_{tok}", bleu_options(tok), "empty_lines"))
        cases.append(corpus_case("bleu", f"mix_{tok}_effective_order",
                                 bleu_options(tok, effective_order=True), "mix"))
    for method, value in [("floor", None), ("add-k", 1), ("none", None)]:
        cases.append(corpus_case("bleu", f"mix_intl_smooth_{method}",
                                 bleu_options("intl", smooth_method=method, smooth_value=value), "mix"))
    # Sentence level with sentence_bleu's defaults (effective order on).
    picks = [(MIX_HYPS[i], [MIX_REFS[i]], f"mix{i}") for i in range(len(MIX_HYPS))]
    picks += [(DE_HYPS[i], [DE_REFS[i], DE_REFS_2[i]], f"de{i}_2refs") for i in (0, 5, 7)]
    picks += [(FR_HYPS[i], [FR_REFS[i], FR_REFS_2[i]], f"fr{i}_2refs") for i in (1, 3)]
    picks += [("", [DE_REFS[6]], "empty_hyp"), ("Ein Hund.", [""], "empty_ref")]
    for hyp, refs, tag in picks:
        for tok in BLEU_TOKENIZERS:
            for lc in [False, True] if tag.startswith("mix") else [False]:
                name = f"sent_{tag}_{tok}" + ("_lc" if lc else "")
                cases.append(sentence_case("bleu", name,
                                           bleu_options(tok, lc, effective_order=True), hyp, refs))
    return cases


def chrf_cases():
    cases = []
    for data in ["de", "de_2refs", "fr", "fr_2refs", "mix", "empty_lines"]:
        for word_order in [0, 2]:
            for lc in [False, True]:
                name = f"{data}_{'chrf++' if word_order else 'chrf'}" + ("_lc" if lc else "")
                cases.append(corpus_case("chrf", name, chrf_options(word_order=word_order, lowercase=lc), data))
    variants = {
        "eps": chrf_options(eps_smoothing=True),
        "eps++": chrf_options(word_order=2, eps_smoothing=True),
        "whitespace": chrf_options(whitespace=True),
        "beta1": chrf_options(beta=1),
        "beta3_nc4_nw1": chrf_options(char_order=4, word_order=1, beta=3),
        "words_only": chrf_options(char_order=0, word_order=2),
    }
    for tag, opts in variants.items():
        for data in ["mix", "fr_2refs", "empty_lines"]:
            cases.append(corpus_case("chrf", f"{data}_{tag}", opts, data))
    picks = [(MIX_HYPS[i], [MIX_REFS[i]], f"mix{i}") for i in range(len(MIX_HYPS))]
    picks += [(DE_HYPS[i], [DE_REFS[i], DE_REFS_2[i]], f"de{i}_2refs") for i in range(len(DE_HYPS))]
    picks += [(FR_HYPS[i], [FR_REFS_2[i], FR_REFS[i]], f"fr{i}_2refs") for i in (1, 3, 5)]
    picks += [("", [DE_REFS[6]], "empty_hyp"), ("", [DE_REFS[6], DE_REFS_2[6]], "empty_hyp_2refs"),
              ("Ein Hund.", [""], "empty_ref"), ("", [""], "both_empty"),
              ("ab", ["abx", "xab"], "tied_refs")]
    for hyp, refs, tag in picks:
        for word_order in [0, 2]:
            for lc in [False, True]:
                name = f"sent_{tag}_{'chrf++' if word_order else 'chrf'}" + ("_lc" if lc else "")
                cases.append(sentence_case("chrf", name, chrf_options(word_order=word_order, lowercase=lc), hyp, refs))
        cases.append(sentence_case("chrf", f"sent_{tag}_eps", chrf_options(eps_smoothing=True), hyp, refs))
    return cases


def tokenizer_cases():
    tokenizers = {"13a": Tokenizer13a(), "intl": TokenizerV14International(), "char": TokenizerChar()}
    lines = []
    for hyps, streams in DATASETS.values():
        for line in hyps + [r for s in streams for r in s]:
            if line not in lines:
                lines.append(line)
    lines += [x for x in TOKENIZER_EXTRAS if x not in lines]
    return [{"tokenize": name, "input": line, "output": tok(line)}
            for name, tok in tokenizers.items() for line in lines]


def main():
    if sacrebleu.__version__ != "2.6.0":
        sys.exit(f"needs sacrebleu 2.6.0, found {sacrebleu.__version__}")
    doc = {
        "generator": f"sacrebleu {sacrebleu.__version__}, regex {regex.__version__}, "
                     f"Python {platform.python_version()} by scripts/sacrebleu_cases.py",
        "note": "bleu: BLEU(**options); chrf: CHRF(**options); corpus cases score "
                "hypotheses against reference streams (references[j][i] is stream j's "
                "line for hypothesis i), sentence cases one hypothesis against its "
                "references. score is 0..100; chrf stats are the summed [hyp, ref, "
                "match] counts per order (char orders first). tokenizers: the "
                "tokenizer's output for the input line.",
        "tokenizers": tokenizer_cases(),
        "cases": bleu_cases() + chrf_cases(),
    }
    # One case per line: compact, and a regenerated file diffs case by case.
    def dump(x):
        return json.dumps(x, ensure_ascii=False)
    parts = [f" {dump(k)}: {dump(doc[k])}" for k in ("generator", "note")]
    for key in ("tokenizers", "cases"):
        items = ",\n".join(f"  {dump(item)}" for item in doc[key])
        parts.append(f" {dump(key)}: [\n{items}\n ]")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("{\n" + ",\n".join(parts) + "\n}\n", encoding="utf-8")
    n = {m: sum(c["metric"] == m for c in doc["cases"]) for m in ("bleu", "chrf")}
    print(f"wrote {OUT}: {n['bleu']} BLEU, {n['chrf']} chrF cases, "
          f"{len(doc['tokenizers'])} tokenizer cases")


if __name__ == "__main__":
    main()
