//! The JSON bodies the API reads, with the checks on each field (the
//! OpenAPI description is made from these types, so the two cannot drift
//! apart); what it answers is in `answers`.

use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::limits::Limits;
use crate::decode::SearchOverrides;

/// `POST /v1/translate`: one text or several, and how to decode them (the
/// model's own settings, `translate run`'s defaults, where a field is absent).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranslateRequest {
    /// A served translation model's name (may be left out when only one is served).
    pub model: Option<String>,
    /// The text to translate (or `texts`).
    pub text: Option<String>,
    /// Several texts, decoded together.
    pub texts: Option<Vec<String>>,
    /// Greedy search (fastest).
    pub greedy: Option<bool>,
    /// Beam search with this many beams (the model's default: 5).
    pub beam: Option<usize>,
    /// Beam search's length-penalty exponent α.
    pub alpha: Option<f64>,
    /// Alternatives returned per text (beam search; at most `beam`).
    pub n_best: Option<usize>,
    /// Sample instead of searching.
    pub sample: Option<bool>,
    /// Sampling temperature (> 0).
    pub temperature: Option<f64>,
    /// Sample among the k most probable tokens.
    pub top_k: Option<usize>,
    /// Sample among the most probable tokens holding probability p.
    pub top_p: Option<f64>,
    /// Seed of the draws (sampling; default 42).
    pub seed: Option<u64>,
    /// Return the attention matrices (default true).
    pub attention: Option<bool>,
}

/// `POST /v1/classify`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    /// A served classifier's name (may be left out when only one is served).
    pub model: Option<String>,
    /// The text to classify (or `texts`).
    pub text: Option<String>,
    /// Several texts, classified together.
    pub texts: Option<Vec<String>>,
}

/// `POST /v1/generate`: text from a language model.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    /// A served language model's name (may be left out when only one is served).
    pub model: Option<String>,
    /// Text the output continues.
    pub prime: Option<String>,
    /// The condition of a conditioned model (one of its labels).
    pub condition: Option<String>,
    /// Tokens to generate at most (default: the model's).
    pub length: Option<usize>,
    /// Texts to generate (default 1).
    pub count: Option<usize>,
    /// Greedy decoding.
    pub greedy: Option<bool>,
    /// Beam search with this many beams.
    pub beam: Option<usize>,
    /// Sampling temperature (> 0).
    pub temperature: Option<f64>,
    /// Sample among the k most probable tokens.
    pub top_k: Option<usize>,
    /// Sample among the most probable tokens holding probability p.
    pub top_p: Option<f64>,
    /// Seed of the draws (default 42).
    pub seed: Option<u64>,
}

/// `POST /v1/similar`: the nearest words to a word, or to a sum of words.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimilarRequest {
    /// A served vector file's name (may be left out when only one is served).
    pub model: Option<String>,
    /// The word (or `positive`/`negative`).
    pub word: Option<String>,
    /// Words added to the query.
    pub positive: Option<Vec<String>>,
    /// Words subtracted from the query.
    pub negative: Option<Vec<String>>,
    /// Neighbours returned (default 10).
    pub n: Option<usize>,
}

/// `POST /v1/analogy`: `a : b :: c : ?`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalogyRequest {
    /// A served vector file's name (may be left out when only one is served).
    pub model: Option<String>,
    /// `a` of `a : b :: c : ?`.
    pub a: String,
    /// `b`.
    pub b: String,
    /// `c`.
    pub c: String,
    /// Answers returned (default 10).
    pub n: Option<usize>,
    /// `cosadd` (3CosAdd, the default) or `cosmul` (3CosMul).
    pub method: Option<String>,
}

/// The texts of a request with `text` or `texts` (exactly one of them),
/// each non-empty and within the limits.
pub fn texts(
    text: Option<String>,
    texts: Option<Vec<String>>,
    limits: &Limits,
) -> Result<Vec<String>, ApiError> {
    let (all, name) = match (text, texts) {
        (Some(t), None) => (vec![t], "text"),
        (None, Some(ts)) => (ts, "texts"),
        (Some(_), Some(_)) => {
            return Err(ApiError::field("texts", "give `text` or `texts`, not both"));
        }
        (None, None) => {
            return Err(ApiError::field(
                "text",
                "expected `text` (a string) or `texts` (an array of strings)",
            ));
        }
    };
    if all.is_empty() {
        return Err(ApiError::field(name, "expected at least one text"));
    }
    if all.len() > limits.max_texts {
        return Err(ApiError::field(
            name,
            format!(
                "expected at most {} texts in one request, got {}",
                limits.max_texts,
                all.len()
            ),
        ));
    }
    for (i, t) in all.iter().enumerate() {
        let field = || match name {
            "text" => "text".to_string(),
            _ => format!("texts[{i}]"),
        };
        if t.trim().is_empty() {
            return Err(ApiError::field(field(), "expected a non-empty text"));
        }
        let chars = t.chars().count();
        if chars > limits.max_text_chars {
            return Err(ApiError::field(
                field(),
                format!(
                    "expected at most {} characters, got {chars}",
                    limits.max_text_chars
                ),
            ));
        }
    }
    Ok(all)
}

impl TranslateRequest {
    /// The search fields as overrides of the model's saved search, with
    /// the conflicts `translate run`'s flags reject named by field.
    pub fn overrides(&self) -> Result<SearchOverrides, ApiError> {
        let o = SearchOverrides {
            greedy: self.greedy.unwrap_or(false),
            sample: self.sample.unwrap_or(false),
            beam: self.beam,
            alpha: self.alpha,
            n_best: self.n_best,
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            seed: self.seed,
        };
        check_search(&o)?;
        if o.sampling_knob() && !o.sample {
            let field = if self.temperature.is_some() {
                "temperature"
            } else if self.top_k.is_some() {
                "top_k"
            } else {
                "top_p"
            };
            return Err(ApiError::field(field, "sampling knobs need `sample`: true"));
        }
        Ok(o)
    }
}

impl GenerateRequest {
    /// The search fields as overrides of the model's saved search.
    pub fn overrides(&self) -> Result<SearchOverrides, ApiError> {
        let o = SearchOverrides {
            greedy: self.greedy.unwrap_or(false),
            beam: self.beam,
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            seed: self.seed,
            ..SearchOverrides::default()
        };
        check_search(&o)?;
        if o.beam.is_some() && o.sampling_knob() {
            return Err(ApiError::field(
                "beam",
                "beam search does not sample: leave out `temperature`, `top_k` and `top_p`",
            ));
        }
        Ok(o)
    }
}

/// The conflicts between search fields common to both requests.
fn check_search(o: &SearchOverrides) -> Result<(), ApiError> {
    if o.greedy && (o.beam_knob() || o.sample || o.sampling_knob()) {
        return Err(ApiError::field(
            "greedy",
            "greedy search takes no beam or sampling fields",
        ));
    }
    if o.sample && o.beam_knob() {
        return Err(ApiError::field(
            "sample",
            "sampling takes no beam fields (`beam`, `alpha`, `n_best`)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_texts: 2,
            max_text_chars: 5,
            ..Limits::default()
        }
    }

    #[test]
    fn texts_are_checked_one_by_one_and_named() {
        let l = limits();
        assert_eq!(texts(Some("ab".into()), None, &l).unwrap(), vec!["ab"]);
        let e = texts(None, Some(vec!["a".into(), " ".into()]), &l).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("texts[1]"));
        let e = texts(Some("abcdef".into()), None, &l).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("text"));
        let e = texts(None, Some(vec!["a".into(); 3]), &l).unwrap_err();
        assert!(e.message.contains("at most 2"), "{}", e.message);
        assert!(texts(None, Some(vec![]), &l).is_err());
        assert!(texts(None, None, &l).is_err());
        assert!(texts(Some("a".into()), Some(vec![]), &l).is_err());
    }

    #[test]
    fn conflicting_search_fields_are_named() {
        let r = TranslateRequest {
            greedy: Some(true),
            beam: Some(3),
            ..Default::default()
        };
        assert_eq!(r.overrides().unwrap_err().field.as_deref(), Some("greedy"));
        let r = TranslateRequest {
            top_k: Some(3),
            ..Default::default()
        };
        assert_eq!(r.overrides().unwrap_err().field.as_deref(), Some("top_k"));
        let r = GenerateRequest {
            beam: Some(2),
            temperature: Some(0.5),
            ..Default::default()
        };
        assert_eq!(r.overrides().unwrap_err().field.as_deref(), Some("beam"));
        let ok = TranslateRequest {
            beam: Some(3),
            n_best: Some(2),
            ..Default::default()
        };
        assert_eq!(ok.overrides().unwrap().beam, Some(3));
    }
}
