//! The recurrent state that goes into and comes out of a stack, laid out like PyTorch's.
//!
//! `h` (and an LSTM's `c`) are `[layers * directions, batch, hidden]`,
//! layer-major and direction-minor (`l0`, `l0_reverse`, `l1`, …), so PyTorch's
//! `h_n`/`c_n` and the `h0`/`c0` it accepts map one-to-one. Beam search
//! reorders the batch through [`State::select`], never through the module.

use candle_core::{DType, Device, Tensor};

use super::RnnConfig;
use crate::{Error, Result};

/// Hidden state of a recurrent stack: tensors `[layers * dirs, batch, hidden]`.
#[derive(Clone, Debug)]
pub enum State {
    /// Elman RNN and GRU: the hidden state only.
    H(Tensor),
    /// LSTM: hidden state and memory cell.
    HC {
        /// Hidden state, `[layers * dirs, batch, hidden]`.
        h: Tensor,
        /// Memory cell, `[layers * dirs, batch, hidden]`.
        c: Tensor,
    },
}

impl State {
    /// The all-zero state PyTorch uses when no `h0` is given.
    pub fn zeros(cfg: &RnnConfig, batch: usize, dtype: DType, device: &Device) -> Result<Self> {
        let shape = (cfg.layers * cfg.directions(), batch, cfg.hidden);
        let h = Tensor::zeros(shape, dtype, device)?;
        Ok(if cfg.cell.has_cell_state() {
            State::HC { c: h.clone(), h }
        } else {
            State::H(h)
        })
    }

    /// Hidden state, `[layers * dirs, batch, hidden]`.
    pub fn h(&self) -> &Tensor {
        match self {
            State::H(h) | State::HC { h, .. } => h,
        }
    }

    /// Memory cell, `[layers * dirs, batch, hidden]`, for LSTMs.
    pub fn c(&self) -> Option<&Tensor> {
        match self {
            State::H(_) => None,
            State::HC { c, .. } => Some(c),
        }
    }

    /// Applies `f` to every tensor of the state.
    pub fn map(&self, mut f: impl FnMut(&Tensor) -> Result<Tensor>) -> Result<Self> {
        Ok(match self {
            State::H(h) => State::H(f(h)?),
            State::HC { h, c } => State::HC { h: f(h)?, c: f(c)? },
        })
    }

    /// Picks batch rows: idx: `[n]` (u32/i64) → state with batch `n` (for beam search).
    pub fn select(&self, idx: &Tensor) -> Result<Self> {
        self.map(|t| Ok(t.index_select(idx, 1)?))
    }

    /// The same values cut from the graph (truncated backpropagation through time).
    pub fn detach(&self) -> Self {
        match self {
            State::H(h) => State::H(h.detach()),
            State::HC { h, c } => State::HC {
                h: h.detach(),
                c: c.detach(),
            },
        }
    }

    /// Checks that this state fits `cfg` with `batch` rows.
    pub fn check(&self, cfg: &RnnConfig, batch: usize) -> Result<()> {
        let want = [cfg.layers * cfg.directions(), batch, cfg.hidden];
        if self.c().is_some() != cfg.cell.has_cell_state() {
            return Err(Error::Shape(format!(
                "a {:?} stack needs a state {} a memory cell",
                cfg.cell,
                if cfg.cell.has_cell_state() {
                    "with"
                } else {
                    "without"
                }
            )));
        }
        for (name, t) in [("h", Some(self.h())), ("c", self.c())] {
            if let Some(t) = t
                && t.dims() != want
            {
                return Err(Error::Shape(format!(
                    "initial state {name} is {:?}, expected [layers*dirs, batch, hidden] = {want:?}",
                    t.dims()
                )));
            }
        }
        Ok(())
    }
}
