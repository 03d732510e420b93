//! The text side of translation: how a sentence becomes source ids and a
//! target becomes reference tokens, saved with the model so inference reads
//! text exactly as training did.
//!
//! The PyTorch tutorial normalises with its `normalizeString`, splits on
//! spaces and appends `EOS` to the source (`tensorFromSentence`); the batched
//! reference (`seq2seq_batched.py`) does the same. Real text uses the
//! Unicode-preserving [`Normalizer`]. Tokens are whitespace-separated.

use serde::{Deserialize, Serialize};

use crate::text::{NormalizeConfig, Normalizer, Vocab, normalize_string, whitespace};
use crate::{Error, Result};

/// Which normaliser text goes through before tokenising.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalization {
    /// The lesson's `normalizeString` (ASCII letters and `.!?` only).
    Tutorial,
    /// [`Normalizer`]: NFKC, accents and scripts kept.
    Unicode(NormalizeConfig),
    /// Text is used as it is.
    None,
}

/// The text pipeline of a translation model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextConfig {
    /// The normaliser for sources and targets.
    pub normalize: Normalization,
    /// Append `<eos>` to every source, as the tutorial and the batched
    /// reference do: the encoder then sees where the sentence ends.
    pub src_eos: bool,
}

impl Default for TextConfig {
    fn default() -> Self {
        TextConfig {
            normalize: Normalization::Unicode(NormalizeConfig::default()),
            src_eos: true,
        }
    }
}

impl TextConfig {
    /// The tutorial's pipeline: `normalizeString`, `EOS` after the source.
    pub fn tutorial() -> Self {
        TextConfig {
            normalize: Normalization::Tutorial,
            src_eos: true,
        }
    }

    /// Normalises one sentence.
    pub fn normalize(&self, text: &str) -> String {
        match &self.normalize {
            Normalization::Tutorial => normalize_string(text),
            Normalization::Unicode(cfg) => Normalizer::new(cfg).normalize(text),
            Normalization::None => text.to_string(),
        }
    }

    /// Normalised whitespace tokens of `text`.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        whitespace(&self.normalize(text))
    }

    /// Source ids of `text`: its tokens (unknown ones become `<unk>`, or are
    /// dropped when the vocabulary has no `<unk>`, like the tutorial's),
    /// cut to `max_tokens` (`<eos>` included) and ended by `<eos>` when
    /// `src_eos`. A sentence with no known token gives no ids at all.
    pub fn encode_source(
        &self,
        text: &str,
        vocab: &Vocab,
        max_tokens: Option<usize>,
    ) -> Result<Vec<u32>> {
        let mut ids = vocab.encode(&self.tokens(text));
        if ids.is_empty() {
            return Ok(ids);
        }
        let eos = match self.src_eos {
            true => Some(vocab.eos_id().ok_or_else(|| {
                Error::Vocab("the source vocabulary has no <eos> to end sources with".into())
            })?),
            false => None,
        };
        if let Some(max) = max_tokens {
            // Keep the start of the sentence and still end it with <eos>.
            ids.truncate(max.saturating_sub(usize::from(eos.is_some())).max(1));
        }
        ids.extend(eos);
        Ok(ids)
    }

    /// Target ids of `text` (no `<sos>`/`<eos>`: batching adds them).
    pub fn encode_target(&self, text: &str, vocab: &Vocab) -> Vec<u32> {
        vocab.encode(&self.tokens(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{Specials, VocabConfig};

    #[test]
    fn sources_end_with_eos_unknowns_follow_the_vocab_and_long_ones_are_cut() -> Result<()> {
        let std = Vocab::build("je suis la".split(' '), &VocabConfig::default())?;
        let tut = Vocab::build(
            "je suis la".split(' '),
            &VocabConfig {
                specials: Specials::tutorial(),
                ..VocabConfig::default()
            },
        )?;
        let text = TextConfig::tutorial();
        let (je, suis) = (std.id("je").unwrap_or(0), std.id("suis").unwrap_or(0));
        assert_eq!(
            text.encode_source("Je suis ICI.", &std, None)?,
            [je, suis, 1, 1, 3],
            "`ici` and `.` are <unk>"
        );
        let ids = text.encode_source("Je suis ICI.", &tut, None)?;
        assert_eq!(tut.decode(&ids), ["je", "suis", "<eos>"], "dropped");
        assert_eq!(text.encode_source("je je je je", &tut, Some(3))?.len(), 3);
        assert_eq!(
            tut.decode(&text.encode_source("je suis", &tut, Some(2))?),
            ["je", "<eos>"]
        );
        assert!(text.encode_source("  ", &tut, None)?.is_empty());
        assert!(text.encode_source("xyz", &tut, None)?.is_empty());
        let json = serde_json::to_string(&TextConfig::default())
            .map_err(|e| Error::Config(e.to_string()))?;
        let back: TextConfig =
            serde_json::from_str(&json).map_err(|e| Error::Config(e.to_string()))?;
        assert_eq!(back, TextConfig::default());
        Ok(())
    }
}
