//! Intrinsic evaluations, defined as gensim's `evaluate_word_analogies` and
//! `evaluate_word_pairs` define them so scores compare one to one:
//!
//! - **Analogies** (Mikolov et al., 2013, `questions-words.txt`): `a b c d`
//!   asks for `d` from `b − a + c` by 3CosAdd; only questions whose four
//!   words are among the 30,000 most frequent (case-insensitively, the most
//!   frequent casing standing for a word) count; the answer is the best word
//!   other than `a`, `b`, `c`. Accuracy per section, for the semantic and
//!   syntactic (`gram*`) groups, and overall.
//! - **Similarity** (WordSim-353, SimLex-999, MEN-3000): Spearman's ρ (and
//!   Pearson's r) between human scores and cosine similarities over the pairs
//!   whose words are both known (among the 300,000 most frequent); the
//!   out-of-vocabulary percentage is reported beside it.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde::Serialize;

use crate::data::vectors::{AnalogyMethod, Embeddings};
use crate::data::{TextLines, open};
use crate::error::{Error, Result, Source};
use crate::metrics::correlation::{pearson, spearman};

/// Analogy questions are scored among this many most frequent words.
pub const ANALOGY_RESTRICT: usize = 30_000;
/// Similarity pairs are looked up among this many most frequent words.
pub const SIMILARITY_RESTRICT: usize = 300_000;

/// One section of an analogy set.
#[derive(Clone, Debug)]
pub struct Section {
    /// Its name (`capital-common-countries`, …).
    pub name: String,
    /// Questions `[a, b, c, d]`.
    pub questions: Vec<[String; 4]>,
}

/// Reads the analogy set at `path` (plain or gzip); errors name it.
pub fn load_analogies(path: &Path) -> Result<Vec<Section>> {
    read_analogies(open(path)?).map_err(|e| e.at_path(path))
}

/// Reads the similarity set at `path` (plain or gzip); errors name it.
pub fn load_similarity(path: &Path) -> Result<SimilaritySet> {
    read_similarity(open(path)?).map_err(|e| e.at_path(path))
}

/// Reads an analogy set: `: section` lines, then `a b c d` questions.
pub fn read_analogies(r: impl BufRead) -> Result<Vec<Section>> {
    let mut sections: Vec<Section> = Vec::new();
    for item in TextLines::new(r, "analogy questions (`: section` lines, then `a b c d`)") {
        let (n, line) = item?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix(':') {
            sections.push(Section {
                name: name.trim().to_string(),
                questions: Vec::new(),
            });
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let Ok(q) = <[&str; 4]>::try_from(words.as_slice()) else {
            return Err(Error::format(
                Source::stream(),
                Some(n),
                format!("expected four words `a b c d`, found {}", words.len()),
            ));
        };
        if sections.is_empty() {
            sections.push(Section {
                name: "questions".into(),
                questions: Vec::new(),
            });
        }
        if let Some(s) = sections.last_mut() {
            s.questions.push(q.map(String::from));
        }
    }
    Ok(sections)
}

/// Accuracy over a group of questions.
#[derive(Clone, Debug, Serialize)]
pub struct Accuracy {
    /// Correct answers.
    pub correct: usize,
    /// Questions asked (all four words known).
    pub questions: usize,
    /// `correct / questions` (0 when none).
    pub accuracy: f64,
}

impl Accuracy {
    fn new(correct: usize, questions: usize) -> Self {
        Accuracy {
            correct,
            questions,
            accuracy: if questions > 0 {
                correct as f64 / questions as f64
            } else {
                0.0
            },
        }
    }
}

/// Analogy results.
#[derive(Clone, Debug, Serialize)]
pub struct AnalogyReport {
    /// Per section, in file order.
    pub sections: Vec<(String, Accuracy)>,
    /// Sections not named `gram*`.
    pub semantic: Accuracy,
    /// Sections named `gram*`.
    pub syntactic: Accuracy,
    /// All questions.
    pub overall: Accuracy,
    /// Questions skipped for an unknown word.
    pub skipped: usize,
}

/// Case-insensitive lookup among the first `restrict` rows, the most
/// frequent casing winning.
fn folded_vocab(folded: &[String]) -> HashMap<&str, usize> {
    let mut map = HashMap::with_capacity(folded.len());
    for (i, w) in folded.iter().enumerate() {
        map.entry(w.as_str()).or_insert(i);
    }
    map
}

/// The first `limit` words, upper-cased (gensim's case folding).
fn folded(v: &Embeddings, limit: usize) -> Vec<String> {
    v.words()[..limit]
        .iter()
        .map(|w| w.to_uppercase())
        .collect()
}

/// Scores an analogy set.
pub fn analogies(v: &Embeddings, sections: &[Section], restrict: usize) -> Result<AnalogyReport> {
    let limit = v.limit(Some(restrict));
    let folded = folded(v, limit);
    let vocab = folded_vocab(&folded);
    let mut report = AnalogyReport {
        sections: Vec::new(),
        semantic: Accuracy::new(0, 0),
        syntactic: Accuracy::new(0, 0),
        overall: Accuracy::new(0, 0),
        skipped: 0,
    };
    let (mut sem, mut syn) = ((0, 0), (0, 0));
    for s in sections {
        let mut asked: Vec<([usize; 3], usize)> = Vec::new();
        for q in &s.questions {
            let ids: Option<Vec<usize>> = q
                .iter()
                .map(|w| vocab.get(w.to_uppercase().as_str()).copied())
                .collect();
            match ids {
                Some(ids) => asked.push(([ids[0], ids[1], ids[2]], ids[3])),
                None => report.skipped += 1,
            }
        }
        let mut correct = 0;
        // Batches keep the score matrix at a few tens of MB.
        for chunk in asked.chunks(512) {
            let qs: Vec<[usize; 3]> = chunk.iter().map(|(q, _)| *q).collect();
            let scores = v.analogy_scores(&qs, AnalogyMethod::CosAdd, limit)?;
            for ((q, want), row) in chunk.iter().zip(scores.chunks_exact(limit)) {
                // gensim takes the best of the top five whose folded form
                // is not a question word (another casing of one, say).
                let ignore = q.map(|i| folded[i].as_str());
                let top = v.top(row, 5, q);
                let answer = top
                    .iter()
                    .map(|n| n.word.to_uppercase())
                    .find(|w| !ignore.contains(&w.as_str()));
                if answer.as_deref() == Some(folded[*want].as_str()) {
                    correct += 1;
                }
            }
        }
        let group = if s.name.starts_with("gram") {
            &mut syn
        } else {
            &mut sem
        };
        group.0 += correct;
        group.1 += asked.len();
        report
            .sections
            .push((s.name.clone(), Accuracy::new(correct, asked.len())));
    }
    report.semantic = Accuracy::new(sem.0, sem.1);
    report.syntactic = Accuracy::new(syn.0, syn.1);
    report.overall = Accuracy::new(sem.0 + syn.0, sem.1 + syn.1);
    Ok(report)
}

/// A word-similarity set: pairs with a human score.
#[derive(Clone, Debug, Default)]
pub struct SimilaritySet {
    /// `(w1, w2, score)`.
    pub pairs: Vec<(String, String, f64)>,
}

/// Reads a similarity set: `w1 w2 score` per line, tab- or space-separated;
/// a header line (a non-numeric score) is skipped, and names the score
/// column when one is called `SimLex999` (the original SimLex file);
/// `#` lines are comments.
pub fn read_similarity(r: impl BufRead) -> Result<SimilaritySet> {
    let mut set = SimilaritySet::default();
    let mut column = 2usize;
    let mut first = true;
    for item in TextLines::new(r, "word pairs with a score (`w1 w2 score`)") {
        let (n, line) = item?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = if line.contains('\t') {
            line.split('\t').map(str::trim).collect()
        } else {
            line.split_whitespace().collect()
        };
        let score = fields.get(column).map(|f| f.parse::<f64>());
        match score {
            Some(Ok(s)) if fields.len() >= 3 => {
                set.pairs
                    .push((fields[0].to_string(), fields[1].to_string(), s));
            }
            _ if first => {
                if let Some(c) = fields
                    .iter()
                    .position(|f| f.eq_ignore_ascii_case("simlex999"))
                {
                    column = c;
                }
            }
            _ => {
                return Err(Error::format(
                    Source::stream(),
                    Some(n),
                    format!(
                        "expected `word word score` with a number in column {}, found {line:?}",
                        column + 1
                    ),
                ));
            }
        }
        first = false;
    }
    Ok(set)
}

/// Similarity results.
#[derive(Clone, Debug, Serialize)]
pub struct SimilarityReport {
    /// Spearman's ρ over the known pairs.
    pub spearman: f64,
    /// Pearson's r over the known pairs.
    pub pearson: f64,
    /// Pairs in the set.
    pub pairs: usize,
    /// Percentage of pairs with an unknown word (skipped).
    pub oov_percent: f64,
}

/// Scores a similarity set.
pub fn similarity(v: &Embeddings, set: &SimilaritySet, restrict: usize) -> SimilarityReport {
    let folded = folded(v, v.limit(Some(restrict)));
    let vocab = folded_vocab(&folded);
    let (mut gold, mut model) = (Vec::new(), Vec::new());
    for (a, b, s) in &set.pairs {
        let (a, b) = (a.to_uppercase(), b.to_uppercase());
        if let (Some(&i), Some(&j)) = (vocab.get(a.as_str()), vocab.get(b.as_str())) {
            gold.push(*s);
            model.push(f64::from(v.cosine(i, j)));
        }
    }
    let n = set.pairs.len();
    SimilarityReport {
        spearman: spearman(&gold, &model),
        pearson: pearson(&gold, &model),
        pairs: n,
        oov_percent: if n > 0 {
            (n - gold.len()) as f64 * 100.0 / n as f64
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_parse_the_shipped_layouts() {
        let a = read_analogies(&b": capitals\nAthens Greece Oslo Norway\n: gram1\na b c d\n"[..])
            .unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].questions[0][3], "Norway");
        let e = read_analogies(&b": s\na b c\n"[..])
            .unwrap_err()
            .to_string();
        assert_eq!(e, "<input>:2: expected four words `a b c d`, found 3");

        let ws =
            read_similarity(&b"Word 1\tWord 2\tHuman (mean)\r\nlove\tsex\t6.77\r\n"[..]).unwrap();
        assert_eq!(ws.pairs, [("love".into(), "sex".into(), 6.77)]);
        let sl =
            read_similarity(&b"word1\tword2\tPOS\tSimLex999\tconc\nold\tnew\tA\t1.58\t2.7\n"[..])
                .unwrap();
        assert_eq!(sl.pairs, [("old".into(), "new".into(), 1.58)]);
        let men = read_similarity(&b"word1 word2 score\nsun sunlight 50.0\n"[..]).unwrap();
        assert_eq!(men.pairs.len(), 1);
        let e = read_similarity(&b"a b 1\nc d x\n"[..])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("<input>:2: expected `word word score`"),
            "{e}"
        );
    }

    #[test]
    fn analogy_accuracy_counts_known_questions_only() {
        let words = ["king", "queen", "man", "woman", "apple"]
            .map(String::from)
            .to_vec();
        #[rustfmt::skip]
        let data = vec![1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, -1.0, 0.2, 0.2];
        let v = Embeddings::new(words, 3, data).unwrap();
        let sets = read_analogies(
            &b": family\nMan King Woman Queen\nman king woman apple\nman king pear queen\n"[..],
        )
        .unwrap();
        let r = analogies(&v, &sets, 30_000).unwrap();
        assert_eq!(
            (r.overall.correct, r.overall.questions, r.skipped),
            (1, 2, 1)
        );
        assert_eq!(r.semantic.questions, 2);
        assert_eq!(r.syntactic.questions, 0);
        // Restricted to four words, "apple" questions are unknown.
        let r = analogies(&v, &sets, 4).unwrap();
        assert_eq!((r.overall.questions, r.skipped), (1, 2));

        let set = read_similarity(&b"king queen 9\nman woman 7\nking apple 1\nking zebra 5\n"[..])
            .unwrap();
        let s = similarity(&v, &set, 300_000);
        assert_eq!(s.pairs, 4);
        assert!((s.oov_percent - 25.0).abs() < 1e-12);
        assert!(s.spearman.is_finite());
    }
}
