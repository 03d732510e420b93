//! Importing a model trained by the PyTorch tutorial ("NLP From Scratch:
//! Translation with a Sequence to Sequence Network and Attention"): its
//! `EncoderRNN` + `AttnDecoderRNN` state dict (saved as safetensors with
//! `encoder.` / `decoder.` prefixes) and its `Lang` word lists.
//!
//! The file's names are the tutorial's: `encoder.embedding.weight`,
//! `encoder.gru.{weight,bias}_{ih,hh}_l0`, `decoder.embedding.weight`,
//! `decoder.attn.{weight,bias}`, `decoder.attn_combine.{weight,bias}`,
//! `decoder.gru.*`, `decoder.out.{weight,bias}`. Ours differ only in
//! `gru` → `rnn`; errors report the file's names.
//!
//! The vocabulary file holds `input_lang` / `output_lang` (words in index
//! order, 0 = `SOS`, 1 = `EOS`), `hidden_size` and `max_length`. The import
//! uses the tutorial's specials (`<sos>` = 0, `<eos>` = 1, no `<pad>`, no
//! `<unk>`: unknown source words are dropped), its `normalizeString`, and `EOS`
//! after every source, as `tensorFromSentence` does.

use std::collections::HashMap;
use std::path::Path;

use candle_core::Device;
use serde::Deserialize;

use super::weights::load_model;
use super::{Seq2SeqConfig, Text, Translator};
use crate::text::{Specials, Vocab};
use crate::train::{read_json, read_tensors};
use crate::{Error, Result};

/// `tutorial_vocab.json`.
#[derive(Debug, Deserialize)]
struct TutorialVocab {
    input_lang: Vec<String>,
    output_lang: Vec<String>,
    hidden_size: usize,
    max_length: usize,
    #[serde(default)]
    sos: Option<u32>,
    #[serde(default)]
    eos: Option<u32>,
}

/// Our parameter name → the tutorial's.
fn tutorial_name(ours: &str) -> String {
    ours.replacen(".rnn.", ".gru.", 1)
}

/// The tutorial's parameter name → ours.
fn our_name(theirs: &str) -> String {
    theirs.replacen(".gru.", ".rnn.", 1)
}

/// A `Lang` word list as a vocabulary with the tutorial's specials.
fn lang_vocab(words: &[String], side: &str, path: &Path) -> Result<Vocab> {
    if words.len() < 2 {
        return Err(Error::format(
            path,
            None,
            format!(
                "{side} has {} words; it needs SOS and EOS first",
                words.len()
            ),
        ));
    }
    let specials = Specials::tutorial();
    let tokens: Vec<String> = specials.0.iter().chain(&words[2..]).cloned().collect();
    let counts = vec![0; tokens.len()];
    Vocab::from_parts(specials, tokens, counts)
        .map_err(|e| Error::format(path, None, format!("{side}: {e}")))
}

/// Imports the tutorial's trained model from its weights (safetensors) and
/// vocabulary (JSON) files, as a [`Translator`] with the tutorial decoder.
pub fn import_tutorial(weights: &Path, vocab: &Path) -> Result<Translator> {
    let v: TutorialVocab = read_json(vocab)?;
    if v.sos.unwrap_or(0) != 0 || v.eos.unwrap_or(1) != 1 {
        return Err(Error::format(
            vocab,
            None,
            format!("expected sos 0 and eos 1, got {:?} and {:?}", v.sos, v.eos),
        ));
    }
    let src_vocab = lang_vocab(&v.input_lang, "input_lang", vocab)?;
    let tgt_vocab = lang_vocab(&v.output_lang, "output_lang", vocab)?;
    let cfg = Seq2SeqConfig::tutorial(
        src_vocab.len(),
        tgt_vocab.len(),
        v.hidden_size,
        v.max_length,
    );
    cfg.validate()
        .map_err(|e| Error::format(vocab, None, e.to_string()))?;
    let device = Device::Cpu;
    let tensors: HashMap<_, _> = read_tensors(weights, &device)?
        .into_iter()
        .map(|(n, t)| (our_name(&n), t))
        .collect();
    let (model, params) = load_model(&cfg, tensors, &device, weights, &tutorial_name)?;
    Translator::new(model, params, src_vocab, tgt_vocab, Text::tutorial())
}
