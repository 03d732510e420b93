//! Training a [`LanguageModel`] with the generic [`Trainer`](crate::train::Trainer).
//!
//! - **Streams**: the corpus is cut into `batch_size` parallel streams (PyTorch
//!   `word_language_model`'s `batchify`) and read `bptt` steps at a time, in
//!   order; each stream's hidden state is carried from one chunk to the next
//!   and detached (truncated backpropagation through time), reset at the start
//!   of every epoch, and saved with each checkpoint so a resume is exact.
//! - **Lines**: length-bucketed batches of `<sos> t₁ … tₙ` → `t₁ … tₙ <eos>`,
//!   reshuffled each epoch; padded positions do not count.
//!
//! Teacher forcing feeds the true previous token. **Scheduled sampling**
//! (Bengio et al. 2015) feeds, at each step after the first, the model's own
//! sample from its previous prediction with a probability that rises over
//! training ([`ScheduledSampling`]); the steps then run one at a time.
//!
//! The loss is the mean next-token cross-entropy (nats); validation reports
//! it with its perplexity and, for char models, bits per character.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use super::LanguageModel;
use crate::data::{BatchConfig, Batcher, shard_ranges};
use crate::nn::{Mode, ParamStore, Rebuild, State};
use crate::train::{CrossEntropy, Metrics, Reduction, Task, TaskParts};
use crate::{Error, Result};

use super::batch::{EncodedLine, LmBatch, LmData, LmSpecials, pad_lines};
use super::scheduled_sampling::{ScheduledSampling, feed_samples};

/// How an [`LmTask`] batches, trains and validates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskConfig {
    /// Parallel streams (stream data) or lines per batch.
    pub batch_size: usize,
    /// Steps of backpropagation through time per chunk (stream data).
    pub bptt: usize,
    /// Parallel streams or lines per evaluation batch.
    pub eval_batch_size: usize,
    /// Validate during training on at most this many tokens of the
    /// validation part (its beginning); `lm eval` always scores all of it.
    pub valid_tokens: Option<usize>,
    /// Feed the model's own samples (off: teacher forcing).
    pub scheduled_sampling: Option<ScheduledSampling>,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            batch_size: 64,
            bptt: 100,
            eval_batch_size: 64,
            valid_tokens: None,
            scheduled_sampling: None,
        }
    }
}

impl TaskConfig {
    /// Checks sizes.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 || self.bptt == 0 || self.eval_batch_size == 0 {
            return Err(Error::Config(
                "batch_size, bptt and eval_batch_size must be at least 1".into(),
            ));
        }
        if let Some(s) = &self.scheduled_sampling {
            s.validate()?;
        }
        Ok(())
    }
}

/// A language model with its training and validation data.
pub struct LmTask {
    model: LanguageModel,
    params: ParamStore,
    train: LmData,
    valid: LmData,
    specials: LmSpecials,
    batcher: Option<Batcher>,
    /// Stream layout: tokens per stream.
    stream_len: usize,
    /// The carried state of each shard's streams, by their first row.
    carry: Mutex<HashMap<usize, State>>,
    chars_per_token: Option<f64>,
    cfg: TaskConfig,
}

impl LmTask {
    /// A task over encoded data (the seed drives the order of lines).
    /// `chars_per_token`: 1 for char models (validation then reports bits
    /// per character), `None` otherwise.
    pub fn new(
        parts: TaskParts<LanguageModel, LmData>,
        specials: LmSpecials,
        chars_per_token: Option<f64>,
        cfg: &TaskConfig,
    ) -> Result<Self> {
        let (model, params, train, valid, seed) = parts.into_tuple();
        cfg.validate()?;
        let (batcher, stream_len) = match &train {
            LmData::Stream(ids) => {
                let per = ids.len() / cfg.batch_size;
                if per < 2 {
                    return Err(Error::Config(format!(
                        "{} training tokens are too few for {} streams: lower --batch-size",
                        ids.len(),
                        cfg.batch_size
                    )));
                }
                (None, per)
            }
            LmData::Lines(lines) => {
                if lines.is_empty() {
                    return Err(Error::Config("no training lines".into()));
                }
                let lengths = lines.iter().map(|l| l.ids.len() + 1).collect();
                let bcfg = BatchConfig {
                    batch_size: cfg.batch_size,
                    ..BatchConfig::default()
                };
                (Some(Batcher::new(lengths, &bcfg, seed)?), 0)
            }
        };
        if valid.predicted() == 0 {
            return Err(Error::Config("the validation part is empty".into()));
        }
        Ok(LmTask {
            model,
            params,
            train,
            valid,
            specials,
            batcher,
            stream_len,
            carry: Mutex::new(HashMap::new()),
            chars_per_token,
            cfg: cfg.clone(),
        })
    }

    /// The model.
    pub fn model(&self) -> &LanguageModel {
        &self.model
    }

    fn chunks(&self) -> usize {
        (self.stream_len - 1).div_ceil(self.cfg.bptt)
    }

    fn sample_probability(&self, step: u64) -> f64 {
        self.cfg
            .scheduled_sampling
            .map_or(0.0, |s| s.probability(step))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<usize, State>> {
        self.carry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Inputs and targets of chunk `chunk` for streams `rows` (host, row-major).
    fn stream_chunk(
        &self,
        ids: &[u32],
        chunk: usize,
        rows: &Range<usize>,
    ) -> (Vec<u32>, Vec<u32>, usize) {
        let from = chunk * self.cfg.bptt;
        let t = self.cfg.bptt.min(self.stream_len - 1 - from);
        let mut input = Vec::with_capacity(rows.len() * t);
        let mut target = Vec::with_capacity(rows.len() * t);
        for r in rows.clone() {
            let s = &ids[r * self.stream_len + from..];
            input.extend_from_slice(&s[..t]);
            target.extend_from_slice(&s[1..=t]);
        }
        (input, target, t)
    }

    fn stream_loss(
        &self,
        chunk: usize,
        rows: &Range<usize>,
        step: u64,
        mode: &mut Mode<'_>,
    ) -> Result<Tensor> {
        let LmData::Stream(ids) = &self.train else {
            return Err(Error::Config("a stream batch for a line task".into()));
        };
        let (input, target, t) = self.stream_chunk(ids, chunk, rows);
        let b = rows.len();
        let init = match chunk {
            0 => None,
            _ => self.lock().get(&rows.start).cloned(),
        };
        let p = self.sample_probability(step);
        let (h, state) = unroll(&self.model, &input, b, t, None, init.as_ref(), p, mode)?;
        self.lock().insert(rows.start, state.detach());
        let targets = Tensor::from_vec(target, b * t, self.model.device())?;
        let flat = h.reshape((b * t, ()))?;
        output_loss(&self.model, &flat, &targets, Reduction::Mean)
    }

    /// Pads `lines` into a batch for `step`.
    fn line_batch(&self, lines: &[&EncodedLine], step: u64) -> Result<LmBatch> {
        pad_lines(lines, &self.specials, self.model.device(), step)
    }

    /// Summed NLL (nats) and predicted tokens of `data`, scored in evaluation mode.
    pub fn score(&self, data: &LmData) -> Result<(f64, usize)> {
        let model = self.model.for_inference(&self.params)?;
        score(&model, data, &self.specials, &self.cfg)
    }

    /// `loss`, `perplexity` and (char models) `bits_per_char` from a summed NLL.
    pub fn metrics(nll: f64, tokens: usize, chars_per_token: Option<f64>) -> Metrics {
        let loss = nll / tokens.max(1) as f64;
        let mut m = Metrics::from([
            ("loss".to_string(), loss),
            ("perplexity".to_string(), loss.exp()),
        ]);
        if let Some(c) = chars_per_token {
            m.insert(
                "bits_per_char".to_string(),
                loss / c / std::f64::consts::LN_2,
            );
        }
        m
    }
}

/// Summed NLL (nats) of `data` under `model` and the number of predicted
/// tokens. Streams are read as `cfg.eval_batch_size` parallel streams (fewer
/// for short texts) with the state carried over chunks of `cfg.bptt`; the
/// last `len mod streams` tokens are left out, as PyTorch's `batchify` does.
pub fn score(
    model: &LanguageModel,
    data: &LmData,
    specials: &LmSpecials,
    cfg: &TaskConfig,
) -> Result<(f64, usize)> {
    let device = model.device();
    match data {
        LmData::Stream(ids) => {
            if ids.len() < 2 {
                return Err(Error::Config(
                    "a text of fewer than 2 tokens cannot be scored".into(),
                ));
            }
            let streams = cfg.eval_batch_size.min((ids.len() - 1) / 2).max(1);
            let per = ids.len() / streams;
            let chunk = cfg.bptt.max(128);
            let (mut nll, mut count) = (0.0, 0usize);
            let mut state: Option<State> = None;
            let mut from = 0;
            while from < per - 1 {
                let t = chunk.min(per - 1 - from);
                let (mut input, mut target) = (Vec::new(), Vec::new());
                for r in 0..streams {
                    let s = &ids[r * per + from..];
                    input.extend_from_slice(&s[..t]);
                    target.extend_from_slice(&s[1..=t]);
                }
                let x = Tensor::from_vec(input, (streams, t), device)?;
                let (h, next) =
                    model.hidden(&x, &vec![t; streams], None, state.as_ref(), &mut Mode::Eval)?;
                state = Some(next.detach());
                let y = Tensor::from_vec(target, streams * t, device)?;
                let flat = h.reshape((streams * t, ()))?.detach();
                nll += scalar(&output_loss(model, &flat, &y, Reduction::Sum)?)?;
                count += streams * t;
                from += t;
            }
            Ok((nll, count))
        }
        LmData::Lines(lines) => {
            let mut order: Vec<usize> = (0..lines.len()).collect();
            order.sort_by_key(|&i| lines[i].ids.len());
            let (mut nll, mut count) = (0.0, 0usize);
            for idx in order.chunks(cfg.eval_batch_size) {
                let rows: Vec<&EncodedLine> = idx.iter().map(|&i| &lines[i]).collect();
                let batch = pad_lines(&rows, specials, device, 0)?;
                let sum = lines_loss(model, &batch, Reduction::Sum, 0.0, &mut Mode::Eval)?;
                nll += scalar(&sum)?;
                count += rows.iter().map(|l| l.ids.len() + 1).sum::<usize>();
            }
            Ok((nll, count))
        }
    }
}

/// The top layer's outputs `[B, T, H]` over `input` (`[B, T]` row-major
/// on the host): one fused pass under teacher forcing, step by step
/// feeding the model's samples with probability `p`.
#[allow(clippy::too_many_arguments)]
fn unroll(
    model: &LanguageModel,
    input: &[u32],
    b: usize,
    t: usize,
    conditions: Option<&Tensor>,
    init: Option<&State>,
    p: f64,
    mode: &mut Mode<'_>,
) -> Result<(Tensor, State)> {
    let device = model.device();
    if p <= 0.0 || t < 2 {
        let ids = Tensor::from_slice(input, (b, t), device)?;
        return model.hidden(&ids, &vec![t; b], conditions, init, mode);
    }
    let mut state = match init {
        Some(s) => s.clone(),
        None => model.zero_state(b)?,
    };
    let mut outs = Vec::with_capacity(t);
    let mut sampled: Option<Vec<u32>> = None;
    for s in 0..t {
        let tokens: Vec<u32> = (0..b)
            .map(|r| match &sampled {
                Some(own) => own[r],
                None => input[r * t + s],
            })
            .collect();
        let ids = Tensor::from_vec(tokens, (b, 1), device)?;
        let (out, next) = model.hidden(&ids, &vec![1; b], conditions, Some(&state), mode)?;
        state = next;
        sampled = if s + 1 < t {
            feed_samples(model, &out, input, b, t, s + 1, p, mode)?
        } else {
            None
        };
        outs.push(out);
    }
    Ok((Tensor::cat(&outs, 1)?, state))
}

/// The loss of a batch of lines; with `p > 0` (training) the model's own
/// samples are fed with probability `p`.
fn lines_loss(
    model: &LanguageModel,
    batch: &LmBatch,
    reduction: Reduction,
    p: f64,
    mode: &mut Mode<'_>,
) -> Result<Tensor> {
    let LmBatch::Lines {
        input,
        input_ids,
        positions,
        targets,
        conditions,
        ..
    } = batch
    else {
        return Err(Error::Config("a stream batch for a line task".into()));
    };
    let (b, t) = input.ids.dims2()?;
    let (h, _) = if p > 0.0 && mode.is_train() {
        unroll(model, input_ids, b, t, conditions.as_ref(), None, p, mode)?
    } else {
        model.hidden(&input.ids, &input.lengths, conditions.as_ref(), None, mode)?
    };
    let flat = h.reshape((b * t, ()))?.index_select(positions, 0)?;
    output_loss(model, &flat, targets, reduction)
}

/// The cross-entropy of the model's output layer over `hidden` (`[N, H]`)
/// against `targets` (`u32 [N]`).
fn output_loss(
    model: &LanguageModel,
    hidden: &Tensor,
    targets: &Tensor,
    reduction: Reduction,
) -> Result<Tensor> {
    let (w, bias) = model.output_layer();
    CrossEntropy {
        reduction,
        ..CrossEntropy::default()
    }
    .forward_linear(hidden, w, Some(bias), targets)
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(f64::from(t.to_dtype(DType::F32)?.to_scalar::<f32>()?))
}

impl Task for LmTask {
    type Batch = LmBatch;

    fn params(&self) -> &ParamStore {
        &self.params
    }

    fn train_batches(&self, epoch: usize) -> Result<Vec<LmBatch>> {
        match (&self.train, &self.batcher) {
            (LmData::Stream(_), _) => {
                let n = self.chunks();
                let first = (epoch * n) as u64;
                Ok((0..n)
                    .map(|chunk| LmBatch::Stream {
                        chunk,
                        rows: 0..self.cfg.batch_size,
                        step: first + chunk as u64,
                    })
                    .collect())
            }
            (LmData::Lines(lines), Some(batcher)) => {
                let batches = batcher.epoch(epoch as u64);
                let first = (epoch * batches.len()) as u64;
                batches
                    .iter()
                    .enumerate()
                    .map(|(k, idx)| {
                        let rows: Vec<&EncodedLine> = idx.iter().map(|&i| &lines[i]).collect();
                        self.line_batch(&rows, first + k as u64)
                    })
                    .collect()
            }
            (LmData::Lines(_), None) => Err(Error::Config("a line task without batches".into())),
        }
    }

    fn loss(&self, batch: &LmBatch, mode: &mut Mode<'_>) -> Result<Tensor> {
        match batch {
            LmBatch::Stream { chunk, rows, step } => self.stream_loss(*chunk, rows, *step, mode),
            LmBatch::Lines { step, .. } => {
                let p = self.sample_probability(*step);
                lines_loss(&self.model, batch, Reduction::Mean, p, mode)
            }
        }
    }

    fn batch_tokens(&self, batch: &LmBatch) -> usize {
        match batch {
            LmBatch::Stream { chunk, rows, .. } => {
                rows.len()
                    * self
                        .cfg
                        .bptt
                        .min(self.stream_len - 1 - chunk * self.cfg.bptt)
            }
            LmBatch::Lines { targets, .. } => targets.dims().first().copied().unwrap_or(0),
        }
    }

    /// Streams split by rows (every row has as many tokens); lines by rows,
    /// weighted by their share of the batch's tokens.
    fn split(&self, batch: &LmBatch, parts: usize) -> Result<Vec<(LmBatch, f64)>> {
        match batch {
            LmBatch::Stream { chunk, rows, step } => {
                let n = rows.len();
                if parts.min(n) < 2 {
                    return Ok(Vec::new());
                }
                Ok(shard_ranges(n, parts)
                    .into_iter()
                    .map(|r| {
                        let w = r.len() as f64 / n as f64;
                        let shard = LmBatch::Stream {
                            chunk: *chunk,
                            rows: rows.start + r.start..rows.start + r.end,
                            step: *step,
                        };
                        (shard, w)
                    })
                    .collect())
            }
            LmBatch::Lines {
                input,
                input_ids,
                step,
                ..
            } => {
                let (b, t) = input.ids.dims2()?;
                if parts.min(b) < 2 {
                    return Ok(Vec::new());
                }
                let LmData::Lines(_) = &self.train else {
                    return Ok(Vec::new());
                };
                let total = self.batch_tokens(batch) as f64;
                shard_ranges(b, parts)
                    .into_iter()
                    .map(|r| {
                        // Rebuild the rows' lines from the padded ids.
                        let lines: Vec<EncodedLine> = r
                            .clone()
                            .map(|row| {
                                let len = input.lengths[row];
                                EncodedLine {
                                    ids: input_ids[row * t + 1..row * t + len].to_vec(),
                                    condition: None,
                                }
                            })
                            .collect();
                        let conditions = match batch {
                            LmBatch::Lines {
                                conditions: Some(c),
                                ..
                            } => Some(c.narrow(0, r.start, r.len())?.to_vec1::<u32>()?),
                            _ => None,
                        };
                        let lines: Vec<EncodedLine> = lines
                            .into_iter()
                            .enumerate()
                            .map(|(k, mut l)| {
                                l.condition = conditions.as_ref().map(|c| c[k]);
                                l
                            })
                            .collect();
                        let refs: Vec<&EncodedLine> = lines.iter().collect();
                        let shard = self.line_batch(&refs, *step)?;
                        let w = self.batch_tokens(&shard) as f64 / total;
                        Ok((shard, w))
                    })
                    .collect()
            }
        }
    }

    /// `loss` (nats per token), `perplexity` and, for char models,
    /// `bits_per_char` on the validation data.
    fn evaluate(&self) -> Result<Metrics> {
        let limited;
        let data = match (&self.valid, self.cfg.valid_tokens) {
            (LmData::Stream(ids), Some(n)) if ids.len() > n + 1 => {
                limited = LmData::Stream(ids[..n + 1].to_vec());
                &limited
            }
            _ => &self.valid,
        };
        let (nll, n) = self.score(data)?;
        Ok(Self::metrics(nll, n, self.chars_per_token))
    }

    fn carry(&self) -> Result<HashMap<String, Tensor>> {
        let mut out = HashMap::new();
        for (start, state) in self.lock().iter() {
            out.insert(format!("h.{start}"), state.h().clone());
            if let Some(c) = state.c() {
                out.insert(format!("c.{start}"), c.clone());
            }
        }
        Ok(out)
    }

    fn restore_carry(&self, saved: HashMap<String, Tensor>) -> Result<()> {
        let mut carry = self.lock();
        carry.clear();
        for (name, h) in &saved {
            let Some(start) = name.strip_prefix("h.") else {
                continue;
            };
            let key: usize = start
                .parse()
                .map_err(|_| Error::Config(format!("carried state `{name}`: not a row index")))?;
            let state = match saved.get(&format!("c.{start}")) {
                Some(c) => State::HC {
                    h: h.clone(),
                    c: c.clone(),
                },
                None => State::H(h.clone()),
            };
            carry.insert(key, state);
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "task_tests.rs"]
mod tests;
