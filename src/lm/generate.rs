//! Text generation from a trained language model through [`crate::decode`]:
//! greedy, sampling (temperature, top-k, top-p) and beam search, from an
//! optional prime text, conditioned or not, seeded.
//!
//! The prime is read by the model first; its last token is the first input
//! of the search (the search's `<sos>`), so decoding continues the prime.
//! A line model (names) starts from `<sos>` and stops at `<eos>`; a stream
//! model (text8) never stops before the length limit.
//!
//! Special tokens are never generated: `<pad>`, `<unk>`, `<sos>` (and any
//! other special but `<eos>`) are masked out of every step's distribution
//! ([`crate::decode::Masked`]) before greedy, sampling or beam search
//! choose. `<eos>` stays: it ends a line model's text and is a line break
//! in a word-level stream; a character-level stream never has it.
//!
//! [`Generator::generate_each`] hands out each token's text as soon as it
//! is chosen, for printing as it comes; beam search only knows its best
//! hypotheses at the end, so it hands them out then. At most
//! [`MAX_LENGTH`] tokens are generated per text.

use std::path::Path;

use candle_core::Tensor;
use serde::Serialize;

use super::data::tokens;
use super::decoding::LmDecodeConfig;
use super::model::{LanguageModel, LmMemory};
use super::recipe::{SavedLm, load_model};
use crate::decode::{self, Decoding, Hypothesis, LengthLimit, Masked, Search, Specials};
use crate::nn::Mode;
use crate::text::Level;
use crate::text::Vocab;
use crate::{Error, Result};

/// The most tokens one generated text may have (`--length`'s ceiling): a
/// million tokens are a few megabytes of text, far past what a recurrent
/// model keeps coherent, and at a few thousand tokens a second as long as
/// anyone would wait.
pub const MAX_LENGTH: usize = 1_000_000;

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateConfig {
    /// Text the output continues.
    pub prime: String,
    /// The condition (a label of a conditioned model).
    pub condition: Option<String>,
    /// Token choice (sampling carries its seed).
    pub search: Search,
    /// Tokens to generate at most (after the prime), 1 to [`MAX_LENGTH`].
    pub length: usize,
    /// Texts decoded side by side by greedy decoding or sampling; beam
    /// search returns its `n_best` instead.
    pub count: usize,
}

/// One generated text.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Generated {
    /// The prime followed by the generated text.
    pub text: String,
    /// The generated part alone.
    pub continuation: String,
    /// The model's log-probability of the generated tokens.
    pub log_prob: f64,
    /// Whether the model ended it (`<eos>`) before the length limit.
    pub finished: bool,
}

/// A trained language model ready to generate.
pub struct Generator {
    model: LanguageModel,
    vocab: Vocab,
    saved: SavedLm,
}

impl Generator {
    /// Whether `dir` holds a language model: its `config.json` reads as a
    /// language model's description (other tasks' configs have other fields).
    pub fn is_model_dir(dir: &Path) -> bool {
        crate::train::ModelDir::open(dir)
            .and_then(|d| d.read_json::<SavedLm>("config.json"))
            .is_ok()
    }

    /// Loads a model directory written by `lm train`.
    pub fn load(dir: &Path) -> Result<Self> {
        let (model, vocab, saved) = load_model(dir)?;
        Ok(Generator {
            model,
            vocab,
            saved,
        })
    }

    /// How the model decodes when nothing says otherwise (its saved `decode`
    /// section, checked).
    pub fn decode_config(&self) -> Result<LmDecodeConfig> {
        self.saved.decode.validate()?;
        Ok(self.saved.decode)
    }

    /// Whether the model was trained on one stream (no end of text).
    pub fn is_stream(&self) -> bool {
        self.saved.stream
    }

    /// The conditions the model knows (empty: unconditioned).
    pub fn conditions(&self) -> &[String] {
        &self.saved.conditions
    }

    /// The prime's tokens that the vocabulary does not know.
    pub fn unknown(&self, prime: &str) -> Vec<String> {
        tokens(prime, self.saved.data.level, false)
            .into_iter()
            .filter(|t| self.vocab.id(t).is_none())
            .collect()
    }

    fn specials(&self) -> Result<(u32, u32)> {
        let need = |id: Option<u32>, name: &str| {
            id.ok_or_else(|| Error::Vocab(format!("the vocabulary has no {name}")))
        };
        Ok((
            need(self.vocab.sos_id(), "<sos>")?,
            need(self.vocab.eos_id(), "<eos>")?,
        ))
    }

    /// Generates `cfg.count` texts.
    pub fn generate(&self, cfg: &GenerateConfig) -> Result<Vec<Generated>> {
        self.generate_each(cfg, &mut |_, _| {})
    }

    /// What a generated text starts with: the prime and, between words,
    /// a space ([`Generated::text`] is this and the continuation).
    pub fn prefix(&self, prime: &str) -> String {
        format!("{prime}{}", self.joiner(prime))
    }

    /// [`Generator::generate`], calling `on_piece(i, text)` with the text of
    /// every token of output `i` in order: the pieces of output `i` joined
    /// are its [`Generated::continuation`]. Greedy decoding and sampling
    /// call it the moment a token is chosen; beam search, which knows its
    /// best texts only at the end, calls it for their tokens then.
    pub fn generate_each(
        &self,
        cfg: &GenerateConfig,
        on_piece: &mut dyn FnMut(usize, &str),
    ) -> Result<Vec<Generated>> {
        if cfg.count == 0 || cfg.length == 0 {
            return Err(Error::Config("count and length must be at least 1".into()));
        }
        if cfg.length > MAX_LENGTH {
            return Err(Error::Config(format!(
                "length {} is over the ceiling of {MAX_LENGTH} tokens",
                cfg.length
            )));
        }
        let (sos, eos) = self.specials()?;
        let prime = tokens(&cfg.prime, self.saved.data.level, false);
        if !prime.is_empty() && prime.iter().all(|t| self.vocab.id(t).is_none()) {
            return Err(Error::Vocab(format!(
                "none of the prime's tokens ({}) is in the model's vocabulary",
                prime.join(" ")
            )));
        }
        let mut context: Vec<u32> = match self.saved.stream {
            false => vec![sos],
            true => Vec::new(),
        };
        context.extend(self.vocab.encode(&prime));
        if context.is_empty() {
            context.push(self.stream_start());
        }
        let condition = self.condition_id(cfg.condition.as_deref())?;
        // A beam's outputs are the alternatives of one row; greedy decoding
        // and sampling give one output a row.
        let beam = matches!(cfg.search, Search::Beam(_));
        let rows = if beam { 1 } else { cfg.count };
        let memory = self.prime(&context, condition, rows)?;
        let first = context[context.len() - 1];
        let specials = Specials {
            sos: first,
            // A stream model has no end: an id no step can produce.
            eos: if self.saved.stream { u32::MAX } else { eos },
        };
        let limit = LengthLimit {
            ratio: 0.0,
            extra: cfg.length,
        };
        let model = Masked::new(&self.model, &self.banned());
        let lengths = vec![0; rows];
        // The last token of each row, for the spacing of the next piece.
        let mut last: Vec<Option<u32>> = vec![None; rows];
        let mut stream = |row: usize, token: u32| {
            on_piece(row, &self.piece(last[row], token));
            last[row] = Some(token);
        };
        let decoding = Decoding {
            specials,
            limit,
            search: cfg.search,
        };
        let hyps: Vec<Hypothesis> = decode::run(&model, &memory, &lengths, &decoding, &mut stream)?
            .into_iter()
            .flatten()
            .collect();
        if beam {
            for (i, h) in hyps.iter().enumerate() {
                for piece in self.pieces(&h.tokens) {
                    on_piece(i, &piece);
                }
            }
        }
        let prefix = self.prefix(&cfg.prime);
        Ok(hyps
            .into_iter()
            .map(|h| {
                let continuation = self.detokenize(&h.tokens);
                Generated {
                    text: format!("{prefix}{continuation}"),
                    continuation,
                    log_prob: h.log_prob,
                    finished: h.finished,
                }
            })
            .collect())
    }

    /// The specials no step may choose: all but `<eos>`, and `<eos>` too
    /// where it would be text (a character-level stream has no lines).
    fn banned(&self) -> Vec<u32> {
        let eos = self.vocab.eos_id();
        let keep_eos = !(self.saved.stream && self.saved.data.level == Level::Char);
        self.vocab
            .specials()
            .0
            .iter()
            .filter_map(|s| self.vocab.id(s))
            .filter(|&id| !(keep_eos && Some(id) == eos))
            .collect()
    }

    /// What a stream model reads first when no prime is given: a space
    /// (text8's separator) or, at the word level, `<eos>` (a line start).
    fn stream_start(&self) -> u32 {
        let pick = match self.saved.data.level {
            Level::Char => self.vocab.id(" "),
            Level::Word => self.vocab.eos_id(),
        };
        // Else the most frequent token, the first after the specials.
        pick.unwrap_or(self.vocab.specials().0.len().min(self.vocab.len() - 1) as u32)
    }

    fn condition_id(&self, condition: Option<&str>) -> Result<Option<u32>> {
        let known = &self.saved.conditions;
        match (condition, known.is_empty()) {
            (None, true) => Ok(None),
            (Some(c), true) => Err(Error::Config(format!(
                "this model was trained without conditions; `{c}` cannot be used"
            ))),
            (None, false) => Err(Error::Config(format!(
                "this model is conditioned: give one of {}",
                known.join(", ")
            ))),
            (Some(c), false) => known
                .iter()
                .position(|k| k == c)
                .map(|i| Some(i as u32))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "unknown condition `{c}`; the model knows {}",
                        known.join(", ")
                    ))
                }),
        }
    }

    /// The state after reading all of `context` but its last token, for `rows` copies.
    fn prime(&self, context: &[u32], condition: Option<u32>, rows: usize) -> Result<LmMemory> {
        let device = self.model.device();
        let conditions = condition
            .map(|c| Tensor::new(vec![c; rows].as_slice(), device))
            .transpose()?;
        let read = &context[..context.len() - 1];
        let start = if read.is_empty() {
            self.model.zero_state(rows)?
        } else {
            let ids: Vec<u32> = (0..rows).flat_map(|_| read.iter().copied()).collect();
            let ids = Tensor::from_vec(ids, (rows, read.len()), device)?;
            let lengths = vec![read.len(); rows];
            self.model
                .hidden(&ids, &lengths, conditions.as_ref(), None, &mut Mode::Eval)?
                .1
        };
        Ok(LmMemory { start, conditions })
    }

    /// The text of the generated `ids`: their pieces joined.
    fn detokenize(&self, ids: &[u32]) -> String {
        self.pieces(ids).collect()
    }

    /// The text each of `ids` adds, in order ([`Self::piece`]).
    fn pieces<'a>(&'a self, ids: &'a [u32]) -> impl Iterator<Item = String> + 'a {
        let prev = std::iter::once(None).chain(ids.iter().copied().map(Some));
        prev.zip(ids).map(|(prev, &t)| self.piece(prev, t))
    }

    /// The text `token` adds after `prev`: characters as they are; words
    /// with a space before them, but not first on a line, and `<eos>` as
    /// a line break.
    fn piece(&self, prev: Option<u32>, token: u32) -> String {
        let eos = self.vocab.eos_id();
        let text = self.vocab.token(token).unwrap_or_default();
        match self.saved.data.level {
            Level::Char => text.to_string(),
            Level::Word if Some(token) == eos => "\n".to_string(),
            Level::Word if prev.is_none() || prev == eos => text.to_string(),
            Level::Word => format!(" {text}"),
        }
    }

    fn joiner(&self, prime: &str) -> &'static str {
        match self.saved.data.level {
            Level::Word if !prime.is_empty() && !prime.ends_with(char::is_whitespace) => " ",
            _ => "",
        }
    }
}
