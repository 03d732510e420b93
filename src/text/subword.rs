//! Learned pieces for real text: words with punctuation split off,
//! characters, byte-pair encoding (Sennrich et al., 2016) and the unigram
//! language model (Kudo, 2018), trained on a training split and saved with
//! the model that reads them.
//!
//! All four go through the Hugging Face `tokenizers` library and mark word
//! starts SentencePiece-style with `▁` (its `Metaspace` pre-tokeniser): a
//! sentence cut into pieces is put back together exactly, spaces, case,
//! accents and punctuation included, which is what lets a translation be
//! detokenised and scored against the raw reference as papers do (Post,
//! 2018). The word and character kinds split punctuation off (`Punctuation`,
//! isolated) and a word into characters (`FixedLength(1)`) respectively;
//! BPE and unigram learn their pieces within such words.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::ModelWrapper;
use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::models::unigram::{Unigram, UnigramTrainerBuilder};
use tokenizers::models::wordlevel::{WordLevel, WordLevelTrainerBuilder};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::fixed_length::FixedLength;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::pre_tokenizers::punctuation::Punctuation;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Decoder, Tokenizer};

use super::Specials;
use crate::{Error, Result};

/// Which pieces a [`Subwords`] model cuts text into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubwordKind {
    /// Words, punctuation split off (the `vocab_size` most frequent are kept).
    Word,
    /// Characters (the lessons' Pig-Latin exercise, spelling models).
    Char,
    /// Byte-pair encoding (Sennrich et al., 2016): merges learnt until the
    /// vocabulary has `vocab_size` pieces.
    #[default]
    Bpe,
    /// Unigram language model (Kudo, 2018), SentencePiece's default: the
    /// `vocab_size` pieces that best explain the training text.
    Unigram,
}

impl SubwordKind {
    /// Every kind with its name (`--tokenizer` values).
    pub const ALL: [(SubwordKind, &'static str); 4] = [
        (SubwordKind::Word, "word"),
        (SubwordKind::Char, "char"),
        (SubwordKind::Bpe, "bpe"),
        (SubwordKind::Unigram, "unigram"),
    ];

    /// The kind's name in configs and on the command line.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("bpe", |(_, n)| n)
    }
}

impl fmt::Display for SubwordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SubwordKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(k, _)| *k)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown tokenizer {s:?} (expected word, char, bpe or unigram)"
                ))
            })
    }
}

/// How a [`Subwords`] model is learnt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubwordConfig {
    /// Which pieces.
    pub kind: SubwordKind,
    /// The most pieces the model has, `<unk>` included.
    pub vocab_size: usize,
    /// Pieces (words, characters) seen fewer times are not learnt
    /// (BPE: a pair must be seen this often to be merged).
    pub min_freq: u64,
}

impl Default for SubwordConfig {
    fn default() -> Self {
        SubwordConfig {
            kind: SubwordKind::Bpe,
            vocab_size: 8000,
            min_freq: 2,
        }
    }
}

impl SubwordConfig {
    /// Checks the sizes a learner needs.
    pub fn validate(&self) -> Result<()> {
        if self.vocab_size < 2 {
            return Err(Error::Config(format!(
                "the tokenizer's vocab_size (--vocab-size) must be at least 2, got {}",
                self.vocab_size
            )));
        }
        Ok(())
    }
}

/// The mark of a word's start in pieces (SentencePiece's U+2581).
pub const WORD_START: char = '▁';

/// A learnt tokeniser: text → pieces → text, losslessly.
#[derive(Clone)]
pub struct Subwords {
    tokenizer: Tokenizer,
}

impl fmt::Debug for Subwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subwords")
            .field("pieces", &self.tokenizer.get_vocab_size(true))
            .finish()
    }
}

fn hf(e: impl fmt::Display) -> Error {
    Error::Vocab(format!("tokenizer: {e}"))
}

impl Subwords {
    /// Learns a tokeniser of `cfg.kind` from `texts` (the training split).
    pub fn train<I, S>(cfg: &SubwordConfig, texts: I) -> Result<Self>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
    {
        cfg.validate()?;
        let unk = Specials::UNK.to_string();
        let specials = vec![AddedToken::from(unk.clone(), true)];
        let min_freq = cfg.min_freq;
        let size = cfg.vocab_size;
        let (model, mut trainer): (ModelWrapper, TrainerWrapper) = match cfg.kind {
            SubwordKind::Word | SubwordKind::Char => (
                WordLevel::builder()
                    .unk_token(unk)
                    .build()
                    .map_err(hf)?
                    .into(),
                WordLevelTrainerBuilder::default()
                    .vocab_size(size)
                    .min_frequency(min_freq)
                    .special_tokens(specials)
                    .show_progress(false)
                    .build()
                    .map_err(hf)?
                    .into(),
            ),
            SubwordKind::Bpe => (
                BPE::builder().unk_token(unk).build().map_err(hf)?.into(),
                BpeTrainerBuilder::new()
                    .vocab_size(size)
                    .min_frequency(min_freq)
                    .special_tokens(specials)
                    .show_progress(false)
                    .build()
                    .into(),
            ),
            SubwordKind::Unigram => (
                Unigram::default().into(),
                UnigramTrainerBuilder::default()
                    .vocab_size(u32::try_from(size).unwrap_or(u32::MAX))
                    .special_tokens(specials)
                    .unk_token(Some(unk))
                    .show_progress(false)
                    .build()
                    .map_err(hf)?
                    .into(),
            ),
        };
        let mut tokenizer = Tokenizer::new(model);
        let metaspace = Metaspace::new(WORD_START, PrependScheme::Always, true);
        let split: PreTokenizerWrapper = match cfg.kind {
            SubwordKind::Char => FixedLength::new(1).into(),
            _ => Punctuation::default().into(),
        };
        tokenizer.with_pre_tokenizer(Some(PreTokenizerWrapper::Sequence(Sequence::new(vec![
            metaspace.clone().into(),
            split,
        ]))));
        tokenizer.with_decoder(Some(DecoderWrapper::Metaspace(metaspace)));
        tokenizer.train(&mut trainer, texts).map_err(hf)?;
        Ok(Subwords { tokenizer })
    }

    /// The tokeniser as the JSON `tokenizers` saves (`tokenizer.json`).
    pub fn to_json(&self) -> Result<String> {
        self.tokenizer.to_string(false).map_err(hf)
    }

    /// A tokeniser from its JSON; `origin` names it in errors.
    pub fn from_json(json: &str, origin: &str) -> Result<Self> {
        let tokenizer = Tokenizer::from_str(json).map_err(|e| {
            Error::Vocab(format!(
                "{origin}: not a tokenizer.json of the tokenizers library: {e}"
            ))
        })?;
        if tokenizer.get_decoder().is_none() {
            return Err(Error::Vocab(format!(
                "{origin}: the tokenizer has no decoder, so its pieces cannot be put back into text"
            )));
        }
        Ok(Subwords { tokenizer })
    }

    /// The pieces of `text` (unknown ones as `<unk>`).
    pub fn pieces(&self, text: &str) -> Result<Vec<String>> {
        let enc = self.tokenizer.encode(text, false).map_err(hf)?;
        // By id: the unigram model reports an unknown piece's own text
        // with `<unk>`'s id.
        Ok(enc
            .get_ids()
            .iter()
            .map(|&id| {
                self.tokenizer
                    .id_to_token(id)
                    .unwrap_or_else(|| Specials::UNK.to_string())
            })
            .collect())
    }

    /// Puts pieces back into text: `▁` becomes a space, the first one
    /// dropped. Pieces the tokeniser does not know are kept as they are.
    pub fn detokenize<S: AsRef<str>>(&self, pieces: &[S]) -> String {
        let tokens: Vec<String> = pieces.iter().map(|p| p.as_ref().to_string()).collect();
        match self.tokenizer.get_decoder() {
            Some(d) => d.decode(tokens).unwrap_or_else(|_| fallback(pieces)),
            None => fallback(pieces),
        }
    }

    /// How many pieces the model knows, `<unk>` included.
    pub fn len(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    /// Whether the model knows no piece at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the Metaspace decoder does, for a decoder that failed.
fn fallback<S: AsRef<str>>(pieces: &[S]) -> String {
    let joined: String = pieces
        .iter()
        .map(AsRef::as_ref)
        .collect::<String>()
        .replace(WORD_START, " ");
    joined.trim_start_matches(' ').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: [&str; 6] = [
        "A Boston Terrier is running on lush green grass in front of a white fence.",
        "Zwei junge, weiße Männer sind im Freien in der Nähe vieler Büsche.",
        "Ein Mann mit einem orangefarbenen Hut, der etwas anstarrt.",
        "« Quoi ? » dit-il — 3,5 € l'unité, n'est-ce pas ?",
        "Two young, White males are outside near many bushes.",
        "Several men in hard hats are operating a giant pulley system.",
    ];

    fn trained(kind: SubwordKind, vocab_size: usize) -> Result<Subwords> {
        let cfg = SubwordConfig {
            kind,
            vocab_size,
            min_freq: 1,
        };
        Subwords::train(&cfg, TEXT.iter())
    }

    #[test]
    fn every_kind_puts_its_pieces_back_into_the_same_text() -> Result<()> {
        for (kind, _) in SubwordKind::ALL {
            let sw = trained(kind, 200)?;
            for text in TEXT {
                let pieces = sw.pieces(text)?;
                assert!(
                    !pieces.iter().any(|p| p == Specials::UNK),
                    "{kind}: {pieces:?}"
                );
                assert_eq!(sw.detokenize(&pieces), text, "{kind}: {pieces:?}");
            }
        }
        Ok(())
    }

    #[test]
    fn pieces_are_what_the_kind_says() -> Result<()> {
        let words = trained(SubwordKind::Word, 1000)?.pieces("a white fence.")?;
        assert_eq!(words, ["▁a", "▁white", "▁fence", "."]);
        let chars = trained(SubwordKind::Char, 1000)?.pieces("a fé")?;
        assert_eq!(chars, ["▁", "a", "▁", "f", "é"]);
        // A small BPE vocabulary cuts a long word it has seen once.
        let bpe = trained(SubwordKind::Bpe, 90)?.pieces("orangefarbenen")?;
        assert!(bpe.len() > 1, "{bpe:?}");
        assert_eq!(bpe.concat(), "▁orangefarbenen");
        Ok(())
    }

    #[test]
    fn unknown_characters_become_unk_and_saved_models_cut_the_same() -> Result<()> {
        for (kind, _) in SubwordKind::ALL {
            let sw = trained(kind, 150)?;
            assert!(sw.len() <= 150, "{kind}: {}", sw.len());
            let pieces = sw.pieces("Ein 狗 rennt.")?;
            assert!(
                pieces.iter().any(|p| p == Specials::UNK),
                "{kind}: {pieces:?}"
            );
            let back = Subwords::from_json(&sw.to_json()?, "tokenizer.json")?;
            for text in TEXT {
                assert_eq!(back.pieces(text)?, sw.pieces(text)?, "{kind}");
            }
        }
        let err = Subwords::from_json("{\"model\": 3}", "m/src_tokenizer.json");
        assert!(err.is_err_and(|e| e.to_string().contains("m/src_tokenizer.json")));
        Ok(())
    }

    #[test]
    fn kinds_parse_by_name_and_bad_sizes_are_refused() {
        for (kind, name) in SubwordKind::ALL {
            assert_eq!(name.parse::<SubwordKind>().ok(), Some(kind));
        }
        assert!("sentencepiece".parse::<SubwordKind>().is_err());
        let cfg = SubwordConfig {
            vocab_size: 1,
            ..SubwordConfig::default()
        };
        assert!(Subwords::train(&cfg, TEXT.iter()).is_err());
    }
}
