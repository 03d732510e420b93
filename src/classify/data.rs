//! The labelled data of a classification run: the `data` section, reading a
//! named dataset or a file (and a named dataset's own test set, where its
//! registry entry has one), the seeded stratified split, classes and class
//! weights, and the held-out rows saved in a model directory.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::Resolver;
use crate::data::{self, DataFormat, TestSet};
use crate::data::{
    BadRows, Column, Delimiter, InlineFormat, LabelledFormat, SkippedRow, kept_indices,
    read_labelled, read_labelled_rows_in, read_labelled_with,
};
use crate::data::{SplitConfig, python_stratified_split};
use crate::error::excerpt;
use crate::train::ModelDir;
use crate::{Error, Result};

/// The `data` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabelDataConfig {
    /// A dataset name (`names`, `ag-news-titles`, `imdb`) or a path.
    pub dataset: String,
    /// The text column of a file given by path (names of named datasets are known).
    pub text_col: Option<String>,
    /// The label column of a file given by path.
    pub label_col: Option<String>,
    /// Train/validation/test fractions of the stratified split.
    pub split: SplitConfig,
    /// Seed of the split (Python's `random.Random(seed)` per class, as the
    /// reference script; its default 0 there and here).
    pub split_seed: u64,
    /// Tokens seen fewer times in training become `<unk>`.
    pub min_freq: u64,
    /// Keep at most this many of the most frequent tokens.
    pub max_vocab: Option<usize>,
    /// A row with a missing column or an empty text is an error naming its
    /// line (`--strict`), instead of being skipped with a warning.
    pub strict: bool,
    /// Labels inline in each line (`label text`, or fastText's
    /// `__label__X text`) instead of CSV/TSV columns; a fastText line with
    /// several labels trains and is scored on its first.
    pub format: Option<InlineFormat>,
    /// The file's text encoding (a WHATWG label such as `latin1`); UTF-8
    /// when absent, where an invalid byte is an error naming its line.
    pub encoding: Option<String>,
    /// The validation rows, from their own file (a name or path, read as
    /// the training file is) instead of a fraction of the training rows.
    pub valid: Option<String>,
    /// The test rows, from their own file, likewise.
    pub test: Option<String>,
}

impl Default for LabelDataConfig {
    fn default() -> Self {
        LabelDataConfig {
            dataset: "names".into(),
            text_col: None,
            label_col: None,
            split: SplitConfig::default(),
            split_seed: 0,
            min_freq: 1,
            max_vocab: None,
            strict: false,
            format: None,
            encoding: None,
            valid: None,
            test: None,
        }
    }
}

/// One labelled text, as the data readers give it.
pub type Labelled = crate::data::Example;

/// A labelled dataset as read: its examples and the rows left out.
#[derive(Clone, Debug)]
pub struct DatasetRows {
    /// The file read.
    pub path: PathBuf,
    /// The examples, in file order.
    pub rows: Vec<Labelled>,
    /// Rows with a missing column or an empty text (none under `strict`).
    pub skipped: Vec<SkippedRow>,
    /// The 1-based line where each of `rows` began.
    pub lines: Vec<Option<usize>>,
}

impl DatasetRows {
    /// "warning: FILE: skipped N rows …", listing the first five by line,
    /// or `None` when no row was skipped.
    pub fn warning(&self) -> Option<String> {
        const SHOWN: usize = 5;
        let n = self.skipped.len();
        if n == 0 {
            return None;
        }
        let mut listed: Vec<String> = self
            .skipped
            .iter()
            .take(SHOWN)
            .map(|s| s.to_string())
            .collect();
        if n > SHOWN {
            listed.push(format!("and {} more", n - SHOWN));
        }
        let rows = if n == 1 { "row" } else { "rows" };
        Some(format!(
            "warning: {}: skipped {n} {rows} with a missing column, label or text ({}); --strict makes them an error",
            self.path.display(),
            listed.join("; ")
        ))
    }

    /// An error naming the file and line of the first row whose label is
    /// not one of `classes` (a model can only score the labels it knows).
    pub fn check_labels(&self, classes: &[String]) -> Result<()> {
        let Some(i) = self.rows.iter().position(|r| !classes.contains(&r.label)) else {
            return Ok(());
        };
        let known = classes.iter().map(|c| excerpt(c)).collect::<Vec<_>>();
        Err(Error::format(
            self.path.as_path(),
            self.lines.get(i).copied().flatten(),
            format!(
                "label `{}` is not one of the model's classes, expected one of: {}",
                excerpt(&self.rows[i].label),
                excerpt(&known.join(", "))
            ),
        ))
    }
}

/// Reads a labelled dataset by name or path, every row of its file (bad
/// rows skipped unless `data.strict`).
pub fn read_dataset(data: &LabelDataConfig) -> Result<DatasetRows> {
    read_rows(&data.dataset, data)
}

/// Reads the labelled file `name` (a name or path) as `data` says the
/// training file is read: its columns or inline format, encoding and
/// `strict`; a named dataset brings its own format.
pub fn read_rows(name: &str, data: &LabelDataConfig) -> Result<DatasetRows> {
    let resolved = Resolver::from_env().resolve(name)?;
    let bad = if data.strict {
        BadRows::Error
    } else {
        BadRows::Skip
    };
    let format = resolved.dataset.map(|d| (d.format)());
    let inline = match (&format, data.text_col.is_some()) {
        (Some(DataFormat::Inline(f)), false) => data.format.or(Some(*f)),
        _ => data.format,
    };
    if let Some(inline) = inline {
        if data.text_col.is_some() || data.label_col.is_some() {
            return Err(Error::Config(
                "an inline-label format reads the label from each line: leave out the text and label columns".into(),
            ));
        }
        let file = data::open_decoded(&resolved.path, data.encoding.as_deref())?;
        let read = data::read_inline(file, inline, bad).map_err(|e| e.at_path(&resolved.path))?;
        let (rows, lines) = read
            .examples
            .into_iter()
            .map(|e| {
                let line = Some(e.line);
                let (text, label) = e.into_first_label();
                (Labelled { text, label }, line)
            })
            .unzip();
        return Ok(DatasetRows {
            path: resolved.path,
            rows,
            skipped: read.skipped,
            lines,
        });
    }
    let fmt = match (&format, &data.text_col, &data.label_col) {
        // Any string is a column (digits an index, else a header name).
        (_, Some(t), Some(l)) => LabelledFormat {
            delimiter: delimiter_of(&resolved.path),
            header: true,
            text: vec![t.parse().unwrap_or_else(|e| match e {})],
            label: l.parse().unwrap_or_else(|e| match e {}),
        },
        (Some(DataFormat::Labelled(f)), None, None) => f.clone(),
        _ => {
            return Err(Error::Config(format!(
                "{name}: give --text-col and --label-col (or --format) for a file that is not a named labelled dataset"
            )));
        }
    };
    let read = read_labelled_rows_in(&resolved.path, data.encoding.as_deref(), &fmt, bad)?;
    Ok(DatasetRows {
        path: resolved.path,
        rows: read.examples,
        skipped: read.skipped,
        lines: read.lines,
    })
}

fn delimiter_of(path: &Path) -> Delimiter {
    let name = path.to_string_lossy().to_lowercase();
    if name.ends_with(".tsv") || name.ends_with(".tsv.gz") {
        Delimiter::Tsv
    } else {
        Delimiter::Csv
    }
}

/// Prepared examples: split, with the classes and vocabulary of the training part.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Training rows.
    pub train: Vec<Labelled>,
    /// Validation rows.
    pub valid: Vec<Labelled>,
    /// Test rows.
    pub test: Vec<Labelled>,
    /// What [`DatasetRows::warning`] said of the rows skipped, if any were.
    pub warning: Option<String>,
}

/// Reads and splits: stratified by label and seeded exactly as
/// `shared/bench/classify_torch.py` does, so both score the same test set.
///
/// Held-out rows come from their own files where there are any: `data.valid`
/// and `data.test` first, else the named dataset's own sets ([`TestSet`]):
/// `imdb` on its `test` rows, `ag-news-titles` on the titles of the
/// original AG News test file, `sst2`/`sst1` on their official dev and test
/// files. A part with no file of its own is a stratified fraction of the
/// training rows (`data.split`; the validation fraction is of the rows
/// left once a test file is given, a tenth by default as the reference
/// script holds out).
pub fn prepare(data: &LabelDataConfig) -> Result<Prepared> {
    let read = read_dataset(data)?;
    let mut warnings: Vec<String> = read.warning().into_iter().collect();
    let DatasetRows {
        path,
        rows,
        skipped,
        ..
    } = read;
    if rows.is_empty() {
        return Err(Error::Config(format!("{}: no examples", data.dataset)));
    }
    // The name given, not the file it resolved to: a registry file given by
    // its path is split by fractions like any other file.
    let own = data::lookup(&data.dataset)
        .and_then(|d| d.test_set)
        .map(|t| t());
    let (mut train_idx, mut own_test) = (None, None);
    let (mut valid_file, mut test_file) = (data.valid.as_deref(), data.test.as_deref());
    match own {
        Some(TestSet::SplitColumn(parts)) => {
            let (train, test) = split_column_rows(&path, &parts, &rows, &skipped)?;
            train_idx = Some(train);
            own_test = Some(test);
        }
        Some(TestSet::Dataset {
            name,
            format,
            classes,
        }) if test_file.is_none() => own_test = Some(class_id_rows(name, &format, classes)?),
        Some(TestSet::Files { valid, test }) => {
            valid_file = valid_file.or(Some(valid));
            test_file = test_file.or(Some(test));
        }
        Some(TestSet::Dataset { .. }) | None => {}
    }
    let mut part = |name: &str| -> Result<Vec<Labelled>> {
        let read = read_rows(name, data)?;
        warnings.extend(read.warning());
        Ok(read.rows)
    };
    let test = match test_file {
        Some(name) => Some(part(name)?),
        None => own_test,
    };
    let valid = valid_file.map(&mut part).transpose()?;
    let rows: Vec<Labelled> = match train_idx {
        Some(idx) => idx.iter().map(|&i| rows[i].clone()).collect(),
        None => rows,
    };
    // Only the parts without a file of their own are split off.
    let fractions = match (&valid, &test) {
        (Some(_), Some(_)) => SplitConfig::holding_out(0.0, 0.0),
        (Some(_), None) => SplitConfig::holding_out(0.0, data.split.test),
        (None, Some(_)) => SplitConfig::holding_out(data.split.valid, 0.0),
        (None, None) => data.split,
    };
    let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    let split = python_stratified_split(&labels, &fractions, data.split_seed)?;
    let pick = |idx: &[usize]| idx.iter().map(|&i| rows[i].clone()).collect::<Vec<_>>();
    Ok(Prepared {
        train: pick(&split.train),
        valid: valid.unwrap_or_else(|| pick(&split.valid)),
        test: test.unwrap_or_else(|| pick(&split.test)),
        warning: (!warnings.is_empty()).then(|| warnings.join("\n")),
    })
}

/// A split column's own split ([`TestSet::SplitColumn`]): the indices of the
/// `train` rows and the `test` rows. `rows` are the examples read from
/// `path` with `skipped` left out; `parts` (the file read as id and split
/// column) is matched to them by position in the file.
fn split_column_rows(
    path: &Path,
    parts: &LabelledFormat,
    rows: &[Labelled],
    skipped: &[SkippedRow],
) -> Result<(Vec<usize>, Vec<Labelled>)> {
    let (parts, parts_skipped) = read_labelled_with(path, parts, BadRows::Skip)?;
    let split_of: std::collections::HashMap<usize, &str> =
        kept_indices(parts.len(), &parts_skipped)
            .into_iter()
            .zip(parts.iter().map(|p| p.label.as_str()))
            .collect();
    let positions = kept_indices(rows.len(), skipped);
    let mut train = Vec::new();
    let mut test = Vec::new();
    for (i, at) in positions.iter().enumerate() {
        match split_of.get(at).copied() {
            Some("train") => train.push(i),
            Some("test") => test.push(rows[i].clone()),
            other => {
                return Err(Error::Config(format!(
                    "{}: data row {}: split `{}`, expected train or test",
                    path.display(),
                    at + 1,
                    other.unwrap_or("")
                )));
            }
        }
    }
    Ok((train, test))
}

/// The rows of the named dataset `name` ([`TestSet::Dataset`]), their class
/// ids (from 1) replaced by the names in `classes`.
fn class_id_rows(name: &str, fmt: &LabelledFormat, classes: &[&str]) -> Result<Vec<Labelled>> {
    let resolved = Resolver::from_env().resolve(name)?;
    read_labelled(&resolved.path, fmt)?
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let id: usize = e.label.trim().parse().unwrap_or(0);
            match classes.get(id.wrapping_sub(1)) {
                Some(name) => Ok(Labelled {
                    text: e.text,
                    label: name.to_string(),
                }),
                None => Err(Error::Config(format!(
                    "{}: row {}: class id `{}`, expected 1 to {}",
                    resolved.path.display(),
                    i + 1,
                    e.label,
                    classes.len()
                ))),
            }
        })
        .collect()
}

/// Classes in sorted order (the order of `classes.json` and the logits).
pub fn classes_of(rows: &[Labelled]) -> Vec<String> {
    let mut c: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    c.sort();
    c.dedup();
    c
}

/// Inverse-frequency class weights `n / (k · n_c)` (scikit-learn's "balanced").
pub fn inverse_weights(rows: &[Labelled], classes: &[String]) -> Vec<f32> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        *counts.entry(r.label.as_str()).or_default() += 1;
    }
    let (n, k) = (rows.len() as f64, classes.len() as f64);
    classes
        .iter()
        .map(|c| match counts.get(c.as_str()) {
            Some(&nc) if nc > 0 => (n / (k * nc as f64)) as f32,
            _ => 0.0,
        })
        .collect()
}

/// Writes rows as `text<TAB>label` lines (tabs and newlines in texts become spaces).
pub(super) fn write_rows(dir: &ModelDir, name: &str, rows: &[Labelled]) -> Result<()> {
    let mut out = Vec::new();
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    writeln!(out, "text\tlabel").map_err(|e| Error::io(name, e))?;
    for r in rows {
        writeln!(out, "{}\t{}", clean(&r.text), clean(&r.label)).map_err(|e| Error::io(name, e))?;
    }
    dir.write_bytes(name, &out)
}

/// Reads rows saved by [`train`](super::recipe::train) (`valid.tsv` / `test.tsv`).
pub fn held_out(dir: &Path, split: &str) -> Result<Vec<Labelled>> {
    let fmt = LabelledFormat {
        delimiter: Delimiter::Tsv,
        header: true,
        text: vec![Column::Name("text".into())],
        label: Column::Name("label".into()),
    };
    read_labelled(&dir.join(format!("{split}.tsv")), &fmt)
}
