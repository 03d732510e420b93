//! The JSON bodies the API answers with (the OpenAPI description is made
//! from these types).

use serde::Serialize;
use utoipa::ToSchema;

/// One hypothesis of a translation.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Hypothesis {
    /// The translation, detokenised.
    pub text: String,
    /// Output tokens (subword pieces for a subword model), without `<eos>`.
    pub tokens: Vec<String>,
    /// The search's ranking score (beam search: length-penalised log-probability).
    pub score: f64,
    /// Sum of the chosen tokens' log-probabilities.
    pub log_prob: f64,
    /// Whether the model ended the sentence (false: cut by the length limit).
    pub finished: bool,
    /// One row per output step (`<eos>` last when finished) over `source_tokens`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attention: Option<Vec<Vec<f32>>>,
}

/// One translated text.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TranslationResult {
    /// The best hypothesis's text.
    pub text: String,
    /// The source tokens the encoder read (`<unk>` for unknown words).
    pub source_tokens: Vec<String>,
    /// Best first: one, or `n_best`.
    pub hypotheses: Vec<Hypothesis>,
}

/// The answer of `POST /v1/translate`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TranslateResponse {
    /// The model that translated.
    pub model: String,
    /// One per input text, in order.
    pub translations: Vec<TranslationResult>,
}

/// A class and its probability.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClassProbability {
    /// The class.
    pub label: String,
    /// Its probability.
    pub probability: f64,
}

/// One classified text.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Classification {
    /// The most probable class.
    pub label: String,
    /// Every class, most probable first.
    pub classes: Vec<ClassProbability>,
    /// The tokens the model read.
    pub tokens: Vec<String>,
    /// Each token's attention weight (attention pooling only), summing to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attention: Option<Vec<f64>>,
}

/// The answer of `POST /v1/classify`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClassifyResponse {
    /// The model that classified.
    pub model: String,
    /// One per input text, in order.
    pub predictions: Vec<Classification>,
}

/// One generated text.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct GeneratedText {
    /// The prime followed by the generated text.
    pub text: String,
    /// The generated part alone.
    pub continuation: String,
    /// The model's log-probability of the generated tokens.
    pub log_prob: f64,
    /// Whether the model ended the text before the length limit.
    pub finished: bool,
}

/// The answer of `POST /v1/generate`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct GenerateResponse {
    /// The model that generated.
    pub model: String,
    /// The texts, best first for beam search.
    pub texts: Vec<GeneratedText>,
}

/// A word and its score.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Neighbour {
    /// The word.
    pub word: String,
    /// Cosine similarity (3CosMul's score for that method).
    pub score: f32,
}

/// The answer of `POST /v1/similar` and `POST /v1/analogy`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NeighboursResponse {
    /// The vectors that answered.
    pub model: String,
    /// Best first.
    pub neighbours: Vec<Neighbour>,
}

/// A served model.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    /// The name requests use.
    pub name: String,
    /// `translator`, `classifier`, `language-model` or `vectors`.
    pub kind: String,
    /// Where it was loaded from.
    pub path: String,
    /// What it is: sizes, vocabularies, decoding defaults, classes.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
}

/// The answer of `GET /v1/models`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ModelsResponse {
    /// Every served model, in the order of `--model`.
    pub models: Vec<ModelInfo>,
}
