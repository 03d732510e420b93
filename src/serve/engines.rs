//! Each model kind as an [`Engine`]: what one request asks of it, which
//! requests share a batch, and the answer in the API's types.

use super::answers::{
    ClassProbability, Classification, GeneratedText, Hypothesis, Neighbour, TranslationResult,
};
use super::batcher::Engine;
use super::error::ApiError;
use crate::classify::Predictor;
use crate::data::vectors::{AnalogyMethod, Embeddings};
use crate::decode::Search;
use crate::lm::{GenerateConfig, Generator};
use crate::seq2seq::{DecodeConfig, Translation, Translator};

/// A translation request: texts and how to decode them.
pub struct TranslateJob {
    /// The texts.
    pub texts: Vec<String>,
    /// The model's decode section with the request's choices over it.
    pub decode: DecodeConfig,
    /// Whether to return attention matrices.
    pub attention: bool,
}

/// A translation model.
pub struct TranslateEngine(pub Translator);

impl Engine for TranslateEngine {
    type Input = TranslateJob;
    type Output = Vec<TranslationResult>;

    fn size(input: &TranslateJob) -> usize {
        input.texts.len()
    }

    /// Requests with the same search share a batch, except sampling: a
    /// request's draws must not depend on who else was waiting.
    fn joins(a: &TranslateJob, b: &TranslateJob) -> bool {
        a.decode == b.decode && !matches!(a.decode.search, Search::Sample { .. })
    }

    fn run(&mut self, inputs: Vec<TranslateJob>) -> Vec<Result<Self::Output, ApiError>> {
        let Some(first) = inputs.first() else {
            return Vec::new();
        };
        let mut decode = first.decode;
        decode.batch_size = inputs.iter().map(Self::size).sum::<usize>().max(1);
        let texts: Vec<&str> = inputs
            .iter()
            .flat_map(|j| j.texts.iter().map(String::as_str))
            .collect();
        let all = self.0.translate_n_best(&texts, &decode);
        share(&inputs, Self::size, all, |job, n_best| {
            result(n_best, job.attention)
        })
    }
}

/// Hands each input its share of a batch's results (one per text, in
/// input order), made into answers by `answer(input, result)`; a
/// failed batch fails every input with the same error.
fn share<I, T, U>(
    inputs: &[I],
    size: fn(&I) -> usize,
    results: crate::Result<Vec<T>>,
    mut answer: impl FnMut(&I, T) -> U,
) -> Vec<Result<Vec<U>, ApiError>> {
    let mut all = match results {
        Ok(all) => all.into_iter(),
        Err(e) => {
            let e = ApiError::from(e);
            return inputs.iter().map(|_| Err(e.clone())).collect();
        }
    };
    inputs
        .iter()
        .map(|input| {
            Ok(all
                .by_ref()
                .take(size(input))
                .map(|r| answer(input, r))
                .collect())
        })
        .collect()
}

fn result(n_best: Vec<Translation>, attention: bool) -> TranslationResult {
    let source_tokens = n_best
        .first()
        .map(|t| t.source_tokens.clone())
        .unwrap_or_default();
    let n = source_tokens.len();
    let hypotheses: Vec<Hypothesis> = n_best
        .into_iter()
        .map(|t| Hypothesis {
            // The tutorial decoder attends over all its `max_length`
            // slots; the ones past the source are empty.
            attention: attention.then(|| {
                t.attention
                    .iter()
                    .map(|row| row.iter().take(n).copied().collect())
                    .collect()
            }),
            text: t.text,
            tokens: t.tokens,
            score: t.score,
            log_prob: t.log_prob,
            finished: t.finished,
        })
        .collect();
    TranslationResult {
        text: hypotheses
            .first()
            .map(|h| h.text.clone())
            .unwrap_or_default(),
        source_tokens,
        hypotheses,
    }
}

/// A classifier (or an ensemble of them).
pub struct ClassifyEngine(pub Predictor);

impl Engine for ClassifyEngine {
    type Input = Vec<String>;
    type Output = Vec<Classification>;

    fn size(input: &Vec<String>) -> usize {
        input.len()
    }

    fn joins(_: &Vec<String>, _: &Vec<String>) -> bool {
        true
    }

    fn run(&mut self, inputs: Vec<Vec<String>>) -> Vec<Result<Self::Output, ApiError>> {
        let texts: Vec<&str> = inputs.iter().flatten().map(String::as_str).collect();
        let all = self.0.predict(&texts);
        share(&inputs, Self::size, all, |_, p| Classification {
            label: p.classes.first().map(|c| c.0.clone()).unwrap_or_default(),
            classes: p
                .classes
                .into_iter()
                .map(|(label, probability)| ClassProbability { label, probability })
                .collect(),
            tokens: p.tokens,
            attention: p.attention,
        })
    }
}

/// A language model; each request is generated alone (its length and
/// draws are its own).
pub struct GenerateEngine(pub Generator);

impl Engine for GenerateEngine {
    type Input = GenerateConfig;
    type Output = Vec<GeneratedText>;

    fn size(input: &GenerateConfig) -> usize {
        input.count
    }

    fn joins(_: &GenerateConfig, _: &GenerateConfig) -> bool {
        false
    }

    fn run(&mut self, inputs: Vec<GenerateConfig>) -> Vec<Result<Self::Output, ApiError>> {
        inputs
            .iter()
            .map(|cfg| {
                let out = self.0.generate(cfg).map_err(|e| {
                    // The library checks the condition against the model's
                    // labels; its message says which are known.
                    let mut e = ApiError::from(e);
                    if e.message.contains("condition") {
                        e.field = Some("condition".into());
                    }
                    e
                })?;
                Ok(out
                    .into_iter()
                    .map(|g| GeneratedText {
                        text: g.text,
                        continuation: g.continuation,
                        log_prob: g.log_prob,
                        finished: g.finished,
                    })
                    .collect())
            })
            .collect()
    }
}

/// A word-vector query.
pub enum VectorQuery {
    /// The `n` nearest words to `positive − negative`.
    Similar {
        /// Words added, each with the request field it came from.
        positive: Vec<(String, String)>,
        /// Words subtracted, with their fields.
        negative: Vec<(String, String)>,
        /// Neighbours returned.
        n: usize,
    },
    /// `a : b :: c : ?`.
    Analogy {
        /// `[a, b, c]` (fields `a`, `b`, `c`).
        words: [String; 3],
        /// 3CosAdd or 3CosMul.
        method: AnalogyMethod,
        /// Answers returned.
        n: usize,
    },
}

/// Word vectors.
pub struct VectorsEngine(pub Embeddings);

impl VectorsEngine {
    /// A 422 naming the first `(field, word)` the vectors do not know.
    fn known<'a>(&self, words: impl Iterator<Item = &'a (String, String)>) -> Result<(), ApiError> {
        for (field, word) in words {
            if self.0.id(word).is_none() {
                return Err(ApiError::field(
                    field.clone(),
                    format!(
                        "`{}` is not among the {} words of these vectors",
                        crate::error::excerpt(word),
                        self.0.len()
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Engine for VectorsEngine {
    type Input = VectorQuery;
    type Output = Vec<Neighbour>;

    fn size(_: &VectorQuery) -> usize {
        1
    }

    fn joins(_: &VectorQuery, _: &VectorQuery) -> bool {
        false
    }

    fn run(&mut self, inputs: Vec<VectorQuery>) -> Vec<Result<Self::Output, ApiError>> {
        inputs
            .iter()
            .map(|q| {
                let found = match q {
                    VectorQuery::Similar {
                        positive,
                        negative,
                        n,
                    } => {
                        self.known(positive.iter().chain(negative))?;
                        let pos: Vec<&str> = positive.iter().map(|(_, w)| w.as_str()).collect();
                        let neg: Vec<&str> = negative.iter().map(|(_, w)| w.as_str()).collect();
                        self.0.most_similar(&pos, &neg, *n, None)?
                    }
                    VectorQuery::Analogy { words, method, n } => {
                        let [a, b, c] = words;
                        let named =
                            [("a", a), ("b", b), ("c", c)].map(|(f, w)| (f.to_string(), w.clone()));
                        self.known(named.iter())?;
                        self.0.analogy([a, b, c], *method, *n, None)?
                    }
                };
                Ok(found
                    .into_iter()
                    .map(|x| Neighbour {
                        word: x.word,
                        score: x.score,
                    })
                    .collect())
            })
            .collect()
    }
}
