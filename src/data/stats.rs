//! `attend data stats`: what a dataset holds before training on it — rows read
//! and kept, vocabulary sizes, a length histogram. With the tutorial pipeline
//! on (normalizeString, the lesson's filter, `Lang` counting SOS and EOS) it
//! reproduces the PyTorch seq2seq lesson's numbers for eng-fra.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

use super::corpus::CorpusReader;
use super::filter::{PairFilter, PairFilterConfig, fits};
use super::inline_labels::read_inline;
use super::labelled::{self, BadRows};
use super::pairs::{self, Pair};
use super::registry::DataFormat;
use super::source::open;
use crate::error::{Error, Result};
use crate::text::{Normalizer, Specials, normalize_string};

/// Options of [`stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsConfig {
    /// Pairs only: the lesson's pipeline (normalizeString, `filterPair` with
    /// the English prefixes, words split on `' '`, vocabularies counting
    /// SOS/EOS) instead of the Unicode-preserving [`Normalizer`].
    pub tutorial: bool,
    /// Pairs only: swap the columns (eng-fra → fra→eng), as the lesson does.
    pub reverse: bool,
    /// Keep only examples of at most this many tokens per side; with
    /// `tutorial`, the lesson's `MAX_LENGTH` instead (strictly fewer words).
    pub max_len: Option<usize>,
}

/// A length histogram: `counts[k]` examples have lengths in
/// `[k * bin_width, (k + 1) * bin_width)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    /// Width of each bin, in tokens.
    pub bin_width: usize,
    /// Examples per bin.
    pub counts: Vec<u64>,
    /// Shortest length.
    pub min: usize,
    /// Longest length.
    pub max: usize,
    /// Mean length.
    pub mean: f64,
}

impl Histogram {
    /// At most this many bins.
    pub const MAX_BINS: usize = 20;

    /// From `by_len[l]` = number of examples of length `l`; `None` when empty.
    pub fn from_counts(by_len: &[u64]) -> Option<Self> {
        let total: u64 = by_len.iter().sum();
        if total == 0 {
            return None;
        }
        let min = by_len.iter().position(|&c| c > 0)?;
        let max = by_len.iter().rposition(|&c| c > 0)?;
        let sum: u64 = by_len.iter().enumerate().map(|(l, &c)| l as u64 * c).sum();
        // 1, 2, 5, 10, 20, 50, … so bin edges read as round numbers.
        let mut decade = 1usize;
        let bin_width = 'search: loop {
            for m in [1, 2, 5] {
                let w = decade.saturating_mul(m);
                if max / w < Self::MAX_BINS {
                    break 'search w;
                }
            }
            decade = decade.saturating_mul(10);
        };
        let mut counts = vec![0; max / bin_width + 1];
        for (l, &c) in by_len.iter().enumerate() {
            counts[l / bin_width] += c;
        }
        Some(Histogram {
            bin_width,
            counts,
            min,
            max,
            mean: sum as f64 / total as f64,
        })
    }
}

/// Numbers about one side (a pair column, or the text of labelled rows).
#[derive(Clone, Debug, PartialEq)]
pub struct SideStats {
    /// Side name ("eng", "fra", "text", "words").
    pub name: String,
    /// Vocabulary size, specials included.
    pub vocab: usize,
    /// How many of `vocab` are special tokens.
    pub specials: usize,
    /// Tokens in kept examples.
    pub tokens: u64,
    /// Lengths of kept examples; `None` for a corpus.
    pub lengths: Option<Histogram>,
}

/// What [`stats`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    /// What was counted: "pairs", "rows" or "words".
    pub unit: &'static str,
    /// Units read.
    pub read: u64,
    /// Units kept by the filters.
    pub kept: u64,
    /// One entry per side.
    pub sides: Vec<SideStats>,
    /// Labelled data: each label and its count among kept rows, most frequent first.
    pub labels: Vec<(String, u64)>,
}

#[derive(Default)]
struct Side {
    vocab: HashSet<String>,
    tokens: u64,
    by_len: Vec<u64>,
}

impl Side {
    fn add<'a>(&mut self, words: impl Iterator<Item = &'a str>) {
        let mut n = 0;
        for w in words {
            n += 1;
            if !self.vocab.contains(w) {
                self.vocab.insert(w.to_string());
            }
        }
        self.tokens += n as u64;
        if self.by_len.len() <= n {
            self.by_len.resize(n + 1, 0);
        }
        self.by_len[n] += 1;
    }

    fn finish(self, name: &str, specials: usize) -> SideStats {
        SideStats {
            name: name.to_string(),
            vocab: self.vocab.len() + specials,
            specials,
            tokens: self.tokens,
            lengths: Histogram::from_counts(&self.by_len),
        }
    }
}

/// Reads a whole stream and counts. Options that do not apply to the format
/// (`tutorial` on a corpus, say) are an [`Error::Config`].
pub fn stats(input: impl BufRead, format: &DataFormat, cfg: &StatsConfig) -> Result<Stats> {
    let only_pairs = |what: &str| Error::Config(format!("{what} applies to sentence pairs only"));
    match format {
        DataFormat::Pairs(names) => pair_stats(input, names, cfg),
        _ if cfg.tutorial => Err(only_pairs("the tutorial filter")),
        _ if cfg.reverse => Err(only_pairs("--reverse")),
        DataFormat::Labelled(f) => {
            let rows = labelled::reader(input, f)?.map(|ex| ex.map(|e| (e.text, e.label)));
            labelled_stats(rows, cfg)
        }
        DataFormat::Inline(f) => {
            let rows = read_inline(input, *f, BadRows::Error)?.examples;
            labelled_stats(rows.into_iter().map(|e| Ok(e.into_first_label())), cfg)
        }
        // Analogy and similarity sets are counted as plain words.
        DataFormat::Corpus | DataFormat::Analogy | DataFormat::Similarity
            if cfg.max_len.is_some() =>
        {
            Err(Error::Config(
                "a maximum length applies to pairs and labelled rows, not to a corpus".into(),
            ))
        }
        DataFormat::Corpus | DataFormat::Analogy | DataFormat::Similarity => corpus_stats(input),
    }
}

/// [`stats`] of the file at `path` (gzip or plain).
pub fn stats_path(path: &Path, format: &DataFormat, cfg: &StatsConfig) -> Result<Stats> {
    stats(open(path)?, format, cfg).map_err(|e| e.at_path(path))
}

fn pair_stats(input: impl BufRead, names: &[String; 2], cfg: &StatsConfig) -> Result<Stats> {
    let normalizer = Normalizer::default();
    let filter = PairFilter::new(&PairFilterConfig {
        tutorial: cfg.tutorial,
        reverse: cfg.reverse,
        max_len: cfg.max_len,
    });
    let (mut src, mut tgt) = (Side::default(), Side::default());
    let (mut read, mut kept) = (0, 0);
    for pair in pairs::reader(input) {
        let pair = pair?;
        read += 1;
        let mut p = if cfg.tutorial {
            Pair::new(normalize_string(&pair.src), normalize_string(&pair.tgt))
        } else {
            Pair::new(
                normalizer.normalize(&pair.src),
                normalizer.normalize(&pair.tgt),
            )
        };
        if cfg.reverse {
            p = p.reversed();
        }
        if !filter.keep(&p) {
            continue;
        }
        if cfg.tutorial {
            // The lesson's Lang.addSentence splits on ' '.
            src.add(p.src.split(' '));
            tgt.add(p.tgt.split(' '));
        } else {
            src.add(p.src.split_whitespace());
            tgt.add(p.tgt.split_whitespace());
        }
        kept += 1;
    }
    let specials = if cfg.tutorial {
        Specials::tutorial()
    } else {
        Specials::standard()
    };
    let n = specials.0.len();
    let (a, b) = if cfg.reverse {
        (&names[1], &names[0])
    } else {
        (&names[0], &names[1])
    };
    Ok(Stats {
        unit: "pairs",
        read,
        kept,
        sides: vec![src.finish(a, n), tgt.finish(b, n)],
        labels: Vec::new(),
    })
}

/// Counts labelled rows given as `(text, label)` (a fastText line under
/// its first label).
fn labelled_stats(
    rows: impl Iterator<Item = Result<(String, String)>>,
    cfg: &StatsConfig,
) -> Result<Stats> {
    let normalizer = Normalizer::default();
    let mut text = Side::default();
    let mut labels: Vec<(String, u64)> = Vec::new();
    let mut label_ids: HashMap<String, usize> = HashMap::new();
    let (mut read, mut kept) = (0, 0);
    for row in rows {
        let (ex_text, label) = row?;
        read += 1;
        let t = normalizer.normalize(&ex_text);
        if !fits(&t, cfg.max_len) {
            continue;
        }
        kept += 1;
        text.add(t.split_whitespace());
        let next = labels.len();
        let id = *label_ids.entry(label.clone()).or_insert(next);
        if id == next {
            labels.push((label, 0));
        }
        labels[id].1 += 1;
    }
    // Stable: equal counts stay in order of first appearance.
    labels.sort_by_key(|l| std::cmp::Reverse(l.1));
    Ok(Stats {
        unit: "rows",
        read,
        kept,
        sides: vec![text.finish("text", Specials::standard().0.len())],
        labels,
    })
}

fn corpus_stats(input: impl BufRead) -> Result<Stats> {
    let mut reader = CorpusReader::new(input);
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut words = 0;
    while let Some(w) = reader.next_word()? {
        words += 1;
        match counts.get_mut(w) {
            Some(c) => *c += 1,
            None => {
                counts.insert(w.to_string(), 1);
            }
        }
    }
    Ok(Stats {
        unit: "words",
        read: words,
        kept: words,
        sides: vec![SideStats {
            name: "words".into(),
            vocab: counts.len(),
            specials: 0,
            tokens: words,
            lengths: None,
        }],
        labels: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Column, Delimiter, LabelledFormat};

    const PAIRS: &str =
        "I am cold.\tJ'ai froid.\nIt is a cat.\tC'est un chat.\nHe's tall!\tIl est grand !\n";

    fn names() -> DataFormat {
        DataFormat::Pairs(["eng".into(), "fra".into()])
    }

    #[test]
    fn tutorial_pipeline_counts_like_lang() {
        let cfg = StatsConfig {
            tutorial: true,
            reverse: true,
            max_len: None,
        };
        let s = stats(PAIRS.as_bytes(), &names(), &cfg).unwrap();
        assert_eq!((s.read, s.kept), (3, 2));
        assert_eq!(s.sides[0].name, "fra");
        // fra: j ai froid . il est grand ! = 8 words + SOS/EOS.
        assert_eq!(s.sides[0].vocab, 10);
        // eng: i am cold . he s tall ! = 8 words + SOS/EOS.
        assert_eq!(s.sides[1].vocab, 10);
        let h = s.sides[1].lengths.as_ref().unwrap();
        assert_eq!((h.min, h.max, h.bin_width), (4, 4, 1));
        assert_eq!(h.counts[4], 2);
    }

    #[test]
    fn default_pipeline_and_options_that_do_not_apply() {
        let cfg = StatsConfig {
            max_len: Some(5),
            ..Default::default()
        };
        let s = stats(PAIRS.as_bytes(), &names(), &cfg).unwrap();
        // "c ' est un chat ." has 6 tokens once punctuation is split off.
        assert_eq!((s.read, s.kept), (3, 2));
        assert_eq!(s.sides[0].specials, 4);
        let tut = StatsConfig {
            tutorial: true,
            ..Default::default()
        };
        assert!(matches!(
            stats(&b"a b"[..], &DataFormat::Corpus, &tut),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn labelled_and_corpus() {
        let f = DataFormat::Labelled(LabelledFormat {
            delimiter: Delimiter::Csv,
            header: true,
            text: vec![Column::Name("X".into())],
            label: Column::Name("y".into()),
        });
        let data = "y,X\nWorld,a b\nSports,c\nWorld,a\n";
        let s = stats(data.as_bytes(), &f, &StatsConfig::default()).unwrap();
        assert_eq!((s.unit, s.read, s.kept), ("rows", 3, 3));
        assert_eq!(
            s.labels,
            [("World".to_string(), 2), ("Sports".to_string(), 1)]
        );
        assert_eq!(s.sides[0].vocab, 3 + 4);
        let s = stats(
            &b" the cat the\n dog "[..],
            &DataFormat::Corpus,
            &StatsConfig::default(),
        )
        .unwrap();
        assert_eq!((s.read, s.sides[0].vocab), (4, 3));
    }

    #[test]
    fn histogram_bins_are_round() {
        let mut by_len = vec![0u64; 101];
        by_len[3] = 2;
        by_len[100] = 1;
        let h = Histogram::from_counts(&by_len).unwrap();
        assert_eq!(h.bin_width, 10);
        assert_eq!(h.counts.len(), 11);
        assert_eq!((h.counts[0], h.counts[10]), (2, 1));
        assert!((h.mean - 106.0 / 3.0).abs() < 1e-12);
        assert!(Histogram::from_counts(&[0, 0]).is_none());
    }
}
