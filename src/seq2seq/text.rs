//! The text side of translation: how a sentence becomes source ids, a
//! target becomes reference text and output ids become a translation, saved
//! with the model so inference reads text exactly as training did.
//!
//! Two pipelines:
//! - the lessons': the PyTorch tutorial normalises with its
//!   `normalizeString` (or the Unicode-preserving [`Normalizer`] lowercases
//!   and splits punctuation), tokens are whitespace-separated, translations
//!   are tokens joined by spaces and BLEU is computed on that text as it is
//!   (`tokenize='none'`), as the reference scripts do;
//! - real text: NFKC only (case, accents and punctuation kept), then learnt
//!   [`Subwords`] pieces (word, char, BPE, unigram) that put translations
//!   back into plain text, scored against the raw reference with sacreBLEU's
//!   `13a` tokeniser as papers report (Post, 2018). The tokenisers are saved
//!   beside the vocabularies (`src_tokenizer.json`, `tgt_tokenizer.json`).
//!
//! The tutorial and the batched reference append `EOS` to the source
//! (`tensorFromSentence`); both pipelines do by default.

use serde::{Deserialize, Serialize};

use crate::metrics::{BleuConfig, Tokenize};
use crate::text::{
    NormalizeConfig, Normalizer, SubwordKind, Subwords, Vocab, normalize_string, whitespace,
};
use crate::train::ModelDir;
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

/// How a training run cuts text into tokens (`--tokenizer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tokenization {
    /// The lessons' pipeline: normalised text split on whitespace.
    Whitespace,
    /// Learnt words, punctuation split off.
    Word,
    /// Characters.
    Char,
    /// Byte-pair encoding.
    Bpe,
    /// Unigram language model pieces.
    Unigram,
}

impl Tokenization {
    /// Every choice with its name and a one-line description (the CLI's
    /// `--tokenizer` values and their help).
    pub const ALL: [(Tokenization, &'static str, &'static str); 5] = [
        (
            Tokenization::Whitespace,
            "whitespace",
            "the lessons' normalised whitespace tokens",
        ),
        (
            Tokenization::Word,
            "word",
            "words, punctuation split off, cased, detokenised output",
        ),
        (Tokenization::Char, "char", "characters"),
        (
            Tokenization::Bpe,
            "bpe",
            "byte-pair encoding learnt on the training split",
        ),
        (
            Tokenization::Unigram,
            "unigram",
            "unigram-LM pieces learnt on the training split",
        ),
    ];

    /// The learnt kind, `None` for whitespace.
    pub fn subwords(self) -> Option<SubwordKind> {
        match self {
            Tokenization::Whitespace => None,
            Tokenization::Word => Some(SubwordKind::Word),
            Tokenization::Char => Some(SubwordKind::Char),
            Tokenization::Bpe => Some(SubwordKind::Bpe),
            Tokenization::Unigram => Some(SubwordKind::Unigram),
        }
    }
}

/// The text pipeline of a translation model, as saved in its config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextConfig {
    /// The normaliser for sources and targets.
    pub normalize: Normalization,
    /// Append `<eos>` to every source, as the tutorial and the batched
    /// reference do: the encoder then sees where the sentence ends.
    pub src_eos: bool,
    /// Learnt pieces (saved as `src_tokenizer.json` and
    /// `tgt_tokenizer.json`); `None`: whitespace tokens of the normalised
    /// text, the lessons' way.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subwords: Option<SubwordKind>,
    /// One tokeniser and one vocabulary for both languages.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub joint: bool,
}

impl Default for TextConfig {
    fn default() -> Self {
        TextConfig {
            normalize: Normalization::Unicode(NormalizeConfig::default()),
            src_eos: true,
            subwords: None,
            joint: false,
        }
    }
}

impl TextConfig {
    /// The tutorial's pipeline: `normalizeString`, `EOS` after the source.
    pub fn tutorial() -> Self {
        TextConfig {
            normalize: Normalization::Tutorial,
            ..TextConfig::default()
        }
    }

    /// Real text cut into learnt pieces: NFKC only, case and punctuation
    /// left to the tokeniser.
    pub fn subwords(kind: SubwordKind, joint: bool) -> Self {
        TextConfig {
            normalize: Normalization::Unicode(NormalizeConfig {
                lowercase: false,
                split_punctuation: false,
            }),
            src_eos: true,
            subwords: Some(kind),
            joint,
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
}

const SRC_TOKENIZER: &str = "src_tokenizer.json";
const TGT_TOKENIZER: &str = "tgt_tokenizer.json";
/// The largest tokenizer file read.
const MAX_TOKENIZER_BYTES: u64 = 256 << 20;

/// A [`TextConfig`] with its learnt tokenisers: what turns text into ids
/// and ids back into text.
#[derive(Clone, Debug)]
pub struct Text {
    cfg: TextConfig,
    /// Source and target tokenisers, present exactly when `cfg.subwords` is.
    learnt: Option<(Subwords, Subwords)>,
}

impl Text {
    /// A whitespace pipeline (`cfg.subwords` must be `None`).
    pub fn plain(cfg: TextConfig) -> Result<Self> {
        Self::new(cfg, None)
    }

    /// The tutorial's pipeline.
    pub fn tutorial() -> Self {
        Text {
            cfg: TextConfig::tutorial(),
            learnt: None,
        }
    }

    /// A pipeline from its config and, for subwords, its source and target
    /// tokenisers (the same one twice for a joint vocabulary).
    pub fn new(cfg: TextConfig, learnt: Option<(Subwords, Subwords)>) -> Result<Self> {
        match (cfg.subwords, &learnt) {
            (Some(kind), None) => Err(Error::Config(format!(
                "a {kind} text pipeline needs its learnt tokenizers"
            ))),
            (None, Some(_)) => Err(Error::Config(
                "learnt tokenizers given to a whitespace text pipeline".into(),
            )),
            _ => Ok(Text { cfg, learnt }),
        }
    }

    /// The saved part.
    pub fn config(&self) -> &TextConfig {
        &self.cfg
    }

    /// The source and target tokenisers, for a subword pipeline.
    pub fn subwords(&self) -> Option<&(Subwords, Subwords)> {
        self.learnt.as_ref()
    }

    /// Normalises one sentence.
    pub fn normalize(&self, text: &str) -> String {
        self.cfg.normalize(text)
    }

    fn tokens_with(
        &self,
        text: &str,
        pick: fn(&(Subwords, Subwords)) -> &Subwords,
    ) -> Result<Vec<String>> {
        let norm = self.normalize(text);
        match &self.learnt {
            Some(pair) => pick(pair).pieces(&norm),
            None => Ok(whitespace(&norm)),
        }
    }

    /// The tokens (pieces) of a source sentence.
    pub fn src_tokens(&self, text: &str) -> Result<Vec<String>> {
        self.tokens_with(text, |p| &p.0)
    }

    /// The tokens (pieces) of a target sentence.
    pub fn tgt_tokens(&self, text: &str) -> Result<Vec<String>> {
        self.tokens_with(text, |p| &p.1)
    }

    /// Target tokens back into text: pieces detokenised, whitespace tokens
    /// joined by spaces.
    pub fn detokenize<S: AsRef<str>>(&self, tokens: &[S]) -> String {
        match &self.learnt {
            Some((_, tgt)) => tgt.detokenize(tokens),
            None => tokens
                .iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    /// The text a translation of a sentence with target `tgt` is scored
    /// against: the normalised tokens for the lessons' pipeline (whose
    /// translations are such tokens), the raw text for subwords.
    pub fn reference(&self, tgt: &str) -> Result<String> {
        match &self.learnt {
            Some(_) => Ok(tgt.trim().to_string()),
            None => Ok(self.tgt_tokens(tgt)?.join(" ")),
        }
    }

    /// How BLEU scores translations of this pipeline: sacreBLEU's defaults,
    /// tokenising not at all for the lessons' (already tokenised) text and
    /// with its `13a` tokeniser for detokenised text.
    pub fn bleu_config(&self) -> BleuConfig {
        BleuConfig {
            tokenize: match &self.learnt {
                Some(_) => Tokenize::Mteval13a,
                None => Tokenize::None,
            },
            ..BleuConfig::default()
        }
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
        let mut ids = vocab.encode(&self.src_tokens(text)?);
        if ids.is_empty() {
            return Ok(ids);
        }
        let eos = match self.cfg.src_eos {
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
    pub fn encode_target(&self, text: &str, vocab: &Vocab) -> Result<Vec<u32>> {
        Ok(vocab.encode(&self.tgt_tokens(text)?))
    }

    /// Writes the learnt tokenisers into `dir` (nothing for whitespace).
    pub fn save(&self, dir: &ModelDir) -> Result<()> {
        if let Some((src, tgt)) = &self.learnt {
            dir.write_bytes(SRC_TOKENIZER, src.to_json()?.as_bytes())?;
            dir.write_bytes(TGT_TOKENIZER, tgt.to_json()?.as_bytes())?;
        }
        Ok(())
    }

    /// The pipeline `cfg` with the tokenisers saved in `dir`.
    pub fn load(dir: &ModelDir, cfg: TextConfig) -> Result<Self> {
        let learnt = match cfg.subwords {
            None => None,
            Some(_) => {
                let read = |name: &str| -> Result<Subwords> {
                    let path = dir.file(name);
                    // A tokenizer.json of a 100k-piece vocabulary is a few MB.
                    let len = std::fs::metadata(&path)
                        .map_err(|e| Error::io(&path, e))?
                        .len();
                    if len > MAX_TOKENIZER_BYTES {
                        return Err(Error::format(
                            path.as_path(),
                            None,
                            format!(
                                "is {len} bytes, more than a tokenizer file's {MAX_TOKENIZER_BYTES}"
                            ),
                        ));
                    }
                    let json = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                    Subwords::from_json(&json, &path.display().to_string())
                };
                Some((read(SRC_TOKENIZER)?, read(TGT_TOKENIZER)?))
            }
        };
        Self::new(cfg, learnt)
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
        let text = Text::tutorial();
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
