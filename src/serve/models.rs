//! The served models: `NAME=PATH` pairs loaded at start-up, each kind told
//! apart by what its directory holds, each behind its own queue.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::answers::ModelInfo;
use super::batcher::Queue;
use super::engines::{ClassifyEngine, GenerateEngine, TranslateEngine, VectorsEngine};
use super::error::ApiError;
use super::limits::Limits;
use super::metrics::Metrics;
use crate::classify::Predictor;
use crate::data::vectors;
use crate::lm::Generator;
use crate::seq2seq::{DecodeConfig, Translator};
use crate::{Error, Result};

/// The kinds of model the server answers for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// A `translate train` (or `import-pytorch`) directory.
    Translator,
    /// A `classify train` directory, or a classifier ensemble's.
    Classifier,
    /// An `lm train` directory.
    LanguageModel,
    /// A word-vector file (word2vec text or binary, GloVe).
    Vectors,
}

impl ModelKind {
    /// The kind's name in the API.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Translator => "translator",
            ModelKind::Classifier => "classifier",
            ModelKind::LanguageModel => "language-model",
            ModelKind::Vectors => "vectors",
        }
    }

    /// What a path holds: a file is a vector file; a model directory is
    /// what the task module that reads it recognises.
    pub fn detect(path: &Path) -> Result<ModelKind> {
        if path.is_file() {
            return Ok(ModelKind::Vectors);
        }
        if !path.is_dir() {
            return Err(Error::Config(format!(
                "{}: no such model directory or vector file",
                path.display()
            )));
        }
        if Translator::is_model_dir(path) {
            return Ok(ModelKind::Translator);
        }
        if Predictor::is_model_dir(path) {
            return Ok(ModelKind::Classifier);
        }
        if Generator::is_model_dir(path) {
            return Ok(ModelKind::LanguageModel);
        }
        Err(Error::Config(format!(
            "{}: not a translation, classifier or language model directory, nor a vector file",
            path.display()
        )))
    }
}

/// A loaded model behind its queue.
pub enum Served {
    /// Translation, with the model's own decode section (the defaults of
    /// `translate run`).
    Translator(Queue<TranslateEngine>, DecodeConfig),
    /// Classification.
    Classifier(Queue<ClassifyEngine>),
    /// Generation, with the model's saved defaults and the length it
    /// generates when a request names none.
    LanguageModel(Queue<GenerateEngine>, crate::lm::LmDecodeConfig, usize),
    /// Nearest words and analogies.
    Vectors(Queue<VectorsEngine>),
}

impl Served {
    /// The model's kind.
    pub fn kind(&self) -> ModelKind {
        match self {
            Served::Translator(..) => ModelKind::Translator,
            Served::Classifier(_) => ModelKind::Classifier,
            Served::LanguageModel(..) => ModelKind::LanguageModel,
            Served::Vectors(_) => ModelKind::Vectors,
        }
    }
}

/// Every served model, by name.
pub struct Models {
    entries: Vec<(String, Served)>,
    infos: Vec<ModelInfo>,
}

fn io_err(e: std::io::Error) -> Error {
    Error::Config(format!("cannot start a model worker thread: {e}"))
}

impl Models {
    /// Loads each `(name, path)` and starts its worker; names must be
    /// unique and non-empty.
    pub fn load(specs: &[(String, PathBuf)], limits: &Limits, metrics: &Metrics) -> Result<Self> {
        let mut entries = Vec::new();
        let mut infos = Vec::new();
        for (name, path) in specs {
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(Error::Config(format!(
                    "model name {name:?}: expected a name without spaces, as in NAME=DIR"
                )));
            }
            if entries.iter().any(|(n, _): &(String, Served)| n == name) {
                return Err(Error::Config(format!("model name `{name}` is given twice")));
            }
            let (served, summary) = load_one(name, path, limits, metrics).map_err(|e| {
                let cause = match e {
                    Error::Config(m) => m,
                    other => other.to_string(),
                };
                Error::Config(format!("model `{name}` ({}): {cause}", path.display()))
            })?;
            infos.push(ModelInfo {
                name: name.clone(),
                kind: served.kind().name().into(),
                path: path.display().to_string(),
                summary,
            });
            entries.push((name.clone(), served));
        }
        if entries.is_empty() {
            return Err(Error::Config(
                "nothing to serve: give at least one --model NAME=PATH".into(),
            ));
        }
        Ok(Models { entries, infos })
    }

    /// What `GET /v1/models` lists.
    pub fn infos(&self) -> &[ModelInfo] {
        &self.infos
    }

    /// The model a request names, which must be of `kind`; without a name,
    /// the only model of that kind. `pick` takes out of it what the
    /// endpoint needs (its queue and defaults), which a model of `kind` has.
    pub fn get<'a, T>(
        &'a self,
        name: Option<&str>,
        kind: ModelKind,
        pick: impl FnOnce(&'a Served) -> Option<T>,
    ) -> Result<(&'a str, T), ApiError> {
        let of_kind = || self.entries.iter().filter(|(_, s)| s.kind() == kind);
        let (n, served) = match name {
            Some(name) => self
                .entries
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = of_kind().map(|(n, _)| n.as_str()).collect();
                    ApiError {
                        status: axum::http::StatusCode::NOT_FOUND,
                        ..ApiError::field(
                            "model",
                            format!(
                                "no model named `{}`; {} models: {}",
                                crate::error::excerpt(name),
                                kind.name(),
                                if known.is_empty() {
                                    "none".into()
                                } else {
                                    known.join(", ")
                                }
                            ),
                        )
                    }
                })?,
            None => {
                let mut all = of_kind();
                match (all.next(), all.next()) {
                    (Some(one), None) => one,
                    (None, _) => {
                        return Err(ApiError::field(
                            "model",
                            format!("no {} model is served", kind.name()),
                        ));
                    }
                    (Some(_), Some(_)) => {
                        return Err(ApiError::field(
                            "model",
                            format!("several {} models are served: name one", kind.name()),
                        ));
                    }
                }
            }
        };
        if served.kind() != kind {
            return Err(ApiError::field(
                "model",
                format!(
                    "model `{n}` is a {}, not a {}",
                    served.kind().name(),
                    kind.name()
                ),
            ));
        }
        let picked = pick(served).ok_or_else(|| ApiError::internal("model kind mismatch"))?;
        Ok((n.as_str(), picked))
    }
}

fn load_one(
    name: &str,
    path: &Path,
    limits: &Limits,
    m: &Metrics,
) -> Result<(Served, serde_json::Value)> {
    Ok(match ModelKind::detect(path)? {
        ModelKind::Translator => {
            let tr = Translator::load(path)?;
            let decode = *tr.decode_config();
            let summary = json!({
                "model": tr.model().config(),
                "text": tr.text().config(),
                "decode": decode,
                "src_vocab": tr.src_vocab().len(),
                "tgt_vocab": tr.tgt_vocab().len(),
            });
            let q = Queue::spawn(name, TranslateEngine(tr), limits, m).map_err(io_err)?;
            (Served::Translator(q, decode), summary)
        }
        ModelKind::Classifier => {
            let p = Predictor::load(path)?;
            let summary = json!({
                "classes": p.classes(),
                "members": p.members(),
                "parameters": p.parameters(),
            });
            let q = Queue::spawn(name, ClassifyEngine(p), limits, m).map_err(io_err)?;
            (Served::Classifier(q), summary)
        }
        ModelKind::LanguageModel => {
            let g = Generator::load(path)?;
            let decode = g.decode_config()?;
            let summary = json!({
                "conditions": g.conditions(),
                "stream": g.is_stream(),
                "decode": decode,
            });
            let length = decode.length_for(g.is_stream());
            let q = Queue::spawn(name, GenerateEngine(g), limits, m).map_err(io_err)?;
            (Served::LanguageModel(q, decode, length), summary)
        }
        ModelKind::Vectors => {
            let v = vectors::load(path, None)?;
            let summary = json!({ "words": v.len(), "dim": v.dim() });
            let q = Queue::spawn(name, VectorsEngine(v), limits, m).map_err(io_err)?;
            (Served::Vectors(q), summary)
        }
    })
}
