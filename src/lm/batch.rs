//! The data a language model trains on: encoded lines or one stream, the
//! batches made of them, and the special ids they need.

use std::ops::Range;

use candle_core::Tensor;

use crate::Result;
use crate::data::SeqBatch;

/// One encoded line: ids without `<sos>`/`<eos>` and the condition's index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedLine {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Condition index, for conditioned models.
    pub condition: Option<u32>,
}

/// Encoded data for training or scoring.
#[derive(Clone, Debug)]
pub enum LmData {
    /// One long id sequence.
    Stream(Vec<u32>),
    /// Separate lines.
    Lines(Vec<EncodedLine>),
}

impl LmData {
    /// Tokens a model predicts in it (the first of a stream has no context;
    /// every line adds its `<eos>`).
    pub fn predicted(&self) -> usize {
        match self {
            LmData::Stream(ids) => ids.len().saturating_sub(1),
            LmData::Lines(lines) => lines.iter().map(|l| l.ids.len() + 1).sum(),
        }
    }
}

/// A training batch.
#[derive(Clone, Debug)]
pub enum LmBatch {
    /// Chunk `chunk` of the streams `rows`.
    Stream {
        /// Which chunk of the epoch.
        chunk: usize,
        /// Which streams (a shard has a part of them).
        rows: Range<usize>,
        /// The optimizer step this batch is for (scheduled sampling's clock).
        step: u64,
    },
    /// Padded lines.
    Lines {
        /// `<sos> t₁ … tₙ`, `[B, T]`.
        input: SeqBatch,
        /// The same ids on the host, row-major `[B, T]`.
        input_ids: Vec<u32>,
        /// Flat `[B·T]` positions of the real tokens, `u32 [M]`.
        positions: Tensor,
        /// Their targets `t₁ … tₙ <eos>`, `u32 [M]`.
        targets: Tensor,
        /// Condition per row, `u32 [B]`.
        conditions: Option<Tensor>,
        /// The optimizer step this batch is for.
        step: u64,
    },
}

/// Special ids a task needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LmSpecials {
    /// Padding.
    pub pad: u32,
    /// First input of a line.
    pub sos: u32,
    /// Last target of a line.
    pub eos: u32,
}

/// Pads `lines` into a [`LmBatch::Lines`] for `step`.
pub(super) fn pad_lines(
    lines: &[&EncodedLine],
    specials: &LmSpecials,
    device: &candle_core::Device,
    step: u64,
) -> Result<LmBatch> {
    let inputs: Vec<Vec<u32>> = lines
        .iter()
        .map(|l| {
            std::iter::once(specials.sos)
                .chain(l.ids.iter().copied())
                .collect()
        })
        .collect();
    let input = SeqBatch::new(&inputs, specials.pad, device)?;
    let t = input.lengths.iter().copied().max().unwrap_or(0);
    let mut input_ids = vec![specials.pad; lines.len() * t];
    let (mut positions, mut targets) = (Vec::new(), Vec::new());
    for (r, (line, inp)) in lines.iter().zip(&inputs).enumerate() {
        input_ids[r * t..r * t + inp.len()].copy_from_slice(inp);
        let next = line.ids.iter().chain(std::iter::once(&specials.eos));
        for (s, &y) in next.enumerate() {
            positions.push((r * t + s) as u32);
            targets.push(y);
        }
    }
    let conditions = match lines.first().and_then(|l| l.condition) {
        Some(_) => {
            let c: Vec<u32> = lines.iter().map(|l| l.condition.unwrap_or(0)).collect();
            Some(Tensor::new(c.as_slice(), device)?)
        }
        None => None,
    };
    let m = positions.len();
    Ok(LmBatch::Lines {
        input,
        input_ids,
        positions: Tensor::from_vec(positions, m, device)?,
        targets: Tensor::from_vec(targets, m, device)?,
        conditions,
        step,
    })
}
