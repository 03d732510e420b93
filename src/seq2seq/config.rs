//! The architecture of an encoder–decoder translation model, as one typed,
//! validated config: Sutskever et al. (2014) without attention, Bahdanau et
//! al. (2015) additive attention, Luong et al. (2015) dot/general attention
//! with input feeding, and the PyTorch tutorial's `AttnDecoderRNN`.
//!
//! The decoder kind is an enum (`"none"`, `"additive"`, `"dot"`, `"general"`,
//! `"tutorial"`), so an unknown kind is a parse error, never a silent default.

use serde::{Deserialize, Serialize};

use crate::nn::{AttentionKind, Cell, Dropout, RnnConfig};
use crate::{Error, Result};

/// How the decoder looks at the source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecoderKind {
    /// No attention (Sutskever et al., 2014): the encoder's final state is the
    /// only context; with `feed_context` it is also concatenated to every input
    /// (Cho et al., 2014; the d2l.ai decoder).
    None,
    /// Bahdanau et al. (2015): the previous top hidden state queries additive
    /// attention; the RNN reads `[emb(y_{t−1}); c_t]`; logits = `out(h_t)`.
    #[default]
    Additive,
    /// Luong et al. (2015) `dot` score (input feeding unless `input_feeding = false`).
    Dot,
    /// Luong et al. (2015) `general` score (input feeding unless `input_feeding = false`).
    General,
    /// The PyTorch tutorial's `AttnDecoderRNN`: location-based attention over
    /// `max_length` encoder slots, kept for faithful imports.
    Tutorial,
}

impl DecoderKind {
    /// Every kind, with its config name and a one-line description (the
    /// CLI's `--attention` values and their help come from here).
    pub const ALL: [(DecoderKind, &'static str, &'static str); 5] = [
        (
            DecoderKind::Additive,
            "additive",
            "Bahdanau additive attention",
        ),
        (
            DecoderKind::Dot,
            "dot",
            "Luong dot-product attention (with input feeding)",
        ),
        (
            DecoderKind::General,
            "general",
            "Luong general (bilinear) attention (with input feeding)",
        ),
        (
            DecoderKind::Tutorial,
            "tutorial",
            "The PyTorch tutorial's location-based attention over max_length slots",
        ),
        (
            DecoderKind::None,
            "none",
            "No attention: the final encoder state is the context",
        ),
    ];

    /// The kind called `name` in a config (`"additive"`, …), if any.
    pub fn from_name(name: &str) -> Option<DecoderKind> {
        Self::ALL
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(k, _, _)| *k)
    }

    /// The attention score of a Luong decoder (Luong et al., 2015: the
    /// score is attended with the decoder's new state and combined with it,
    /// with input feeding as configured), `None` for the other decoders.
    pub fn luong_score(self) -> Option<AttentionKind> {
        match self {
            DecoderKind::Dot => Some(AttentionKind::Dot),
            DecoderKind::General => Some(AttentionKind::General),
            DecoderKind::None | DecoderKind::Additive | DecoderKind::Tutorial => None,
        }
    }

    /// Whether the decoder produces attention weights.
    pub fn attends(&self) -> bool {
        !matches!(self, DecoderKind::None)
    }
}

/// The architecture of a [`Seq2Seq`](super::Seq2Seq) model.
///
/// One `hidden` size serves the encoder (per direction) and the decoder; one
/// `layers` count serves both, so a bidirectional encoder is bridged layer by
/// layer (see [`Bridge`](super::Bridge)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Seq2SeqConfig {
    /// Source vocabulary size.
    pub src_vocab: usize,
    /// Target vocabulary size.
    pub tgt_vocab: usize,
    /// Embedding width (source and target).
    pub embed: usize,
    /// Hidden units (the encoder's per direction, and the decoder's).
    pub hidden: usize,
    /// Recurrent cell of encoder and decoder.
    pub cell: Cell,
    /// Stacked layers of encoder and decoder.
    pub layers: usize,
    /// Whether the encoder also reads right to left.
    pub bidirectional: bool,
    /// Dropout on the embeddings and between stacked RNN layers (training only).
    /// The tutorial decoder applies it to its target embeddings only, as the
    /// tutorial does.
    pub dropout: f32,
    /// Dropout on the decoder's output layer input (training only); 0 follows
    /// the reference scripts.
    pub out_dropout: f32,
    /// How the decoder looks at the source.
    pub decoder: DecoderKind,
    /// With `decoder = "none"`: concatenate the encoder's final top hidden state
    /// to every decoder input.
    pub feed_context: bool,
    /// With `decoder = "dot" | "general"` (other decoders ignore it, so a
    /// config switches decoders without touching it): feed the previous attentional
    /// vector `h̃_{t−1}` back into the RNN input (Luong et al., 2015 §3.3).
    /// Without it every decoder input is known under teacher forcing, so
    /// training runs the decoder RNN and the attention over all target steps
    /// at once instead of step by step — several times faster on a CPU.
    pub input_feeding: bool,
    /// The tutorial decoder's number of encoder slots (its `MAX_LENGTH`); only
    /// for `decoder = "tutorial"`.
    pub max_length: Option<usize>,
    /// Share the target embedding matrix with the output layer's weight
    /// (Press & Wolf, 2017); needs `embed == hidden`.
    pub tie_embeddings: bool,
    /// Share one embedding matrix between source and target (a joint
    /// vocabulary, `src_vocab == tgt_vocab`); with `tie_embeddings` too,
    /// the three-way tying of Press & Wolf (2017), as OpenNMT's
    /// `share_embeddings` + `share_decoder_embeddings`. The matrix is
    /// `decoder.embedding.weight`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub share_embeddings: bool,
    /// The padding id of both vocabularies: its embedding row starts at zero
    /// and gets no gradient. `None` for vocabularies without `<pad>`.
    pub pad_id: Option<u32>,
}

impl Default for Seq2SeqConfig {
    /// The batched reference model (`seq2seq_batched.py`): GRU, hidden 128,
    /// dropout 0.1, additive attention; vocabulary sizes must be filled in.
    fn default() -> Self {
        Seq2SeqConfig {
            src_vocab: 0,
            tgt_vocab: 0,
            embed: 128,
            hidden: 128,
            cell: Cell::Gru,
            layers: 1,
            bidirectional: false,
            dropout: 0.1,
            out_dropout: 0.0,
            decoder: DecoderKind::Additive,
            feed_context: false,
            input_feeding: true,
            max_length: None,
            tie_embeddings: false,
            share_embeddings: false,
            pad_id: Some(0),
        }
    }
}

impl Seq2SeqConfig {
    /// The PyTorch tutorial's model: `EncoderRNN` (embedding + GRU, `hidden`
    /// wide) and `AttnDecoderRNN` (attention over `max_length` positions,
    /// dropout 0.1 on the decoder's embeddings), no padding id.
    pub fn tutorial(src_vocab: usize, tgt_vocab: usize, hidden: usize, max_length: usize) -> Self {
        Seq2SeqConfig {
            src_vocab,
            tgt_vocab,
            embed: hidden,
            hidden,
            cell: Cell::Gru,
            layers: 1,
            bidirectional: false,
            // The tutorial's `dropout_p`, on the decoder's embeddings when training.
            dropout: 0.1,
            out_dropout: 0.0,
            decoder: DecoderKind::Tutorial,
            feed_context: false,
            input_feeding: true,
            max_length: Some(max_length),
            tie_embeddings: false,
            share_embeddings: false,
            pad_id: None,
        }
    }

    /// Checks sizes and the rules between fields.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(format!("seq2seq model: {msg}")));
        if self.src_vocab == 0 || self.tgt_vocab == 0 {
            return bad(format!(
                "vocabulary sizes must be positive, got src {} and tgt {}",
                self.src_vocab, self.tgt_vocab
            ));
        }
        if self.embed == 0 || self.hidden == 0 || self.layers == 0 {
            return bad(format!(
                "embed, hidden and layers must be positive, got {}, {}, {}",
                self.embed, self.hidden, self.layers
            ));
        }
        Dropout::new(self.dropout)?;
        Dropout::new(self.out_dropout)?;
        if let Some(p) = self.pad_id
            && p as usize >= self.src_vocab.min(self.tgt_vocab)
        {
            return bad(format!("pad_id {p} is outside a vocabulary"));
        }
        if self.feed_context && self.decoder != DecoderKind::None {
            return bad("feed_context is only for decoder = \"none\"".into());
        }
        if self.tie_embeddings && self.embed != self.hidden {
            return bad(format!(
                "tie_embeddings needs embed == hidden (the output layer reads \
                 hidden-sized vectors), got embed {} and hidden {}",
                self.embed, self.hidden
            ));
        }
        if self.share_embeddings && self.src_vocab != self.tgt_vocab {
            return bad(format!(
                "share_embeddings needs one joint vocabulary (--joint-vocab), got {} source and {} target entries",
                self.src_vocab, self.tgt_vocab
            ));
        }
        match (self.decoder, self.max_length) {
            (DecoderKind::Tutorial, None | Some(0)) => {
                bad("the tutorial decoder needs max_length ≥ 1".into())
            }
            (DecoderKind::Tutorial, Some(_)) => {
                if self.embed != self.hidden || self.bidirectional {
                    bad(format!(
                        "the tutorial decoder needs embed == hidden and a unidirectional \
                         encoder, got embed {}, hidden {}, bidirectional {}",
                        self.embed, self.hidden, self.bidirectional
                    ))
                } else {
                    Ok(())
                }
            }
            (kind, Some(_)) => bad(format!(
                "max_length is only for decoder = \"tutorial\", not {kind:?}"
            )),
            (_, None) => Ok(()),
        }
    }

    /// The encoder's recurrent stack.
    pub fn encoder_rnn(&self) -> RnnConfig {
        RnnConfig {
            cell: self.cell,
            input: self.embed,
            hidden: self.hidden,
            layers: self.layers,
            bidirectional: self.bidirectional,
            dropout: self.dropout,
        }
    }

    /// Width of the encoder outputs: `directions · hidden`.
    pub fn encoder_output(&self) -> usize {
        self.encoder_rnn().output_size()
    }

    /// The dropout on the source embeddings: none for the tutorial model,
    /// whose encoder has no dropout.
    pub fn encoder_dropout(&self) -> f32 {
        match self.decoder {
            DecoderKind::Tutorial => 0.0,
            _ => self.dropout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Seq2SeqConfig {
        Seq2SeqConfig {
            src_vocab: 10,
            tgt_vocab: 12,
            ..Seq2SeqConfig::default()
        }
    }

    #[test]
    fn validation_rules() {
        assert!(cfg().validate().is_ok());
        assert!(
            Seq2SeqConfig::default().validate().is_err(),
            "no vocab sizes"
        );
        let tut = Seq2SeqConfig {
            decoder: DecoderKind::Tutorial,
            ..cfg()
        };
        assert!(tut.validate().is_err(), "tutorial without max_length");
        let tut = Seq2SeqConfig {
            max_length: Some(10),
            ..tut
        };
        assert!(tut.validate().is_ok());
        let bidi = Seq2SeqConfig {
            bidirectional: true,
            ..tut.clone()
        };
        assert!(bidi.validate().is_err());
        let wrong = Seq2SeqConfig {
            max_length: Some(10),
            ..cfg()
        };
        assert!(wrong.validate().is_err(), "max_length without tutorial");
        let tie = Seq2SeqConfig {
            tie_embeddings: true,
            embed: 64,
            ..cfg()
        };
        assert!(tie.validate().is_err());
        let feed = Seq2SeqConfig {
            feed_context: true,
            ..cfg()
        };
        assert!(feed.validate().is_err());
        // Switching to a non-Luong decoder keeps a recipe's input_feeding = false valid.
        let additive = Seq2SeqConfig {
            input_feeding: false,
            ..cfg()
        };
        assert!(additive.validate().is_ok());
        let pad = Seq2SeqConfig {
            pad_id: Some(10),
            ..cfg()
        };
        assert!(pad.validate().is_err());
    }

    #[test]
    fn serde_names_and_unknown_fields() {
        let c: Seq2SeqConfig = serde_json::from_str(
            r#"{"src_vocab": 5, "tgt_vocab": 6, "decoder": "general", "cell": "lstm"}"#,
        )
        .unwrap();
        assert_eq!(c.decoder, DecoderKind::General);
        assert_eq!(c.cell, Cell::Lstm);
        assert!(serde_json::from_str::<Seq2SeqConfig>(r#"{"decoder": "luong"}"#).is_err());
        assert!(serde_json::from_str::<Seq2SeqConfig>(r#"{"hiden": 3}"#).is_err());
        let back: Seq2SeqConfig =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    /// The CLI's names are the config's: every kind's name in
    /// [`DecoderKind::ALL`] is its serde name, and every kind is listed.
    #[test]
    fn every_decoder_kind_is_named_as_in_configs() {
        for (kind, name, _) in DecoderKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), name);
            assert_eq!(DecoderKind::from_name(name), Some(kind));
        }
        // Exhaustive: a new variant fails to compile here until it is
        // added to this list, and the assertion then asks for it in ALL.
        let every = |k: DecoderKind| match k {
            DecoderKind::None
            | DecoderKind::Additive
            | DecoderKind::Dot
            | DecoderKind::General
            | DecoderKind::Tutorial => k,
        };
        let kinds = [
            DecoderKind::None,
            DecoderKind::Additive,
            DecoderKind::Dot,
            DecoderKind::General,
            DecoderKind::Tutorial,
        ];
        assert!(
            kinds
                .map(every)
                .iter()
                .all(|k| DecoderKind::ALL.iter().any(|(x, _, _)| x == k))
        );
    }
}
