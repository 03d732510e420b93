//! Multi-layer, optionally bidirectional recurrent stacks (Elman RNN, LSTM, GRU)
//! with PyTorch's parameters, state layout and packed-sequence semantics.
//!
//! Parameters are named and shaped like `torch.nn.RNN/LSTM/GRU`
//! (`weight_ih_l{k}[_reverse] [G*H, in]`, `weight_hh_l{k}[_reverse] [G*H, H]`,
//! `bias_ih_…`, `bias_hh_…`), initialised from U(−1/√H, 1/√H) like PyTorch's.
//! A batch of variable-length sequences behaves like a `PackedSequence`: each
//! sequence's state stops at its own last step, the reverse direction starts at
//! that step, and outputs past the length are exactly zero. This is done with
//! per-step masks on a padded batch, so the public API stays batch-first.
//!
//! The cells' element-wise math is in [`cell`]; the state type in [`state`].
//! That per-step candle graph is the reference path; with [`Kernel::Fused`]
//! (the default) each layer and direction of every cell runs as one fused op
//! ([`crate::nn::kernels::recurrent`]) with the same values and gradients.

pub mod cell;
pub mod state;
#[cfg(test)]
mod tests;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Init, VarBuilder};
use serde::{Deserialize, Serialize};

pub use cell::{Carry, Cell, Nonlinearity, Recurrent};
pub use state::State;

use super::kernels::{Kernel, default_kernel, recurrent::recurrent_sequence};
use super::{Dropout, Mode};
use crate::{Error, Result};

/// Architecture of a recurrent stack.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RnnConfig {
    /// Cell kind.
    pub cell: Cell,
    /// Input features.
    pub input: usize,
    /// Hidden units per direction.
    pub hidden: usize,
    /// Stacked layers.
    pub layers: usize,
    /// Whether each layer also runs right to left.
    pub bidirectional: bool,
    /// Dropout on the outputs of every layer but the last (training only).
    pub dropout: f32,
}

impl RnnConfig {
    /// A one-layer, unidirectional stack without dropout.
    pub fn new(cell: Cell, input: usize, hidden: usize) -> Self {
        RnnConfig {
            cell,
            input,
            hidden,
            layers: 1,
            bidirectional: false,
            dropout: 0.0,
        }
    }

    /// 2 when bidirectional, else 1.
    pub fn directions(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }

    /// Width of the output features: `directions * hidden`.
    pub fn output_size(&self) -> usize {
        self.directions() * self.hidden
    }

    /// Checks sizes and the dropout probability.
    pub fn validate(&self) -> Result<()> {
        if self.input == 0 || self.hidden == 0 || self.layers == 0 {
            return Err(Error::Config(format!(
                "a recurrent stack needs input, hidden and layers > 0, got {}, {}, {}",
                self.input, self.hidden, self.layers
            )));
        }
        if self.layers > MAX_LAYERS {
            return Err(Error::Config(format!(
                "a recurrent stack of {} layers: at most {MAX_LAYERS} are supported (layers in the config or --layers)",
                self.layers
            )));
        }
        Dropout::new(self.dropout).map(|_| ())
    }
}

/// The deepest recurrent stack: far past any that trains well (the lessons
/// use 1–2 layers, GNMT 8), so a larger count is a damaged config, refused
/// before a layer is built.
pub const MAX_LAYERS: usize = 64;

/// The four parameters of one layer and direction.
#[derive(Clone, Debug)]
struct LayerWeights {
    /// `weight_ih`, `[G*H, in]`. The parameters themselves, not transposed
    /// views: every view is a node of the graph whose gradient is a
    /// weight-sized zero-fill and addition per use, which a decoder calling
    /// the layer once per step pays on every step.
    w_ih: Tensor,
    /// `weight_hh`, `[G*H, H]`.
    w_hh: Tensor,
    /// `bias_ih`, `[G*H]`.
    b_ih: Tensor,
    /// `bias_hh`, `[G*H]`.
    b_hh: Tensor,
}

impl LayerWeights {
    /// `x W_ihᵀ + b_ih` of every step in one matrix product, time-major so
    /// each step's slice is contiguous: xs [batch, seq, in] → [seq, batch, G*H].
    fn input_projection(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, t, input) = xs.dims3()?;
        Ok(xs
            .reshape((b * t, input))?
            .matmul(&self.w_ih.t()?)?
            .broadcast_add(&self.b_ih)?
            .reshape((b, t, ()))?
            .transpose(0, 1)?
            .contiguous()?)
    }
}

/// A multi-layer, optionally bidirectional RNN/LSTM/GRU.
#[derive(Clone, Debug)]
pub struct Rnn {
    cfg: RnnConfig,
    /// Index `layer * dirs + dir`, the order of the state's first dimension.
    weights: Vec<LayerWeights>,
    dropout: Dropout,
    kernel: Kernel,
}

/// Per-step validity masks of a padded batch, shared by all layers and
/// directions of the reference path (the fused op masks by itself).
struct StepMasks {
    /// For step `t`: `None` when every sequence is still running, else
    /// `(m, 1 − m)` as `[batch, 1]` with `m = 1` where `t < length`.
    steps: Vec<Option<(Tensor, Tensor)>>,
}

impl StepMasks {
    fn new(lengths: &[usize], t: usize, dtype: DType, device: &Device) -> Result<Self> {
        let shortest = lengths.iter().copied().min().unwrap_or(t);
        let steps = (0..t)
            .map(|s| {
                if s < shortest {
                    return Ok(None);
                }
                let m: Vec<f64> = lengths
                    .iter()
                    .map(|&l| if s < l { 1.0 } else { 0.0 })
                    .collect();
                let m = Tensor::from_vec(m, (lengths.len(), 1), device)?.to_dtype(dtype)?;
                let not_m = m.affine(-1.0, 1.0)?;
                Ok(Some((m, not_m)))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(StepMasks { steps })
    }
}

impl Rnn {
    /// Builds the stack under `vb` with PyTorch's parameter names and init.
    pub fn new(cfg: &RnnConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let gh = cfg.cell.gates() * cfg.hidden;
        let bound = 1.0 / (cfg.hidden as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let mut weights = Vec::with_capacity(cfg.layers * cfg.directions());
        for layer in 0..cfg.layers {
            let input = if layer == 0 {
                cfg.input
            } else {
                cfg.output_size()
            };
            for dir in 0..cfg.directions() {
                let sfx = format!("l{layer}{}", if dir == 1 { "_reverse" } else { "" });
                let w_ih = vb.get_with_hints((gh, input), &format!("weight_ih_{sfx}"), init)?;
                let w_hh =
                    vb.get_with_hints((gh, cfg.hidden), &format!("weight_hh_{sfx}"), init)?;
                weights.push(LayerWeights {
                    w_ih,
                    w_hh,
                    b_ih: vb.get_with_hints(gh, &format!("bias_ih_{sfx}"), init)?,
                    b_hh: vb.get_with_hints(gh, &format!("bias_hh_{sfx}"), init)?,
                });
            }
        }
        Ok(Rnn {
            cfg: *cfg,
            weights,
            dropout: Dropout::new(cfg.dropout)?,
            kernel: default_kernel(),
        })
    }

    /// The same stack running on `kernel` (built layers take the process
    /// default, [`default_kernel`]).
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// The kernel this stack runs on.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Whether a direction runs as the fused op.
    fn fused(&self, x: &Tensor) -> bool {
        self.kernel == Kernel::Fused
            && x.device().is_cpu()
            && matches!(x.dtype(), DType::F32 | DType::F64)
    }

    /// `(weight_ih, bias_ih, weight_hh, bias_hh)` of layer-direction `index`
    /// (`layer * dirs + dir`), for kernels that read them directly.
    pub fn layer_parameters(&self, index: usize) -> Option<[&Tensor; 4]> {
        self.weights
            .get(index)
            .map(|w| [&w.w_ih, &w.b_ih, &w.w_hh, &w.b_hh])
    }

    /// The architecture.
    pub fn config(&self) -> &RnnConfig {
        &self.cfg
    }

    /// Runs the stack over a padded batch.
    ///
    /// x: [batch, seq, input]; `lengths[b]` in `1..=seq` is sequence `b`'s
    /// length; `init`: [layers*dirs, batch, hidden] (zeros when `None`) →
    /// (output [batch, seq, dirs*hidden], zero past each length; final state
    /// [layers*dirs, batch, hidden], each sequence's state at its own last step).
    pub fn forward(
        &self,
        x: &Tensor,
        lengths: &[usize],
        init: Option<&State>,
        mode: &mut Mode<'_>,
    ) -> Result<(Tensor, State)> {
        let (b, t, input) = x.dims3()?;
        self.check_input(b, t, input, lengths)?;
        let zeros;
        let init = match init {
            Some(s) => {
                s.check(&self.cfg, b)?;
                s
            }
            None => {
                zeros = State::zeros(&self.cfg, b, x.dtype(), x.device())?;
                &zeros
            }
        };
        // Every layer's input has `x`'s device and dtype, so one path serves
        // the whole stack; only the reference path reads step masks.
        let masks = match self.fused(x) {
            true => None,
            false => Some(StepMasks::new(lengths, t, x.dtype(), x.device())?),
        };
        let dirs = self.cfg.directions();
        let (mut hs, mut cs) = (Vec::new(), Vec::new());
        let mut layer_in = x.clone();
        for layer in 0..self.cfg.layers {
            let mut outs = Vec::with_capacity(dirs);
            for dir in 0..dirs {
                let k = layer * dirs + dir;
                let start = Carry {
                    h: init.h().get(k)?,
                    c: init.c().map(|c| c.get(k)).transpose()?,
                };
                let w = &self.weights[k];
                let (out, last) = match &masks {
                    None => {
                        let run = Direction {
                            cell: self.cfg.cell,
                            lengths,
                            reverse: dir == 1,
                        };
                        run.fused(&layer_in, w, &start)?
                    }
                    Some(m) => self.run_direction(&layer_in, w, start, m, dir == 1)?,
                };
                outs.push(out);
                hs.push(last.h);
                cs.extend(last.c);
            }
            let out = Tensor::cat(&outs, 2)?;
            // PyTorch applies dropout between layers only, never after the last.
            layer_in = if layer + 1 < self.cfg.layers {
                self.dropout.forward(&out, mode)?
            } else {
                out
            };
        }
        let h = Tensor::stack(&hs, 0)?;
        let state = if self.cfg.cell.has_cell_state() {
            State::HC {
                h,
                c: Tensor::stack(&cs, 0)?,
            }
        } else {
            State::H(h)
        };
        Ok((layer_in, state))
    }

    fn check_input(&self, b: usize, t: usize, input: usize, lengths: &[usize]) -> Result<()> {
        if input != self.cfg.input {
            return Err(Error::Shape(format!(
                "recurrent stack expects {} input features, got {input}",
                self.cfg.input
            )));
        }
        if lengths.len() != b {
            return Err(Error::Shape(format!(
                "{} lengths given for a batch of {b} sequences",
                lengths.len()
            )));
        }
        if let Some((i, l)) = lengths
            .iter()
            .enumerate()
            .find(|(_, l)| !(1..=t).contains(*l))
        {
            return Err(Error::Shape(format!(
                "sequence {i} has length {l}; lengths must be in 1..={t} (the padded length)"
            )));
        }
        Ok(())
    }

    /// One layer in one direction. xs: [batch, seq, in] → (outputs [batch, seq, hidden], final state).
    fn run_direction(
        &self,
        xs: &Tensor,
        w: &LayerWeights,
        mut carry: Carry,
        masks: &StepMasks,
        reverse: bool,
    ) -> Result<(Tensor, Carry)> {
        let t = xs.dim(1)?;
        let cell = self.cfg.cell.recurrent();
        let xw = w.input_projection(xs)?;
        let hh_t = w.w_hh.t()?;
        let mut outs: Vec<Option<Tensor>> = vec![None; t];
        let order: Box<dyn Iterator<Item = usize>> = if reverse {
            Box::new((0..t).rev())
        } else {
            Box::new(0..t)
        };
        for s in order {
            let hw = carry.h.matmul(&hh_t)?.broadcast_add(&w.b_hh)?;
            let next = cell.step(&xw.get(s)?, &hw, &carry)?;
            let (out, next) = match &masks.steps[s] {
                None => (next.h.clone(), next),
                Some((m, not_m)) => {
                    // Finished sequences keep their state and emit zeros: the
                    // packed-sequence semantics, gradients included.
                    let keep = |new: &Tensor, old: &Tensor| -> Result<Tensor> {
                        Ok((new.broadcast_mul(m)? + old.broadcast_mul(not_m)?)?)
                    };
                    let c = match (&next.c, &carry.c) {
                        (Some(new), Some(old)) => Some(keep(new, old)?),
                        _ => None,
                    };
                    let out = next.h.broadcast_mul(m)?;
                    (
                        out,
                        Carry {
                            h: keep(&next.h, &carry.h)?,
                            c,
                        },
                    )
                }
            };
            outs[s] = Some(out);
            carry = next;
        }
        let outs: Vec<Tensor> = outs.into_iter().flatten().collect();
        Ok((Tensor::stack(&outs, 1)?, carry))
    }
}

/// What one fused layer direction runs with, besides its weights.
struct Direction<'a> {
    cell: Cell,
    lengths: &'a [usize],
    reverse: bool,
}

impl Direction<'_> {
    /// One layer and direction through the fused op: the same outputs and
    /// final state as [`Rnn::run_direction`]. xs: [batch, seq, in].
    fn fused(&self, xs: &Tensor, w: &LayerWeights, start: &Carry) -> Result<(Tensor, Carry)> {
        let (b, t, _) = xs.dims3()?;
        let hidden = start.h.dim(1)?;
        let mut s0 = vec![&start.h];
        s0.extend(start.c.as_ref());
        // [B, T, H] outputs (zero past each length), then the final h and c.
        let flat = recurrent_sequence(
            self.cell,
            xs,
            &s0,
            [&w.w_ih, &w.b_ih, &w.w_hh, &w.b_hh],
            self.lengths,
            self.reverse,
        )?;
        let n = b * t * hidden;
        let out = flat.narrow(0, 0, n)?.reshape((b, t, hidden))?;
        let block = |k: usize| {
            flat.narrow(0, n + k * b * hidden, b * hidden)?
                .reshape((b, hidden))
        };
        let carry = Carry {
            h: block(0)?,
            c: match start.c {
                Some(_) => Some(block(1)?),
                None => None,
            },
        };
        Ok((out, carry))
    }
}
