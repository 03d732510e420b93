//! Where a translation run's pairs come from and how they are split: a
//! named dataset or TSV of pairs split at random (the lesson's way), two
//! aligned files per split (`--src/--tgt`, `--valid-src/--valid-tgt`,
//! `--test-src/--test-tgt`), or Multi30k's official splits
//! (`train`/`val`/`test_2016_flickr`, Elliott et al., 2016), which are
//! never split again.
//!
//! The random split shuffles pair indices with Python's
//! `random.Random(seed)` and takes the test set first, then the validation
//! set: with the defaults this is exactly the 1,059-pair test set of the
//! PyTorch reference scripts in `shared/bench`, so their scores and ours are
//! on the same sentences. Only training pairs are length-filtered: a
//! held-out split given as files is scored whole, as published numbers are.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{TextConfig, Tokenization};
use crate::data::{
    Pair, PairFilter, PairFilterConfig, Resolver, lookup, python_shuffled, read_pairs,
    read_parallel,
};
use crate::text::{normalize_string, pig_latin};
use crate::train::ModelDir;
use crate::{Error, Result};

/// The `data` section: which pairs, prepared how, split how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PairDataConfig {
    /// A dataset name (`eng-fra`, `multi30k`, `pig-latin`) or a path to a TSV of pairs;
    /// unused when `src`/`tgt` name the training files.
    pub dataset: String,
    /// Training pairs as two aligned files (line n of one translates line n
    /// of the other; `.gz` is read transparently).
    pub src: Option<PathBuf>,
    /// The target side of `src`.
    pub tgt: Option<PathBuf>,
    /// Validation pairs as two aligned files, instead of a split of the training pairs.
    pub valid_src: Option<PathBuf>,
    /// The target side of `valid_src`.
    pub valid_tgt: Option<PathBuf>,
    /// Test pairs as two aligned files, instead of a split of the training pairs.
    pub test_src: Option<PathBuf>,
    /// The target side of `test_src`.
    pub test_tgt: Option<PathBuf>,
    /// The source language of `multi30k` (`de`, `en` or `fr`; default `de`).
    pub src_lang: Option<String>,
    /// The target language of `multi30k` (default `en`).
    pub tgt_lang: Option<String>,
    /// Swap the columns (the lesson translates French → English).
    pub reverse: bool,
    /// The lesson's pipeline: `normalizeString` and `filterPair` (English
    /// prefixes, fewer than `max_len` words a side).
    pub tutorial_filter: bool,
    /// Longest training sentence kept: the lesson's `MAX_LENGTH` (words <
    /// max_len) with the tutorial filter, else at most `max_len`
    /// whitespace-separated words a side (default [`DEFAULT_MAX_LEN`]);
    /// longer pairs are skipped and counted.
    pub max_len: Option<usize>,
    /// Fraction of pairs held out for the final test (when no test files).
    pub test_fraction: f64,
    /// Fraction of pairs held out for validation (when no validation files).
    pub valid_fraction: f64,
    /// Seed of the split's shuffle (Python's `random.Random(seed)`).
    pub split_seed: u64,
    /// Tokens (learnt words and characters too) seen fewer times in the
    /// training split become `<unk>`.
    pub min_freq: u64,
    /// How text is cut into tokens; unset: the lessons' whitespace tokens
    /// for their data (`eng-fra`, `--tutorial-filter`), characters for
    /// `pig-latin`, BPE for any other.
    pub tokenizer: Option<Tokenization>,
    /// The most pieces a learnt tokeniser has (per language, or in all with
    /// `joint_vocab`).
    pub vocab_size: usize,
    /// One tokeniser and vocabulary for both languages, with the source
    /// and target embeddings shared (and tied to the output layer when
    /// `model.tie_embeddings`).
    pub joint_vocab: bool,
}

impl Default for PairDataConfig {
    fn default() -> Self {
        PairDataConfig {
            dataset: "eng-fra".into(),
            src: None,
            tgt: None,
            valid_src: None,
            valid_tgt: None,
            test_src: None,
            test_tgt: None,
            src_lang: None,
            tgt_lang: None,
            reverse: false,
            tutorial_filter: false,
            max_len: None,
            test_fraction: 0.1,
            valid_fraction: 0.05,
            split_seed: 42,
            min_freq: 1,
            tokenizer: None,
            vocab_size: 8000,
            joint_vocab: false,
        }
    }
}

/// The most words a side of a training pair has unless `data.max_len`
/// says otherwise: longer pairs are skipped (with a count), as OpenNMT's
/// `src_seq_length`/`tgt_seq_length` and JoeyNMT's `max_sent_length` do,
/// since one runaway line (a missing newline, a whole document) would
/// otherwise set the padded size of its batch and the memory of the run.
/// No pair of the bundled datasets is this long.
pub const DEFAULT_MAX_LEN: usize = 100;

/// The largest `data.max_len`: pairs this long already need gigabytes of
/// activations a batch.
pub const MAX_MAX_LEN: usize = 10_000;

/// The dataset name whose official splits are read from the data directory.
pub const MULTI30K: &str = "multi30k";

/// The languages of Multi30k task 1.
const MULTI30K_LANGS: [&str; 3] = ["de", "en", "fr"];

/// The toy task of the lessons' exercises: English → Pig Latin.
pub const PIG_LATIN: &str = "pig-latin";

/// Pairs as one TSV, as two aligned files, or made from a TSV's first column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PairSource {
    /// `src<TAB>tgt` lines.
    Tsv(PathBuf),
    /// Two aligned files.
    Parallel(PathBuf, PathBuf),
    /// Each distinct English sentence of a TSV's first column (eng-fra's),
    /// normalised by the lesson's `normalizeString`, with its
    /// [`pig_latin`](crate::text::pig_latin).
    PigLatin(PathBuf),
}

impl PairSource {
    /// Reads every pair, as it is.
    pub fn read(&self) -> Result<Vec<Pair>> {
        match self {
            PairSource::Tsv(p) => read_pairs(p),
            PairSource::Parallel(s, t) => read_parallel(s, t),
            PairSource::PigLatin(p) => {
                let mut seen = std::collections::HashSet::new();
                Ok(read_pairs(p)?
                    .into_iter()
                    .map(|pair| normalize_string(&pair.src))
                    .filter(|english| !english.is_empty() && seen.insert(english.clone()))
                    .map(|english| {
                        let pig = pig_latin(&english);
                        Pair::new(english, pig)
                    })
                    .collect())
            }
        }
    }

    /// The file whose fingerprint a resumed run checks (the source side).
    pub fn path(&self) -> &Path {
        match self {
            PairSource::Tsv(p) | PairSource::Parallel(p, _) | PairSource::PigLatin(p) => p,
        }
    }
}

/// Where each split comes from; `None`: a random split of the training pairs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairSources {
    /// Training pairs.
    pub train: PairSource,
    /// Validation pairs.
    pub valid: Option<PairSource>,
    /// Test pairs.
    pub test: Option<PairSource>,
}

fn both(side: &str, src: &Option<PathBuf>, tgt: &Option<PathBuf>) -> Result<Option<PairSource>> {
    match (src, tgt) {
        (Some(s), Some(t)) => Ok(Some(PairSource::Parallel(s.clone(), t.clone()))),
        (None, None) => Ok(None),
        _ => Err(Error::Config(format!(
            "--{side}src and --{side}tgt name the two sides of one set of pairs: give both or neither"
        ))),
    }
}

impl PairDataConfig {
    /// Checks ranges and the flags that go together.
    pub fn validate(&self) -> Result<()> {
        let held_out = self.test_fraction + self.valid_fraction;
        if !(0.0..1.0).contains(&self.test_fraction)
            || !(0.0..1.0).contains(&self.valid_fraction)
            || held_out >= 1.0
        {
            return Err(Error::Config(format!(
                "data.test_fraction and data.valid_fraction must be in [0, 1) and leave pairs to train on (got {} and {})",
                self.test_fraction, self.valid_fraction
            )));
        }
        if let Some(m) = self.max_len
            && !(1..=MAX_MAX_LEN).contains(&m)
        {
            return Err(Error::Config(format!(
                "data.max_len (--max-len) must be in 1..={MAX_MAX_LEN}, got {m}: a batch is as wide as its longest pair"
            )));
        }
        if self.tutorial_filter && self.tokenization() != Tokenization::Whitespace {
            return Err(Error::Config(
                "--tutorial-filter is the lesson's whitespace pipeline: it cannot be combined with a learnt --tokenizer"
                    .into(),
            ));
        }
        if self.joint_vocab && self.tokenization() == Tokenization::Whitespace {
            return Err(Error::Config(
                "--joint-vocab needs a learnt --tokenizer (word, char, bpe or unigram)".into(),
            ));
        }
        if self.tokenization() != Tokenization::Whitespace && self.vocab_size < 2 {
            return Err(Error::Config(format!(
                "data.vocab_size (--vocab-size) must be at least 2, got {}",
                self.vocab_size
            )));
        }
        if (self.src_lang.is_some() || self.tgt_lang.is_some()) && !self.is_multi30k() {
            return Err(Error::Config(format!(
                "--src-lang/--tgt-lang choose the languages of `{MULTI30K}` (give --data {MULTI30K})"
            )));
        }
        self.languages().map(|_| ())
    }

    fn is_multi30k(&self) -> bool {
        self.src.is_none() && self.dataset == MULTI30K
    }

    /// The tokenisation this run uses: the configured one, else the lessons'
    /// whitespace tokens for their data and BPE for any other.
    pub fn tokenization(&self) -> Tokenization {
        match self.tokenizer {
            Some(t) => t,
            None if self.tutorial_filter || (self.src.is_none() && self.dataset == "eng-fra") => {
                Tokenization::Whitespace
            }
            None if self.src.is_none() && self.dataset == PIG_LATIN => Tokenization::Char,
            None => Tokenization::Bpe,
        }
    }

    /// The text pipeline these settings imply.
    pub fn text(&self) -> TextConfig {
        match self.tokenization().subwords() {
            Some(kind) => TextConfig::subwords(kind, self.joint_vocab),
            None if self.tutorial_filter => TextConfig::tutorial(),
            None => TextConfig::default(),
        }
    }

    /// Multi30k's source and target languages (`de` → `en` unless told).
    fn languages(&self) -> Result<(String, String)> {
        let src = self.src_lang.clone().unwrap_or_else(|| "de".into());
        let tgt = self.tgt_lang.clone().unwrap_or_else(|| "en".into());
        for (flag, lang) in [("--src-lang", &src), ("--tgt-lang", &tgt)] {
            if !MULTI30K_LANGS.contains(&lang.as_str()) {
                return Err(Error::Config(format!(
                    "{flag} {lang:?}: {MULTI30K} has de, en and fr"
                )));
            }
        }
        if src == tgt {
            return Err(Error::Config(format!(
                "--src-lang and --tgt-lang are both {src:?}: expected two languages"
            )));
        }
        Ok((src, tgt))
    }

    /// Where the splits come from.
    pub fn sources(&self, resolver: &Resolver) -> Result<PairSources> {
        let valid = both("valid-", &self.valid_src, &self.valid_tgt)?;
        let test = both("test-", &self.test_src, &self.test_tgt)?;
        if let Some(train) = both("", &self.src, &self.tgt)? {
            return Ok(PairSources { train, valid, test });
        }
        if self.is_multi30k() {
            let (s, t) = self.languages()?;
            let file = |split: &str, lang: &str| -> Result<PathBuf> {
                let name = format!("{MULTI30K}/{split}.{lang}");
                let info = lookup(&name)
                    .ok_or_else(|| Error::Dataset(format!("no dataset {name} in the registry")))?;
                resolver.find(info)
            };
            let split = |name: &str| -> Result<PairSource> {
                Ok(PairSource::Parallel(file(name, &s)?, file(name, &t)?))
            };
            return Ok(PairSources {
                train: split("train")?,
                valid: valid.map_or_else(|| split("val").map(Some), |v| Ok(Some(v)))?,
                test: test.map_or_else(|| split("test_2016_flickr").map(Some), |v| Ok(Some(v)))?,
            });
        }
        if self.dataset == PIG_LATIN {
            let english = PairSource::PigLatin(resolver.resolve("eng-fra")?.path);
            return Ok(PairSources {
                train: english,
                valid,
                test,
            });
        }
        let train = PairSource::Tsv(resolver.resolve(&self.dataset)?.path);
        Ok(PairSources { train, valid, test })
    }

    /// What a side of a pair reads as before tokenising: normalised here for
    /// the lessons' whitespace pipeline (whose filters count its words),
    /// left as it is for learnt pieces (the tokeniser normalises).
    fn prepared(&self, text: &TextConfig, pairs: Vec<Pair>) -> Vec<Pair> {
        pairs
            .into_iter()
            .map(|p| if self.reverse { p.reversed() } else { p })
            .map(|p| match text.subwords {
                Some(_) => p,
                None => Pair::new(text.normalize(&p.src), text.normalize(&p.tgt)),
            })
            .collect()
    }
}

/// Prepared pairs: normalised, filtered and split.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PreparedPairs {
    /// Training pairs read from their file(s).
    pub read: usize,
    /// Training pairs the filters dropped (too long; with the tutorial
    /// filter also those without an English prefix).
    pub skipped: usize,
    /// Training pairs.
    pub train: Vec<Pair>,
    /// Validation pairs.
    pub valid: Vec<Pair>,
    /// Test pairs.
    pub test: Vec<Pair>,
}

/// Reads, reverses, normalises and filters the training pairs of `data` (no split).
pub fn load_pairs(data: &PairDataConfig, text: &TextConfig) -> Result<(usize, Vec<Pair>)> {
    let sources = data.sources(&Resolver::from_env())?;
    load_train(data, text, &sources.train)
}

fn load_train(
    data: &PairDataConfig,
    text: &TextConfig,
    source: &PairSource,
) -> Result<(usize, Vec<Pair>)> {
    let raw = source.read()?;
    let read = raw.len();
    let filter = PairFilter::new(&PairFilterConfig {
        tutorial: data.tutorial_filter,
        // Sides are swapped before filtering.
        reverse: data.reverse,
        // Training caps the length even when not told to (see
        // DEFAULT_MAX_LEN); the lesson's filter has a limit of its own.
        max_len: match data.tutorial_filter {
            true => data.max_len,
            false => Some(data.max_len.unwrap_or(DEFAULT_MAX_LEN)),
        },
    });
    let kept = data
        .prepared(text, raw)
        .into_iter()
        .filter(|p| filter.keep(p))
        .collect();
    Ok((read, kept))
}

/// The training pairs, then validation and test pairs from their files or
/// from a seeded split of the training pairs (test first, then validation).
pub fn prepare(data: &PairDataConfig, text: &TextConfig) -> Result<PreparedPairs> {
    data.validate()?;
    let sources = data.sources(&Resolver::from_env())?;
    let (read, pairs) = load_train(data, text, &sources.train)?;
    let held_out = |source: &Option<PairSource>| -> Result<Option<Vec<Pair>>> {
        source
            .as_ref()
            .map(|s| Ok(data.prepared(text, s.read()?)))
            .transpose()
    };
    let (valid, test) = (held_out(&sources.valid)?, held_out(&sources.test)?);
    let n = pairs.len();
    let cut = |given: bool, fraction: f64| match given {
        true => 0,
        false => (n as f64 * fraction).floor() as usize,
    };
    let n_test = cut(test.is_some(), data.test_fraction);
    let n_valid = cut(valid.is_some(), data.valid_fraction);
    let missing = (test.is_none() && n_test == 0) || (valid.is_none() && n_valid == 0);
    if n_test + n_valid >= n || missing {
        return Err(Error::Config(format!(
            "{}: {n} of {read} pairs left after filtering, too few for a test split ({} of them), a validation split ({}) and pairs to train on: give more pairs, loosen the filters (--max-len), raise data.test_fraction/data.valid_fraction or give --valid-src/--test-src files",
            sources.train.path().display(),
            data.test_fraction,
            data.valid_fraction
        )));
    }
    let (valid, test) = match (valid, test) {
        // Nothing held out of the training pairs: they keep the file's order.
        (Some(valid), Some(test)) => {
            return Ok(PreparedPairs {
                read,
                skipped: read - n,
                train: pairs,
                valid,
                test,
            });
        }
        split => split,
    };
    let order = python_shuffled(n, data.split_seed);
    let pick = |range: std::ops::Range<usize>| -> Vec<Pair> {
        order[range].iter().map(|&i| pairs[i].clone()).collect()
    };
    Ok(PreparedPairs {
        read,
        skipped: read - n,
        test: test.unwrap_or_else(|| pick(0..n_test)),
        valid: valid.unwrap_or_else(|| pick(n_test..n_test + n_valid)),
        train: pick(n_test + n_valid..n),
    })
}

/// Writes pairs as `src<TAB>tgt` lines.
pub(super) fn write_pairs(dir: &ModelDir, name: &str, pairs: &[Pair]) -> Result<()> {
    let mut out = Vec::new();
    for p in pairs {
        // A pair read from a TSV or from lines has no tabs or newlines;
        // guard anyway so the file always reads back as the same pairs.
        let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        writeln!(out, "{}\t{}", clean(&p.src), clean(&p.tgt)).map_err(|e| Error::io(name, e))?;
    }
    dir.write_bytes(name, &out)
}

/// Reads pairs saved by a training run (`valid.tsv` / `test.tsv`) from a model directory.
pub fn held_out(dir: &Path, split: &str) -> Result<Vec<Pair>> {
    read_pairs(&dir.join(format!("{split}.tsv")))
}

#[cfg(test)]
#[path = "data_tests.rs"]
mod tests;
