//! A whole classification run, from a dataset name to a trained model
//! directory, and its evaluation: what `attend classify train|eval` do.
//!
//! Data flow (DESIGN §2): read labelled rows → normalise → tokenise (chars or
//! words) → seeded stratified split (80/10/10 unless the dataset brings its
//! own test set; the reference script's split, see [`prepare`]) → vocabulary and classes from the training split only →
//! encode (unknown → `<unk>`) → train with [`Trainer`] → the model directory
//! holds `config.json` (model and text pipeline), `vocab.json`,
//! `classes.json`, the weights, `train_config.json` and the held-out
//! examples (`valid.tsv`, `test.tsv`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use super::predictor::{ENSEMBLE, SavedEnsemble};
use super::task::{ClassifyTask, Example, TaskConfig};
use super::{Classifier, ClassifierConfig};
use crate::data::Resolver;
use crate::data::labelled::{
    BadRows, Column, Delimiter, LabelledFormat, SkippedRow, kept_indices, read_labelled,
    read_labelled_rows, read_labelled_with,
};
use crate::data::registry::DataFormat;
use crate::data::split::{SplitConfig, python_stratified_split};
use crate::error::excerpt;
use crate::nn::ParamStore;
pub use crate::text::tokenize::Level;
use crate::text::tokenize::{chars, whitespace};
use crate::text::{NormalizeConfig, Normalizer, Specials, Vocab, VocabConfig};
use crate::train::model_dir::{TRAIN_CONFIG, warn_taken_over};
use crate::train::{
    AdamConfig, Goal, ModelDir, OptimizerConfig, Start, Summary, TrainConfig, Trainer,
};
use crate::{Error, Result};

/// The best weights, as the trainer writes them.
pub(crate) const WEIGHTS: &str = "model.safetensors";

/// The text pipeline: normalisation and tokenisation, saved with the model
/// so prediction reads text exactly as training did.
///
/// Characters keep their accents (NFKC only, case kept): `é` in `Bélanger`
/// is evidence for French, where the PyTorch lesson (and
/// `classify_torch.py`) fold names to ASCII first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextConfig {
    /// Characters or words.
    pub level: Level,
    /// NFKC normalisation options (lowercasing, punctuation split).
    pub normalize: NormalizeConfig,
    /// Keep at most this many tokens of a text (the first ones); default
    /// [`DEFAULT_MAX_TOKENS`].
    pub max_len: Option<usize>,
    /// Read a text as its n-grams of 1 to `ngrams` tokens (1: the tokens
    /// alone), fastText's features for the bag encoder: character n-grams
    /// (`<` and `>` mark a name's start and end, as fastText's subwords) or
    /// word n-grams (joined by a space). `max_len` counts the tokens before
    /// n-grams are added.
    pub ngrams: usize,
}

impl Default for TextConfig {
    fn default() -> Self {
        TextConfig {
            level: Level::Char,
            normalize: NormalizeConfig {
                lowercase: false,
                split_punctuation: false,
            },
            max_len: None,
            ngrams: 1,
        }
    }
}

impl TextConfig {
    /// The most tokens a text keeps: `max_len`, else [`DEFAULT_MAX_TOKENS`].
    pub fn max_tokens(&self) -> usize {
        self.max_len.unwrap_or(DEFAULT_MAX_TOKENS)
    }

    /// Checks the n-gram length and the token limit.
    pub fn validate(&self) -> Result<()> {
        if let Some(m) = self.max_len
            && !(1..=MAX_MAX_TOKENS).contains(&m)
        {
            return Err(Error::Config(format!(
                "max_len (--max-len) must be in 1..={MAX_MAX_TOKENS}, got {m}: a text of no tokens cannot be classified, and a batch is as wide as its longest text"
            )));
        }
        if !(1..=MAX_NGRAMS).contains(&self.ngrams) {
            return Err(Error::Config(format!(
                "ngrams must be in 1..={MAX_NGRAMS} (1: the tokens alone), got {}",
                self.ngrams
            )));
        }
        Ok(())
    }

    /// The tokens of a raw text. Only the first [`MAX_BYTES_PER_TOKEN`] ×
    /// `max_len` bytes are read, so a runaway row costs no more than a long
    /// text (every text of the bundled datasets is read whole).
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let text = head(text, self.max_tokens().saturating_mul(MAX_BYTES_PER_TOKEN));
        let normalizer = Normalizer::new(&self.normalize);
        let mut toks = match self.level {
            Level::Char => chars(&normalizer.normalize(text)),
            // HTML line breaks (IMDB's reviews are full of them) are layout,
            // not words.
            Level::Word => whitespace(
                &normalizer.normalize(&text.replace("<br />", " ").replace("<br/>", " ")),
            ),
        };
        toks.truncate(self.max_tokens());
        if self.ngrams > 1 {
            toks = with_ngrams(toks, self.ngrams, self.level);
        }
        toks
    }

    /// Ids of a raw text; an empty text is one `<unk>`, so every text classifies.
    pub fn encode(&self, text: &str, vocab: &Vocab) -> Result<Vec<u32>> {
        Ok(self.encode_tokens(&self.tokens(text), vocab)?.0)
    }

    /// Ids of tokens (one `<unk>` for none) and the tokens those ids stand
    /// for, `<unk>` included where it was added.
    pub(crate) fn encode_tokens(
        &self,
        tokens: &[String],
        vocab: &Vocab,
    ) -> Result<(Vec<u32>, Vec<String>)> {
        if !tokens.is_empty() {
            return Ok((vocab.encode(tokens), tokens.to_vec()));
        }
        let unk = vocab
            .unk_id()
            .ok_or_else(|| Error::Vocab("the vocabulary has no <unk>".into()))?;
        Ok((vec![unk], vec!["<unk>".into()]))
    }
}

/// The most tokens of a text read when the config sets no `max_len`: every
/// text of the bundled datasets fits (IMDB's longest review has about 2,500
/// words), while a runaway row (a missing quote, a whole file on one line)
/// is cut instead of setting the padded width of its batch.
pub const DEFAULT_MAX_TOKENS: usize = 5_000;

/// Bytes of raw text read per token `max_len` allows: generous for any
/// script and word length, while a 5 MB row is read only as far as its
/// tokens are kept.
pub const MAX_BYTES_PER_TOKEN: usize = 64;

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The largest `max_len` a config may set.
pub const MAX_MAX_TOKENS: usize = 100_000;

/// The longest n-grams `TextConfig::ngrams` allows (fastText's `-maxn` is 6).
const MAX_NGRAMS: usize = 6;

/// The tokens followed by their n-grams of 2 to `n` tokens, shortest first:
/// characters within `<` … `>`, words joined by a space.
fn with_ngrams(tokens: Vec<String>, n: usize, level: Level) -> Vec<String> {
    let (marked, joint): (Vec<&str>, &str) = match level {
        Level::Char => (
            std::iter::once("<")
                .chain(tokens.iter().map(String::as_str))
                .chain(std::iter::once(">"))
                .collect(),
            "",
        ),
        Level::Word => (tokens.iter().map(String::as_str).collect(), " "),
    };
    let grams: Vec<String> = (2..=n)
        .flat_map(|k| marked.windows(k).map(|w| w.join(joint)))
        .collect();
    let mut all = tokens;
    all.extend(grams);
    all
}

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
        }
    }
}

/// Everything `attend classify train` needs: one TOML file's sections.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifyConfig {
    /// Data and split.
    pub data: LabelDataConfig,
    /// Text pipeline.
    pub text: TextConfig,
    /// The model (vocabulary and class counts are filled in from the data).
    pub model: ClassifierConfig,
    /// The training loop.
    pub train: TrainConfig,
    /// Batching.
    pub task: TaskConfig,
    /// Weight the loss by inverse class frequency (`--class-weights inverse`).
    pub inverse_class_weights: bool,
    /// Initialise the embedding table from a vector file (word2vec text or
    /// binary, GloVe; `--embeddings`): the model's embedding width becomes
    /// the file's, tokens found in it (exactly, else lowercased) take its
    /// vectors, the others keep their random initial ones, `<pad>` stays 0.
    pub embeddings: Option<PathBuf>,
}

impl Default for ClassifyConfig {
    /// The recipe `attend classify train` runs without flags, for the
    /// surnames lesson: a character-level bidirectional GRU (embeddings 64,
    /// hidden 128) with attention pooling and an MLP head, dropout 0.2, Adam
    /// 2e-3 with gradients clipped to norm 5, batches of 64, 15 epochs, the
    /// weights of the best validation accuracy kept.
    fn default() -> Self {
        ClassifyConfig {
            data: LabelDataConfig::default(),
            text: TextConfig::default(),
            model: ClassifierConfig::default(),
            train: TrainConfig {
                epochs: 15,
                optimizer: OptimizerConfig::Adam(AdamConfig {
                    lr: 2e-3,
                    ..AdamConfig::default()
                }),
                clip_norm: Some(5.0),
                select_metric: "accuracy".into(),
                select_goal: Goal::Max,
                ..TrainConfig::default()
            },
            task: TaskConfig::default(),
            inverse_class_weights: false,
            embeddings: None,
        }
    }
}

/// One labelled text, as the data readers give it.
pub type Labelled = crate::data::labelled::Example;

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
            "warning: {}: skipped {n} {rows} with a missing column or an empty text ({}); --strict makes them an error",
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
    let resolved = Resolver::from_env().resolve(&data.dataset)?;
    let format = resolved.dataset.map(|d| (d.format)());
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
                "{}: give --text-col and --label-col for a file that is not a named labelled dataset",
                data.dataset
            )));
        }
    };
    let bad = if data.strict {
        BadRows::Error
    } else {
        BadRows::Skip
    };
    let read = read_labelled_rows(&resolved.path, &fmt, bad)?;
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
/// Two datasets bring their own test set, as the lessons use them: `imdb`
/// (its `test` rows; the validation set is a stratified tenth of its `train`
/// rows) and `ag-news-titles` (the 10,000 titles train with a stratified
/// tenth for validation; the test set is the titles of the original AG News
/// test file, its class ids 1–4 named World, Sports, Business, Sci/Tech).
/// For them `data.split`'s test fraction is ignored.
pub fn prepare(data: &LabelDataConfig) -> Result<Prepared> {
    let read = read_dataset(data)?;
    let warning = read.warning();
    let DatasetRows {
        path,
        rows,
        skipped,
        ..
    } = read;
    if rows.is_empty() {
        return Err(Error::Config(format!("{}: no examples", data.dataset)));
    }
    let own_test = match data.dataset.as_str() {
        "imdb" => Some(imdb_test_rows(&path, &rows, &skipped)?),
        "ag-news-titles" => Some(ag_news_test_titles()?),
        _ => None,
    };
    let (rows, test, fractions) = match own_test {
        Some((train_idx, test)) => {
            let train: Vec<Labelled> = match train_idx {
                Some(idx) => idx.iter().map(|&i| rows[i].clone()).collect(),
                None => rows,
            };
            // The validation fraction is of the training rows (a tenth by
            // default, as the reference script holds out).
            let fractions = SplitConfig {
                train: 1.0 - data.split.valid,
                valid: data.split.valid,
                test: 0.0,
            };
            (train, Some(test), fractions)
        }
        None => (rows, None, data.split),
    };
    let labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    let split = python_stratified_split(&labels, &fractions, data.split_seed)?;
    let pick = |idx: &[usize]| idx.iter().map(|&i| rows[i].clone()).collect::<Vec<_>>();
    Ok(Prepared {
        train: pick(&split.train),
        valid: pick(&split.valid),
        test: test.unwrap_or_else(|| pick(&split.test)),
        warning,
    })
}

/// IMDB's own split: the indices of its `train` rows and its `test` rows.
/// `rows` are the examples read from `path` with `skipped` left out; the
/// split column is matched to them by their position in the file.
fn imdb_test_rows(
    path: &Path,
    rows: &[Labelled],
    skipped: &[SkippedRow],
) -> Result<(Option<Vec<usize>>, Vec<Labelled>)> {
    let fmt = LabelledFormat {
        delimiter: Delimiter::Tsv,
        header: true,
        text: vec![Column::Name("id".into())],
        label: Column::Name("split".into()),
    };
    let (parts, parts_skipped) = read_labelled_with(path, &fmt, BadRows::Skip)?;
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
    Ok((Some(train), test))
}

/// The titles of the original AG News test set, labelled by class name.
fn ag_news_test_titles() -> Result<(Option<Vec<usize>>, Vec<Labelled>)> {
    let resolved = Resolver::from_env().resolve("ag-news-test")?;
    let fmt = LabelledFormat {
        delimiter: Delimiter::Csv,
        header: false,
        text: vec![Column::Index(1)],
        label: Column::Index(0),
    };
    let names = ["World", "Sports", "Business", "Sci/Tech"];
    let test = read_labelled(&resolved.path, &fmt)?
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let id: usize = e.label.trim().parse().unwrap_or(0);
            match names.get(id.wrapping_sub(1)) {
                Some(name) => Ok(Labelled {
                    text: e.text,
                    label: name.to_string(),
                }),
                None => Err(Error::Config(format!(
                    "{}: row {}: class id `{}`, expected 1 to 4",
                    resolved.path.display(),
                    i + 1,
                    e.label
                ))),
            }
        })
        .collect::<Result<_>>()?;
    Ok((None, test))
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

/// The saved description of a model: enough to rebuild and use it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedClassifier {
    /// The architecture.
    pub model: ClassifierConfig,
    /// The text pipeline.
    pub text: TextConfig,
}

/// Writes rows as `text<TAB>label` lines (tabs and newlines in texts become spaces).
fn write_rows(dir: &ModelDir, name: &str, rows: &[Labelled]) -> Result<()> {
    let mut out = Vec::new();
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    writeln!(out, "text\tlabel").map_err(|e| Error::io(name, e))?;
    for r in rows {
        writeln!(out, "{}\t{}", clean(&r.text), clean(&r.label)).map_err(|e| Error::io(name, e))?;
    }
    dir.write_bytes(name, &out)
}

/// Reads rows saved by [`train`] (`valid.tsv` / `test.tsv`).
pub fn held_out(dir: &Path, split: &str) -> Result<Vec<Labelled>> {
    let fmt = LabelledFormat {
        delimiter: Delimiter::Tsv,
        header: true,
        text: vec![Column::Name("text".into())],
        label: Column::Name("label".into()),
    };
    read_labelled(&dir.join(format!("{split}.tsv")), &fmt)
}

/// What [`train`] did.
#[derive(Debug)]
pub struct TrainReport {
    /// The trainer's summary.
    pub summary: Summary,
    /// Sizes of the three splits.
    pub sizes: (usize, usize, usize),
    /// Vocabulary size and classes.
    pub vocab: usize,
    /// The classes.
    pub classes: Vec<String>,
    /// Vocabulary coverage of `--embeddings`, when given.
    pub coverage: Option<Coverage>,
}

/// Trains a classifier into `out`, or resumes the run there.
pub fn train(
    cfg: &ClassifyConfig,
    out: &Path,
    start: Start,
    threads: usize,
    quiet: bool,
) -> Result<TrainReport> {
    train_member(cfg, out, start, threads, quiet, quiet)
}

/// [`train`] with the data warnings (which repeat for every member of an
/// ensemble) silenced apart from the progress output.
fn train_member(
    cfg: &ClassifyConfig,
    out: &Path,
    start: Start,
    threads: usize,
    quiet: bool,
    silent_progress: bool,
) -> Result<TrainReport> {
    cfg.train.validate()?;
    cfg.text.validate()?;
    if cfg.text.ngrams > 1 && cfg.model.encoder != super::Encoder::Bag {
        return Err(Error::Config(format!(
            "ngrams = {} needs the bag encoder (--encoder bag): an RNN reads the tokens in order, n-grams are for a bag",
            cfg.text.ngrams
        )));
    }
    let (dir, lock, start) = ModelDir::for_training(out, start)?;
    warn_taken_over(&lock, quiet);
    let source = Resolver::from_env().resolve(&cfg.data.dataset)?.path;
    if start == Start::Resume {
        dir.check_data(&source)?;
    }
    let data = prepare(&cfg.data)?;
    if let (Some(w), false) = (&data.warning, quiet) {
        eprintln!("{w}");
    }
    let (vocab, classes) = match start {
        Start::Fresh => {
            let vcfg = VocabConfig {
                min_freq: cfg.data.min_freq,
                max_size: cfg.data.max_vocab,
                specials: Specials::of(&["<pad>", "<unk>"]),
            };
            let vocab = Vocab::build(
                data.train.iter().flat_map(|r| cfg.text.tokens(&r.text)),
                &vcfg,
            )?;
            (vocab, classes_of(&data.train))
        }
        Start::Resume => (
            Vocab::load(&dir.file("vocab.json"))?,
            dir.read_json("classes.json")?,
        ),
    };
    if !quiet {
        let max = cfg.text.max_tokens();
        let cut = truncated(&cfg.text, max, [&data.train, &data.valid, &data.test]);
        if cut > 0 {
            eprintln!(
                "warning: {cut} texts have more than max_len = {max} tokens and are truncated"
            );
        }
    }
    let pretrained = match (&cfg.embeddings, start) {
        (Some(path), Start::Fresh) => {
            let (vectors, report) = crate::embed::format::load_report(path, None)?;
            if let (Some(w), false) = (report.warning(path), quiet) {
                eprintln!("{w}");
            }
            Some(vectors)
        }
        _ => None,
    };
    let model_cfg = ClassifierConfig {
        vocab: vocab.len(),
        classes: classes.len(),
        pad_id: vocab.pad_id(),
        embed: pretrained.as_ref().map_or(cfg.model.embed, |v| v.dim()),
        ..cfg.model.clone()
    };
    model_cfg.validate()?;
    let params = ParamStore::new(cfg.train.seed);
    let model = Classifier::new(
        &model_cfg,
        params.var_builder(candle_core::DType::F32, &candle_core::Device::Cpu),
    )?;
    let coverage = match &pretrained {
        Some(vectors) => {
            let c = load_pretrained(&params, &vocab, vectors)?;
            if !quiet {
                eprintln!(
                    "embeddings: {} of {} vocabulary tokens found in {} ({:.1} %){}",
                    c.found,
                    c.tokens,
                    cfg.embeddings
                        .as_ref()
                        .map_or(String::new(), |p| p.display().to_string()),
                    100.0 * c.found as f64 / c.tokens.max(1) as f64,
                    if model_cfg.freeze_embeddings {
                        ", frozen"
                    } else {
                        ""
                    }
                );
            }
            Some(c)
        }
        None => None,
    };
    if start == Start::Fresh {
        dir.write_json(
            "config.json",
            &SavedClassifier {
                model: model_cfg.clone(),
                text: cfg.text.clone(),
            },
        )?;
        dir.write_vocab("vocab.json", &vocab)?;
        dir.write_json("classes.json", &classes)?;
        write_rows(&dir, "valid.tsv", &data.valid)?;
        write_rows(&dir, "test.tsv", &data.test)?;
        dir.record_data(&source)?;
    }
    // A resume records what it may change (epochs, limits), so the next
    // `--resume` goes on with them.
    dir.write_json(TRAIN_CONFIG, cfg)?;
    let encode = |rows: &[Labelled]| -> Result<Vec<Example>> {
        rows.iter()
            .filter_map(|r| {
                // Validation rows of a class unseen in training cannot be scored.
                let label = classes.iter().position(|c| *c == r.label)? as u32;
                Some(
                    cfg.text
                        .encode(&r.text, &vocab)
                        .map(|ids| Example { ids, label }),
                )
            })
            .collect()
    };
    let weights = cfg
        .inverse_class_weights
        .then(|| inverse_weights(&data.train, &classes));
    let task = ClassifyTask::new(
        model,
        params,
        classes.clone(),
        encode(&data.train)?,
        encode(&data.valid)?,
        weights,
        &cfg.task,
        cfg.train.seed,
    )?;
    let summary = Trainer::new(cfg.train.clone(), dir)?
        .threads(threads)
        .quiet(silent_progress)
        .fit(&task, start)?;
    Ok(TrainReport {
        summary,
        sizes: (data.train.len(), data.valid.len(), data.test.len()),
        vocab: vocab.len(),
        classes,
        coverage,
    })
}

/// The plan of an ensemble being trained (its member directories), written
/// before the first member so that a resume knows the ensemble's size.
const ENSEMBLE_PLAN: &str = "ensemble_plan.json";

/// The number of members of the ensemble whose training `out` holds, if it
/// holds one (so `--resume` needs no `--ensemble`).
pub fn planned_ensemble(out: &Path) -> Result<Option<usize>> {
    let path = out.join(ENSEMBLE_PLAN);
    if !path.is_file() {
        return Ok(None);
    }
    let plan: SavedEnsemble = crate::train::model_dir::read_json(&path)?;
    Ok(Some(plan.members.len()))
}

/// Trains an ensemble of `n` classifiers on the same split into `out`:
/// member `k` (from 1) with seed `cfg.train.seed + k − 1` in `out/member-k`
/// (a complete model directory), then `ensemble.json` and the held-out rows
/// (`valid.tsv`, `test.tsv`) beside them, so `out` loads as one model
/// ([`Predictor::load`](super::Predictor::load)) and `classify eval` scores its test split. With
/// [`Start::Resume`], members whose directory exists resume (a finished one
/// stays as it is) and the rest start fresh, so an interrupted ensemble goes on.
pub fn train_ensemble(
    cfg: &ClassifyConfig,
    out: &Path,
    n: usize,
    start: Start,
    threads: usize,
    quiet: bool,
) -> Result<Vec<TrainReport>> {
    if n == 0 {
        return Err(Error::Config(
            "an ensemble needs at least one member".into(),
        ));
    }
    let (dir, lock, _) = ModelDir::for_training(out, start)?;
    warn_taken_over(&lock, quiet);
    let names: Vec<String> = (1..=n).map(|k| format!("member-{k}")).collect();
    if start == Start::Fresh {
        if let Some(trained) = names
            .iter()
            .find(|m| out.join(m).join(TRAIN_CONFIG).is_file())
        {
            return Err(Error::Checkpoint {
                path: out.to_path_buf(),
                msg: format!(
                    "already holds an ensemble ({trained} is trained): continue it with --resume, or train into an empty directory"
                ),
            });
        }
        // The plan first, so a resume knows the ensemble and its size.
        dir.write_json(TRAIN_CONFIG, cfg)?;
        dir.write_json(
            ENSEMBLE_PLAN,
            &SavedEnsemble {
                members: names.clone(),
                weights: None,
            },
        )?;
    }
    let mut reports = Vec::with_capacity(n);
    for (k, name) in names.iter().enumerate() {
        let member = out.join(name);
        let member_start = match start {
            Start::Resume if member.join(TRAIN_CONFIG).is_file() => Start::Resume,
            _ => Start::Fresh,
        };
        let mut c = cfg.clone();
        c.train.seed = cfg.train.seed.wrapping_add(k as u64);
        if !quiet {
            eprintln!("ensemble member {}/{n} (seed {})", k + 1, c.train.seed);
        }
        reports.push(train_member(
            &c,
            &member,
            member_start,
            threads,
            quiet || k > 0,
            quiet,
        )?);
        if reports.last().is_some_and(|r| r.summary.interrupted) {
            // Stopped by a signal: the member has its checkpoint, and the
            // ensemble is finished by a resume.
            return Ok(reports);
        }
    }
    for split in ["valid.tsv", "test.tsv"] {
        let bytes = std::fs::read(out.join(&names[0]).join(split))
            .map_err(|e| Error::io(out.join(&names[0]).join(split), e))?;
        dir.write_bytes(split, &bytes)?;
    }
    dir.write_json(TRAIN_CONFIG, cfg)?;
    dir.write_json(
        ENSEMBLE,
        &SavedEnsemble {
            members: names,
            weights: None,
        },
    )?;
    Ok(reports)
}

/// The files of a member that prediction and evaluation read (checkpoints,
/// which only resume training, and the plots stay behind).
const MEMBER_FILES: [&str; 8] = [
    "config.json",
    "vocab.json",
    "classes.json",
    WEIGHTS,
    "train_config.json",
    "history.csv",
    "valid.tsv",
    "test.tsv",
];

/// Joins trained models — single models or ensembles, of any architectures —
/// into one ensemble in `out` (which must not exist yet): each model (each
/// member of an ensemble) is copied into `out/member-k`. All must classify
/// into the same classes and have been trained on the same split (identical
/// `valid.tsv` and `test.tsv`), since averaging models that saw each other's
/// test rows in training would score the ensemble on data it learned from.
///
/// `weights` (one per model, positive) weigh the models in the mean; an
/// ensemble's weight is shared among its members as they were weighted in
/// it. Without them every member weighs the same, as in `--ensemble N`
/// (an ensemble of five counts five times a single model) — unless a joined
/// ensemble was itself weighted, whose members keep their proportions.
/// Returns the number of members.
pub fn assemble_ensemble(models: &[PathBuf], weights: Option<&[f64]>, out: &Path) -> Result<usize> {
    if models.is_empty() {
        return Err(Error::Config("an ensemble needs at least one model".into()));
    }
    if let Some(w) = weights
        && (w.len() != models.len() || !w.iter().all(|x| x.is_finite() && *x > 0.0))
    {
        return Err(Error::Config(format!(
            "expected {} positive weights, one per model, got {w:?}",
            models.len()
        )));
    }
    if out.exists() {
        return Err(Error::Config(format!(
            "{}: already exists; an ensemble is assembled into a new directory",
            out.display()
        )));
    }
    let mut singles = Vec::new();
    let mut member_weights = Vec::new();
    for (i, m) in models.iter().enumerate() {
        let members = super::Predictor::members_of(m)?.unwrap_or_else(|| vec![m.clone()]);
        let within = super::Predictor::weights_of(m)?;
        let scale = weights.map_or(members.len() as f64, |w| w[i]);
        member_weights.extend(within.iter().map(|u| u * scale));
        singles.extend(members);
    }
    let uniform = member_weights
        .iter()
        .all(|w| (w - member_weights[0]).abs() <= 1e-12 * w.abs());
    let first = &singles[0];
    let classes = super::Predictor::load(first)?.classes().to_vec();
    let split = |dir: &Path| -> Result<[Vec<u8>; 2]> {
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| Error::io(p, e))
        };
        Ok([read("valid.tsv")?, read("test.tsv")?])
    };
    let held = split(first)?;
    for m in &singles[1..] {
        if super::Predictor::load(m)?.classes() != classes.as_slice() {
            return Err(Error::Config(format!(
                "{}: other classes than {}",
                m.display(),
                first.display()
            )));
        }
        if split(m)? != held {
            return Err(Error::Config(format!(
                "{}: trained on another split than {} (valid.tsv or test.tsv differ)",
                m.display(),
                first.display()
            )));
        }
    }
    let dir = ModelDir::create(out)?;
    let mut names = Vec::with_capacity(singles.len());
    for (k, m) in singles.iter().enumerate() {
        let name = format!("member-{}", k + 1);
        let member = ModelDir::create(out.join(&name))?;
        for file in MEMBER_FILES {
            let from = m.join(file);
            if !from.is_file() {
                continue;
            }
            let bytes = std::fs::read(&from).map_err(|e| Error::io(from, e))?;
            member.write_bytes(file, &bytes)?;
        }
        names.push(name);
    }
    dir.write_bytes("valid.tsv", &held[0])?;
    dir.write_bytes("test.tsv", &held[1])?;
    dir.write_json(
        ENSEMBLE,
        &SavedEnsemble {
            members: names,
            weights: (!uniform).then_some(member_weights),
        },
    )?;
    Ok(singles.len())
}

/// How many of `splits`' texts have more than `max` tokens.
fn truncated(text: &TextConfig, max: usize, splits: [&[Labelled]; 3]) -> usize {
    // One token past the limit tells a cut text, without reading it whole.
    let past = TextConfig {
        max_len: Some(max.saturating_add(1)),
        ngrams: 1,
        ..text.clone()
    };
    splits
        .iter()
        .flat_map(|rows| rows.iter())
        .filter(|r| past.tokens(&r.text).len() > max)
        .count()
}

/// How many vocabulary tokens a vector file covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coverage {
    /// Tokens other than the specials.
    pub tokens: usize,
    /// Of those, tokens the file has a vector for.
    pub found: usize,
}

/// Copies the vectors of `vectors` into the embedding table of `params`
/// for every token of `vocab` they hold (exactly, else lowercased).
fn load_pretrained(
    params: &ParamStore,
    vocab: &Vocab,
    vectors: &crate::embed::Embeddings,
) -> Result<Coverage> {
    let var = params
        .get("embedding.weight")
        .ok_or_else(|| Error::Config("the classifier has no embedding table".into()))?;
    let dim = vectors.dim();
    let mut table: Vec<f32> = var
        .as_tensor()
        .to_dtype(DType::F32)?
        .flatten_all()?
        .to_vec1()?;
    let specials = vocab.specials().0.len();
    let mut found = 0;
    for (id, row) in table.chunks_exact_mut(dim).enumerate().skip(specials) {
        let token = vocab.token(id as u32).unwrap_or_default();
        let hit = vectors
            .get(token)
            .or_else(|| vectors.get(&token.to_lowercase()));
        if let Some(v) = hit {
            row.copy_from_slice(v);
            found += 1;
        }
    }
    let t = Tensor::from_vec(table, var.dims(), var.device())?.to_dtype(var.dtype())?;
    var.set(&t)?;
    Ok(Coverage {
        tokens: vocab.len() - specials,
        found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn ngrams_follow_the_tokens_shortest_first() -> Result<()> {
        let chars = TextConfig {
            ngrams: 3,
            ..TextConfig::default()
        };
        chars.validate()?;
        assert_eq!(
            chars.tokens("Abé"),
            strings(&["A", "b", "é", "<A", "Ab", "bé", "é>", "<Ab", "Abé", "bé>"])
        );
        // max_len cuts the tokens first; a one-letter name still has its marks.
        let short = TextConfig {
            max_len: Some(1),
            ..chars.clone()
        };
        assert_eq!(short.tokens("Abé"), strings(&["A", "<A", "A>", "<A>"]));
        let words = TextConfig {
            level: Level::Word,
            normalize: NormalizeConfig::default(),
            ngrams: 2,
            ..TextConfig::default()
        };
        assert_eq!(
            words.tokens("Oil prices rise"),
            strings(&["oil", "prices", "rise", "oil prices", "prices rise"])
        );
        assert_eq!(TextConfig::default().tokens("Ab"), strings(&["A", "b"]));
        for bad in [0, MAX_NGRAMS + 1] {
            let cfg = TextConfig {
                ngrams: bad,
                ..TextConfig::default()
            };
            assert!(cfg.validate().is_err(), "{bad}");
        }
        Ok(())
    }
}
