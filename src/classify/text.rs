//! The text pipeline of a classifier: normalisation, tokens (characters or
//! words), the token limit and fastText's n-grams — saved with the model so
//! prediction reads text exactly as training did.

use serde::{Deserialize, Serialize};

use crate::text::Level;
use crate::text::{NormalizeConfig, Normalizer, Vocab};
use crate::text::{chars, whitespace};
use crate::{Error, Result};

use super::data::Labelled;

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

/// How many of `splits`' texts have more than `max` tokens.
pub(super) fn truncated(text: &TextConfig, max: usize, splits: [&[Labelled]; 3]) -> usize {
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
