//! A language model's text: reading a corpus or a file of lines, the split
//! into training / validation / test, the vocabulary and the encoding.
//!
//! Two shapes of data:
//! - a **stream** (text8, any plain text): one long sequence, trained with
//!   truncated backpropagation through time. Characters are kept as they are
//!   (newlines included) at the char level; at the word level a line's words
//!   are followed by `<eos>`, as in PyTorch's `word_language_model`. The split
//!   is by position: the last `holdout` characters are the test part, the
//!   `holdout` before them the validation part (text8's 90M / 5M / 5M with
//!   `holdout = 5_000_000`), else 90 / 5 / 5 per cent;
//! - **lines** (names): every line (or row of a labelled file) is one
//!   sequence `<sos> t₁ … tₙ <eos>`, optionally with a condition (the row's
//!   label, `--condition-col`); a seeded split, stratified by condition.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::DataFormat;
use crate::data::{Column, Delimiter, LabelledFormat, read_labelled};
use crate::data::{Resolver, open};
use crate::data::{SplitConfig, split, stratified_split};
use crate::text::Level;
use crate::text::{Specials, Vocab, VocabBuilder, VocabConfig};
use crate::{Error, Result};

/// How a language model's data is read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmDataConfig {
    /// A dataset name (`text8`, `names`) or a path.
    pub dataset: String,
    /// Characters or words.
    pub level: Level,
    /// Read a plain file as one sequence per line (labelled datasets always are).
    pub lines: bool,
    /// The text column of a labelled file given by path.
    pub text_col: Option<String>,
    /// Condition generation on this column's values (labelled data).
    pub condition_col: Option<String>,
    /// Streams: the test part is the last this many characters, the
    /// validation part the same number before it.
    pub holdout_chars: Option<usize>,
    /// Train / validation / test fractions (streams without `holdout_chars`, lines).
    pub split: SplitConfig,
    /// Seed of the split of lines.
    pub split_seed: u64,
    /// Tokens seen fewer times in training become `<unk>`.
    pub min_freq: u64,
    /// Keep at most this many of the most frequent tokens.
    pub max_vocab: Option<usize>,
    /// Lines: keep at most this many tokens of a line (default
    /// [`DEFAULT_MAX_LINE`]); longer lines are cut, with a count. Streams
    /// are read in BPTT windows and need no limit.
    #[serde(default)]
    pub max_len: Option<usize>,
}

/// The most tokens of a line a line model reads unless `max_len` says
/// otherwise: every line of the bundled data fits many times over, while a
/// runaway line (a whole file without line breaks) is cut instead of
/// setting the padded width of its batch.
pub const DEFAULT_MAX_LINE: usize = 1_000;

/// The largest `max_len` a config may set.
pub const MAX_MAX_LINE: usize = 100_000;

impl LmDataConfig {
    /// The most tokens of a line read: `max_len`, else [`DEFAULT_MAX_LINE`].
    pub fn max_line(&self) -> usize {
        self.max_len.unwrap_or(DEFAULT_MAX_LINE)
    }

    /// Checks the line limit.
    pub fn validate(&self) -> Result<()> {
        match self.max_len {
            Some(m) if !(1..=MAX_MAX_LINE).contains(&m) => Err(Error::Config(format!(
                "data.max_len must be in 1..={MAX_MAX_LINE}, got {m}"
            ))),
            _ => Ok(()),
        }
    }
}

/// Cuts every line of `splits` (a line corpus) to its first `max` tokens at
/// `level`; returns how many lines were cut.
pub fn cut_long_lines(splits: &mut Splits, level: Level, max: usize) -> usize {
    let Splits::Lines { train, valid, test } = splits else {
        return 0;
    };
    let mut cut = 0;
    for line in train
        .iter_mut()
        .chain(valid.iter_mut())
        .chain(test.iter_mut())
    {
        let end = match level {
            Level::Char => line.text.char_indices().nth(max).map(|(i, _)| i),
            Level::Word => line
                .text
                .split_whitespace()
                .nth(max)
                .map(|w| w.as_ptr() as usize - line.text.as_ptr() as usize),
        };
        if let Some(end) = end {
            line.text.truncate(end);
            cut += 1;
        }
    }
    cut
}

impl Default for LmDataConfig {
    fn default() -> Self {
        LmDataConfig {
            dataset: "text8".into(),
            level: Level::Char,
            lines: false,
            text_col: None,
            condition_col: None,
            holdout_chars: None,
            split: SplitConfig {
                train: 0.9,
                valid: 0.05,
                test: 0.05,
            },
            split_seed: 0,
            min_freq: 1,
            max_vocab: None,
            max_len: None,
        }
    }
}

/// One line of a line corpus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The text.
    pub text: String,
    /// The condition (a label), for conditioned models.
    pub condition: Option<String>,
}

/// Raw text, split.
#[derive(Clone, Debug, PartialEq)]
pub enum Splits {
    /// One long text per part.
    Stream {
        /// Training text.
        train: String,
        /// Validation text.
        valid: String,
        /// Test text.
        test: String,
    },
    /// Lines per part.
    Lines {
        /// Training lines.
        train: Vec<Line>,
        /// Validation lines.
        valid: Vec<Line>,
        /// Test lines.
        test: Vec<Line>,
    },
}

/// The tokens of a text at `level`, for a stream (`<eos>` after each line
/// at the word level) or a line (its words or characters only).
pub fn tokens(text: &str, level: Level, stream: bool) -> Vec<String> {
    match (level, stream) {
        (Level::Char, _) => text.chars().map(String::from).collect(),
        (Level::Word, false) => text.split_whitespace().map(String::from).collect(),
        (Level::Word, true) => {
            let mut out = Vec::new();
            for line in text.lines() {
                out.extend(line.split_whitespace().map(String::from));
                out.push("<eos>".to_string());
            }
            out
        }
    }
}

/// The vocabulary of a model: `<pad> <unk> <sos> <eos>` then the training
/// tokens by frequency.
pub fn build_vocab(train: &Splits, cfg: &LmDataConfig) -> Result<Vocab> {
    let vcfg = VocabConfig {
        min_freq: cfg.min_freq,
        max_size: cfg.max_vocab,
        specials: Specials::standard(),
    };
    let mut b = VocabBuilder::new();
    match (train, cfg.level) {
        // Counting characters through a small map first: 90M `String`s would
        // take longer than the rest of the preparation.
        (Splits::Stream { train, .. }, Level::Char) => count_chars(&mut b, train.chars()),
        (Splits::Stream { train, .. }, Level::Word) => {
            b.add_all(tokens(train, Level::Word, true));
        }
        (Splits::Lines { train, .. }, Level::Char) => {
            count_chars(&mut b, train.iter().flat_map(|l| l.text.chars()))
        }
        (Splits::Lines { train, .. }, Level::Word) => {
            b.add_all(
                train
                    .iter()
                    .flat_map(|l| tokens(&l.text, Level::Word, false)),
            );
        }
    }
    b.build(&vcfg)
}

fn count_chars(b: &mut VocabBuilder, chars: impl Iterator<Item = char>) {
    let mut counts: HashMap<char, (u64, usize)> = HashMap::new();
    for c in chars {
        let next = counts.len();
        counts.entry(c).or_insert((0, next)).0 += 1;
    }
    let mut by_first: Vec<(char, u64, usize)> =
        counts.into_iter().map(|(c, (n, f))| (c, n, f)).collect();
    by_first.sort_by_key(|e| e.2);
    for (c, n, _) in by_first {
        b.add_count(&c.to_string(), n);
    }
}

/// Ids of a stream (unknown tokens → `<unk>`).
pub fn encode_stream(text: &str, level: Level, vocab: &Vocab) -> Result<Vec<u32>> {
    let unk = vocab
        .unk_id()
        .ok_or_else(|| Error::Vocab("the vocabulary has no <unk>".into()))?;
    Ok(match level {
        Level::Char => {
            let mut map: HashMap<char, u32> = HashMap::new();
            let mut buf = [0u8; 4];
            text.chars()
                .map(|c| {
                    *map.entry(c)
                        .or_insert_with(|| vocab.id(c.encode_utf8(&mut buf)).unwrap_or(unk))
                })
                .collect()
        }
        Level::Word => vocab.encode(&tokens(text, Level::Word, true)),
    })
}

/// Reads and splits the data `cfg` names.
pub fn read(cfg: &LmDataConfig) -> Result<Splits> {
    match read_raw(cfg)? {
        Raw::Text(text, path) => split_stream(text, cfg, &path),
        Raw::Lines(lines) => split_lines(lines, cfg),
    }
}

/// Reads all of the data `cfg` names into the test part, as a stream or as
/// lines (`stream`, the shape a model was trained on).
pub fn read_whole(cfg: &LmDataConfig, stream: bool) -> Result<Splits> {
    let test = read_raw(cfg)?;
    Ok(match (test, stream) {
        (Raw::Text(test, _), true) => Splits::Stream {
            train: String::new(),
            valid: String::new(),
            test,
        },
        (Raw::Lines(test), false) => Splits::Lines {
            train: Vec::new(),
            valid: Vec::new(),
            test,
        },
        (Raw::Lines(lines), true) => Splits::Stream {
            train: String::new(),
            valid: String::new(),
            test: lines.iter().map(|l| format!("{}\n", l.text)).collect(),
        },
        (Raw::Text(text, _), false) => Splits::Lines {
            train: Vec::new(),
            valid: Vec::new(),
            test: text_lines(&text),
        },
    })
}

/// Read data before splitting.
enum Raw {
    Text(String, PathBuf),
    Lines(Vec<Line>),
}

fn text_lines(text: &str) -> Vec<Line> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| Line {
            text: l.to_string(),
            condition: None,
        })
        .collect()
}

fn read_raw(cfg: &LmDataConfig) -> Result<Raw> {
    let resolved = Resolver::from_env().resolve(&cfg.dataset)?;
    let format = resolved.dataset.map(|d| (d.format)());
    match format {
        Some(DataFormat::Labelled(f)) => {
            let fmt = LabelledFormat {
                label: cfg
                    .condition_col
                    .as_ref()
                    .map_or(f.label.clone(), |c| column(c)),
                ..f
            };
            Ok(Raw::Lines(labelled_lines(&resolved.path, &fmt, cfg)?))
        }
        Some(DataFormat::Corpus) | None
            if cfg.condition_col.is_some() || cfg.text_col.is_some() =>
        {
            let fmt = LabelledFormat {
                delimiter: delimiter_of(&resolved.path),
                header: true,
                text: vec![column(cfg.text_col.as_deref().ok_or_else(|| {
                    Error::Config(format!(
                        "{}: give --text-col with --condition-col for a file that is not a named dataset",
                        cfg.dataset
                    ))
                })?)],
                label: cfg
                    .condition_col
                    .as_deref()
                    .map_or(Column::Index(0), column),
            };
            Ok(Raw::Lines(labelled_lines(&resolved.path, &fmt, cfg)?))
        }
        Some(DataFormat::Corpus) | None => {
            let text = read_text(&resolved.path)?;
            if cfg.lines {
                Ok(Raw::Lines(text_lines(&text)))
            } else {
                Ok(Raw::Text(text, resolved.path))
            }
        }
        Some(_) => Err(Error::Config(format!(
            "{}: not a text corpus or a labelled dataset; a language model reads one of those",
            cfg.dataset
        ))),
    }
}

fn column(name: &str) -> Column {
    name.parse().unwrap_or_else(|e| match e {})
}

fn delimiter_of(path: &Path) -> Delimiter {
    let name = path.to_string_lossy().to_lowercase();
    if name.ends_with(".tsv") || name.ends_with(".tsv.gz") {
        Delimiter::Tsv
    } else {
        Delimiter::Csv
    }
}

fn labelled_lines(path: &Path, fmt: &LabelledFormat, cfg: &LmDataConfig) -> Result<Vec<Line>> {
    Ok(read_labelled(path, fmt)?
        .into_iter()
        .filter(|e| !e.text.trim().is_empty())
        .map(|e| Line {
            text: e.text.trim().to_string(),
            condition: cfg.condition_col.as_ref().map(|_| e.label),
        })
        .collect())
}

/// The whole text of a (possibly gzipped) file.
pub fn read_text(path: &Path) -> Result<String> {
    let mut bytes = Vec::new();
    open(path)?
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Format {
        file: path.into(),
        line: None,
        msg: format!("not UTF-8 text (at byte {})", e.utf8_error().valid_up_to()),
    })?;
    if text.trim().is_empty() {
        return Err(Error::Format {
            file: path.into(),
            line: None,
            msg: "the corpus is empty; expected text to train on".into(),
        });
    }
    Ok(text)
}

/// The byte offset `n` characters before the end of `text` (0 if it is shorter).
fn chars_from_end(text: &str, n: usize) -> usize {
    if n == 0 {
        return text.len();
    }
    text.char_indices().rev().nth(n - 1).map_or(0, |(i, _)| i)
}

fn split_stream(text: String, cfg: &LmDataConfig, path: &Path) -> Result<Splits> {
    let total = text.chars().count();
    let (valid_n, test_n) = match cfg.holdout_chars {
        Some(n) => (n, n),
        None => {
            cfg.split.validate()?;
            (
                (total as f64 * cfg.split.valid).round() as usize,
                (total as f64 * cfg.split.test).round() as usize,
            )
        }
    };
    if valid_n + test_n >= total || valid_n == 0 {
        return Err(Error::Format {
            file: path.into(),
            line: None,
            msg: format!(
                "{total} characters cannot hold {valid_n} validation and {test_n} test characters and still leave some to train on"
            ),
        });
    }
    let test_at = chars_from_end(&text, test_n);
    let valid_at = chars_from_end(&text[..test_at], valid_n);
    Ok(Splits::Stream {
        test: text[test_at..].to_string(),
        valid: text[valid_at..test_at].to_string(),
        train: {
            let mut t = text;
            t.truncate(valid_at);
            t
        },
    })
}

fn split_lines(lines: Vec<Line>, cfg: &LmDataConfig) -> Result<Splits> {
    if lines.len() < 3 {
        return Err(Error::Config(format!(
            "{}: {} non-empty lines; a language model needs at least 3 (train, validation, test)",
            cfg.dataset,
            lines.len()
        )));
    }
    let parts = match lines.first().and_then(|l| l.condition.as_ref()) {
        Some(_) => {
            let labels: Vec<&str> = lines
                .iter()
                .map(|l| l.condition.as_deref().unwrap_or(""))
                .collect();
            stratified_split(&labels, &cfg.split, cfg.split_seed)?
        }
        None => split(lines.len(), &cfg.split, cfg.split_seed)?,
    };
    let pick = |idx: &[usize]| idx.iter().map(|&i| lines[i].clone()).collect::<Vec<_>>();
    Ok(Splits::Lines {
        train: pick(&parts.train),
        valid: pick(&parts.valid),
        test: pick(&parts.test),
    })
}

/// Where a model directory keeps its held-out parts.
pub fn held_out_file(dir: &Path, part: &str, stream: bool) -> PathBuf {
    dir.join(if stream {
        format!("{part}.txt")
    } else {
        format!("{part}.tsv")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdout_splits_by_characters_from_the_end() -> Result<()> {
        let cfg = LmDataConfig {
            holdout_chars: Some(3),
            ..LmDataConfig::default()
        };
        let Splits::Stream { train, valid, test } =
            split_stream("abcdéfghij".into(), &cfg, Path::new("x"))?
        else {
            panic!("a stream splits into a stream");
        };
        assert_eq!(
            (train.as_str(), valid.as_str(), test.as_str()),
            ("abcd", "éfg", "hij")
        );
        let too_big = LmDataConfig {
            holdout_chars: Some(5),
            ..cfg
        };
        assert!(split_stream("abcdefghij".into(), &too_big, Path::new("x")).is_err());
        Ok(())
    }

    #[test]
    fn word_streams_end_lines_with_eos_and_unknowns_become_unk() -> Result<()> {
        let splits = Splits::Stream {
            train: "a b\nb c\n".into(),
            valid: String::new(),
            test: String::new(),
        };
        let cfg = LmDataConfig {
            level: Level::Word,
            ..LmDataConfig::default()
        };
        let vocab = build_vocab(&splits, &cfg)?;
        let ids = encode_stream("b zzz\n", Level::Word, &vocab)?;
        let words = vocab.decode(&ids);
        assert_eq!(words, ["b", "<unk>", "<eos>"]);
        Ok(())
    }

    #[test]
    fn char_vocab_counts_and_encodes() -> Result<()> {
        let splits = Splits::Stream {
            train: "aab a".into(),
            valid: String::new(),
            test: String::new(),
        };
        let vocab = build_vocab(&splits, &LmDataConfig::default())?;
        assert_eq!(vocab.len(), 4 + 3);
        assert_eq!(vocab.token(4), Some("a"));
        let ids = encode_stream("ab?", Level::Char, &vocab)?;
        assert_eq!(vocab.decode(&ids), ["a", "b", "<unk>"]);
        Ok(())
    }
}
