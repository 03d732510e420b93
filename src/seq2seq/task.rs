//! Training a translation model with the generic [`Trainer`](crate::train::Trainer):
//! bucketed batches reshuffled per epoch from the seed, (scheduled) teacher
//! forcing (Bengio et al., 2015) with coins drawn from the step's RNG, label
//! smoothing (Szegedy et al., 2016), and validation by loss and by greedy
//! translation of the validation set (Sutskever et al., 2014 §3.2).
//!
//! Everything random in a step comes from the [`Mode::Train`] RNG the trainer
//! seeds from `(seed, step)`, and epoch `e`'s batches from `(seed, e)`, so a
//! resumed run repeats a straight one bit for bit.

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::score::score;
use super::{Seq2Seq, Text, masked_loss};
use crate::data::{BatchConfig, Batcher, Pair, PairBatch, PairSpecials, shard_ranges};
use crate::decode::{GreedyConfig, LengthLimit, Specials, StepDecoder, greedy};
use crate::nn::{Mode, ParamStore, Rebuild};
use crate::text::Vocab;
use crate::train::{Metrics, Task, TaskParts};
use crate::{Error, Result};

/// One encoded sentence pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    /// Source ids (ending in `<eos>` when the pipeline says so).
    pub src: Vec<u32>,
    /// Target ids, without `<sos>`/`<eos>` (batching adds them).
    pub tgt: Vec<u32>,
    /// What translations are scored against ([`Text::reference`]).
    pub reference: String,
}

impl Example {
    /// Encodes `pair` with the text pipeline and vocabularies.
    pub fn new(pair: &Pair, text: &Text, src_vocab: &Vocab, tgt_vocab: &Vocab) -> Result<Self> {
        Ok(Example {
            src: text.encode_source(&pair.src, src_vocab, None)?,
            tgt: text.encode_target(&pair.tgt, tgt_vocab)?,
            reference: text.reference(&pair.tgt)?,
        })
    }
}

/// How a [`TranslationTask`] trains and validates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskConfig {
    /// Training batches.
    pub batch: BatchConfig,
    /// Probability of feeding the gold previous token, per step and row
    /// (1 = teacher forcing always, as the batched reference does).
    pub teacher_forcing: f64,
    /// Label smoothing ε of the training loss.
    pub label_smoothing: f64,
    /// Sentences per validation batch (loss and greedy decoding).
    pub eval_batch_size: usize,
    /// Output length budget of validation translations.
    pub limit: LengthLimit,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            batch: BatchConfig {
                batch_size: 32,
                ..BatchConfig::default()
            },
            teacher_forcing: 1.0,
            label_smoothing: 0.0,
            eval_batch_size: 256,
            limit: LengthLimit::default(),
        }
    }
}

impl TaskConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.teacher_forcing) {
            return Err(Error::Config(format!(
                "teacher_forcing must be in [0, 1], got {}",
                self.teacher_forcing
            )));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(Error::Config(format!(
                "label_smoothing must be in [0, 1), got {}",
                self.label_smoothing
            )));
        }
        if self.eval_batch_size == 0 {
            return Err(Error::Config("eval_batch_size must be at least 1".into()));
        }
        Ok(())
    }
}

/// A [`Seq2Seq`] model with its training and validation pairs.
pub struct TranslationTask {
    model: Seq2Seq,
    params: ParamStore,
    tgt_vocab: Vocab,
    text: Text,
    train: Vec<Example>,
    valid: Vec<Example>,
    batcher: Batcher,
    specials: PairSpecials,
    cfg: TaskConfig,
}

impl TranslationTask {
    /// A task over encoded examples. Every example needs a non-empty
    /// source; the target vocabulary needs `<sos>` and `<eos>` (`<pad>` is
    /// optional: padded steps are masked anyway). `text` turns validation
    /// translations into text and says how BLEU scores them.
    pub fn new(
        parts: TaskParts<Seq2Seq, Vec<Example>>,
        tgt_vocab: Vocab,
        text: Text,
        cfg: &TaskConfig,
    ) -> Result<Self> {
        let (model, params, train, valid, seed) = parts.into_tuple();
        cfg.validate()?;
        let (Some(sos), Some(eos)) = (tgt_vocab.sos_id(), tgt_vocab.eos_id()) else {
            return Err(Error::Vocab(
                "the target vocabulary needs <sos> and <eos>".into(),
            ));
        };
        for (set, examples) in [("training", &train), ("validation", &valid)] {
            if let Some(i) = examples.iter().position(|e| e.src.is_empty()) {
                return Err(Error::Config(format!(
                    "{set} example {i} has an empty source (no known token)"
                )));
            }
        }
        let lengths = train.iter().map(|e| e.src.len().max(e.tgt.len())).collect();
        let batcher = Batcher::new(lengths, &cfg.batch, seed)?;
        let specials = PairSpecials {
            pad: tgt_vocab.pad_id().unwrap_or(eos),
            sos,
            eos,
        };
        Ok(TranslationTask {
            model,
            params,
            tgt_vocab,
            text,
            train,
            valid,
            batcher,
            specials,
            cfg: cfg.clone(),
        })
    }

    /// The model.
    pub fn model(&self) -> &Seq2Seq {
        &self.model
    }

    /// Batches per training epoch.
    pub fn num_batches(&self) -> usize {
        self.batcher.num_batches()
    }

    fn batch(&self, rows: &[&Example]) -> Result<PairBatch> {
        let src: Vec<&[u32]> = rows.iter().map(|e| e.src.as_slice()).collect();
        let tgt: Vec<&[u32]> = rows.iter().map(|e| e.tgt.as_slice()).collect();
        PairBatch::new(&src, &tgt, &self.specials, self.device())
    }

    fn device(&self) -> &Device {
        StepDecoder::device(&self.model)
    }

    /// Greedy translations of the validation set, in its order, plus the
    /// token-weighted validation NLL (teacher forcing, eval mode).
    pub fn validate(&self) -> Result<(Vec<String>, f64)> {
        let mut order: Vec<usize> = (0..self.valid.len()).collect();
        order.sort_by_key(|&i| self.valid[i].src.len());
        let greedy_cfg = GreedyConfig {
            specials: Specials {
                sos: self.specials.sos,
                eos: self.specials.eos,
            },
            limit: self.cfg.limit,
        };
        let mut hyps = vec![String::new(); self.valid.len()];
        let (mut nll, mut tokens) = (0.0, 0usize);
        let model = self.model.for_inference(&self.params)?;
        for chunk in order.chunks(self.cfg.eval_batch_size) {
            let rows: Vec<&Example> = chunk.iter().map(|&i| &self.valid[i]).collect();
            let batch = self.batch(&rows)?;
            let lp = model.forward_teacher(&batch, 1.0, &mut Mode::Eval)?;
            let n: usize = batch.tgt_lengths.iter().sum();
            let loss = masked_loss(&lp, &batch.tgt_out, &batch.tgt_mask, 0.0)?;
            nll += f64::from(loss.to_dtype(DType::F32)?.to_scalar::<f32>()?) * n as f64;
            tokens += n;
            let memory = model.encode(&batch.src, &batch.src_lengths, &mut Mode::Eval)?;
            let out = greedy(&model, &memory, &batch.src_lengths, &greedy_cfg)?;
            for (&i, h) in chunk.iter().zip(out) {
                hyps[i] = self.text.detokenize(&self.tgt_vocab.decode(&h.tokens));
            }
        }
        Ok((hyps, nll / tokens.max(1) as f64))
    }
}

impl Task for TranslationTask {
    type Batch = PairBatch;

    fn params(&self) -> &ParamStore {
        &self.params
    }

    fn train_batches(&self, epoch: usize) -> Result<Vec<PairBatch>> {
        self.batcher
            .epoch(epoch as u64)
            .iter()
            .map(|idx| self.batch(&idx.iter().map(|&i| &self.train[i]).collect::<Vec<_>>()))
            .collect()
    }

    fn loss(&self, batch: &PairBatch, mode: &mut Mode<'_>) -> Result<Tensor> {
        self.model.loss(
            batch,
            self.cfg.teacher_forcing,
            self.cfg.label_smoothing,
            mode,
        )
    }

    fn batch_tokens(&self, batch: &PairBatch) -> usize {
        batch.tgt_lengths.iter().sum()
    }

    /// Row shards weighted by their share of the target tokens, matching the
    /// loss's mean over real target tokens.
    fn split(&self, batch: &PairBatch, parts: usize) -> Result<Vec<(PairBatch, f64)>> {
        let rows = batch.len();
        let parts = parts.min(rows);
        if parts < 2 {
            return Ok(Vec::new());
        }
        let total = self.batch_tokens(batch) as f64;
        shard_ranges(rows, parts)
            .into_iter()
            .map(|r| {
                let shard = batch.rows(r.start, r.len())?;
                let weight = self.batch_tokens(&shard) as f64 / total;
                Ok((shard, weight))
            })
            .collect()
    }

    /// `loss` (token-weighted NLL, teacher forcing, eval mode) and
    /// `exact_match` (fraction of greedy translations equal to the reference) and
    /// `bleu` (sacreBLEU, tokenised as [`Text::bleu_config`] says).
    fn evaluate(&self) -> Result<Metrics> {
        let (hyps, loss) = self.validate()?;
        let refs: Vec<&str> = self.valid.iter().map(|e| e.reference.as_str()).collect();
        let scores = score(&hyps, &refs, &self.text.bleu_config())?;
        Ok(Metrics::from([
            ("loss".to_string(), loss),
            ("exact_match".to_string(), scores.exact_match),
            ("bleu".to_string(), scores.bleu.score),
        ]))
    }
}
