//! Tokenisers: whitespace words, characters (Unicode scalar values), and the
//! Made-With-ML AG-News lesson's regex cleaner. [`Tokenizer`] names one in a
//! config file.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::stopwords::NLTK_ENGLISH_STOPWORDS;

/// What a token is, for models that read characters or words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// One token per character (surnames, char-level language models).
    #[default]
    Char,
    /// Whitespace-separated words.
    Word,
}

/// Splits on Unicode whitespace; runs of whitespace never give empty tokens.
pub fn whitespace(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// One token per Unicode scalar value (not per grapheme cluster: a letter
/// followed by a combining accent is two tokens, as in the char-RNN lessons).
pub fn chars(text: &str) -> Vec<String> {
    text.chars().map(String::from).collect()
}

// `\b(i|me|…)\b\s*`, in NLTK's order: the alternation is leftmost-first in
// both Python's `re` and the `regex` crate, so the same stop words match.
static STOPWORDS: LazyLock<Regex> = LazyLock::new(|| {
    let words: Vec<String> = NLTK_ENGLISH_STOPWORDS
        .iter()
        .map(|w| regex::escape(w))
        .collect();
    Regex::new(&format!(r"\b({})\b\s*", words.join("|"))).expect("constant regex")
});
static PARENTHESISED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\([^)]*\)").expect("constant regex"));
static NON_ALNUM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^A-Za-z0-9]+").expect("constant regex"));

/// Options of the AG-News cleaner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CleanConfig {
    /// Remove NLTK's English stop words (the lesson does).
    pub remove_stopwords: bool,
}

impl Default for CleanConfig {
    fn default() -> Self {
        CleanConfig {
            remove_stopwords: true,
        }
    }
}

/// The Made-With-ML text-classification lessons' `preprocess`, for AG News:
///
/// ```python
/// text = text.lower()
/// text = re.sub(r"\b(" + r"|".join(STOPWORDS) + r")\b\s*", "", text)  # optional
/// text = re.sub(r"\([^)]*\)", "", text)        # remove words in parentheses
/// text = re.sub(r"([!\"'#$%&()*+,-./:;<=>?@\\[\\]^_`{|}~])", r" \1 ", text)
/// text = re.sub("[^A-Za-z0-9]+", " ", text)    # remove non-alphanumerics
/// text = re.sub(" +", " ", text)
/// text = text.strip()
/// ```
///
/// The punctuation-spacing step changes nothing in the result (the next step
/// replaces every non-alphanumeric run, punctuation included, by one space),
/// so it is not performed. What comes out is lowercase ASCII letters and digits
/// separated by single spaces; accented letters become separators.
pub fn clean_text(text: &str, cfg: &CleanConfig) -> String {
    let mut t = text.to_lowercase();
    if cfg.remove_stopwords {
        t = STOPWORDS.replace_all(&t, "").into_owned();
    }
    let t = PARENTHESISED.replace_all(&t, "");
    let t = NON_ALNUM.replace_all(&t, " ");
    t.trim_matches(' ').to_string()
}

/// A tokeniser a config file can name: `"whitespace"`, `"char"`, or
/// `{ "ag-news": { "remove_stopwords": false } }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tokenizer {
    /// [`whitespace`].
    #[default]
    Whitespace,
    /// [`chars`].
    Char,
    /// [`clean_text`], then [`whitespace`].
    AgNews(CleanConfig),
}

impl Tokenizer {
    /// Splits `text` into tokens.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        match self {
            Tokenizer::Whitespace => whitespace(text),
            Tokenizer::Char => chars(text),
            Tokenizer::AgNews(cfg) => whitespace(&clean_text(text, cfg)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_and_chars() {
        assert_eq!(whitespace("  a\tb \u{3000}c\n"), ["a", "b", "c"]);
        assert!(whitespace("   ").is_empty());
        assert_eq!(chars("né"), ["n", "é"]);
        assert_eq!(chars("ne\u{301}"), ["n", "e", "\u{301}"]);
    }

    #[test]
    fn ag_news_cleaner() {
        let cfg = CleanConfig::default();
        assert_eq!(
            clean_text("Wall St. Bears Claw Back Into the Black (Reuters)", &cfg),
            "wall st bears claw back black"
        );
        assert_eq!(clean_text("It's a $10 deal -- isn't it?", &cfg), "10 deal");
        // Stop words only match whole words: "another" keeps its "an".
        assert_eq!(clean_text("another theory", &cfg), "another theory");
        let keep = CleanConfig {
            remove_stopwords: false,
        };
        assert_eq!(
            clean_text("Fears for T N pension (after) talks!", &keep),
            "fears for t n pension talks"
        );
        assert_eq!(clean_text("Café", &keep), "caf");
    }

    #[test]
    fn tokenizer_enum_from_config() {
        let t: Tokenizer = serde_json::from_str(r#""char""#).unwrap();
        assert_eq!(t.tokenize("ab"), ["a", "b"]);
        let t: Tokenizer =
            serde_json::from_str(r#"{"ag-news": {"remove_stopwords": true}}"#).unwrap();
        assert_eq!(t.tokenize("The cat (x) sat."), ["cat", "sat"]);
        let t: Tokenizer = serde_json::from_str(r#""whitespace""#).unwrap();
        assert_eq!(t, Tokenizer::Whitespace);
        assert!(serde_json::from_str::<Tokenizer>(r#""bpe""#).is_err());
    }
}
