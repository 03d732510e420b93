//! The per-step math of the recurrent cells, in PyTorch's equations and gate order.
//!
//! - Elman RNN: `h' = act(W_ih x + b_ih + W_hh h + b_hh)`, `act` ∈ {tanh, relu}.
//! - LSTM (Hochreiter & Schmidhuber, 1997; with forget gate, Gers et al., 2000),
//!   gates in the order i, f, g, o:
//!   `i, f, o = σ(·)`, `g = tanh(·)`, `c' = f ⊙ c + i ⊙ g`, `h' = o ⊙ tanh(c')`.
//! - GRU (Cho et al., 2014), gates in the order r, z, n, with PyTorch's placement
//!   of the reset gate (it multiplies `W_hn h + b_hn`, bias included):
//!   `r, z = σ(·)`, `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`,
//!   `h' = (1 − z) ⊙ n + z ⊙ h`.
//!
//! The stack in [`super`] projects the inputs of all steps at once and hands each
//! cell the two pre-activations `x W_ihᵀ + b_ih` and `h W_hhᵀ + b_hh` of a step;
//! only the element-wise part differs between cells, and it lives here.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The activation of an Elman RNN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Nonlinearity {
    /// `tanh` (PyTorch's default).
    Tanh,
    /// `relu`.
    Relu,
}

/// The kind of recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cell {
    /// Elman RNN with the given activation (`torch.nn.RNN`).
    Rnn(Nonlinearity),
    /// Long short-term memory (`torch.nn.LSTM`).
    Lstm,
    /// Gated recurrent unit (`torch.nn.GRU`).
    Gru,
}

/// The running state of one layer and direction during the time loop.
#[derive(Clone, Debug)]
pub struct Carry {
    /// Hidden state, `[batch, hidden]`.
    pub h: Tensor,
    /// Memory cell, `[batch, hidden]`; only for LSTMs.
    pub c: Option<Tensor>,
}

/// The element-wise step of a recurrent cell.
pub trait Recurrent {
    /// Gate blocks stacked in the weights: rows of `weight_ih` are `gates() * hidden`.
    fn gates(&self) -> usize;

    /// Whether the cell carries a memory cell `c` besides `h`.
    fn has_cell_state(&self) -> bool {
        false
    }

    /// One step. xw: [batch, gates*hidden] = `x W_ihᵀ + b_ih`;
    /// hw: [batch, gates*hidden] = `h W_hhᵀ + b_hh`; `prev` the state before
    /// the step → the state after it.
    fn step(&self, xw: &Tensor, hw: &Tensor, prev: &Carry) -> Result<Carry>;
}

/// Elman RNN step.
#[derive(Clone, Copy, Debug)]
pub struct ElmanCell(pub Nonlinearity);

/// LSTM step.
#[derive(Clone, Copy, Debug)]
pub struct LstmCell;

/// GRU step.
#[derive(Clone, Copy, Debug)]
pub struct GruCell;

impl Cell {
    /// The step implementation of this cell kind.
    pub fn recurrent(&self) -> &'static dyn Recurrent {
        match self {
            Cell::Rnn(Nonlinearity::Tanh) => &ElmanCell(Nonlinearity::Tanh),
            Cell::Rnn(Nonlinearity::Relu) => &ElmanCell(Nonlinearity::Relu),
            Cell::Lstm => &LstmCell,
            Cell::Gru => &GruCell,
        }
    }

    /// Gate blocks in the weights: 1 (RNN), 4 (LSTM), 3 (GRU).
    pub fn gates(&self) -> usize {
        self.recurrent().gates()
    }

    /// Whether the state holds a memory cell (LSTM).
    pub fn has_cell_state(&self) -> bool {
        self.recurrent().has_cell_state()
    }
}

/// Gate `k` of `n` equal blocks along the last dimension: [batch, n*h] → [batch, h].
fn gate(xs: &Tensor, k: usize, n: usize) -> Result<Tensor> {
    let width = xs.dim(1)? / n;
    Ok(xs.narrow(1, k * width, width)?)
}

fn sigmoid(xs: &Tensor) -> Result<Tensor> {
    // candle_nn's sigmoid is a CustomOp with a backward (σ(1 − σ)) and f64 support.
    Ok(candle_nn::ops::sigmoid(xs)?)
}

/// ReLU whose gradient at exactly 0 is 0, as in PyTorch (candle's `relu`
/// passes the gradient through at 0); the comparison mask carries no gradient.
fn relu(xs: &Tensor) -> Result<Tensor> {
    let positive = xs.gt(0.0)?.to_dtype(xs.dtype())?;
    Ok(xs.mul(&positive)?)
}

impl Recurrent for ElmanCell {
    fn gates(&self) -> usize {
        1
    }

    fn step(&self, xw: &Tensor, hw: &Tensor, _prev: &Carry) -> Result<Carry> {
        let pre = (xw + hw)?;
        let h = match self.0 {
            Nonlinearity::Tanh => pre.tanh()?,
            Nonlinearity::Relu => relu(&pre)?,
        };
        Ok(Carry { h, c: None })
    }
}

impl Recurrent for LstmCell {
    fn gates(&self) -> usize {
        4
    }

    fn has_cell_state(&self) -> bool {
        true
    }

    fn step(&self, xw: &Tensor, hw: &Tensor, prev: &Carry) -> Result<Carry> {
        let c_prev = prev
            .c
            .as_ref()
            .ok_or_else(|| Error::Shape("an LSTM step needs a memory cell state".into()))?;
        let pre = (xw + hw)?;
        let i = sigmoid(&gate(&pre, 0, 4)?)?;
        let f = sigmoid(&gate(&pre, 1, 4)?)?;
        let g = gate(&pre, 2, 4)?.tanh()?;
        let o = sigmoid(&gate(&pre, 3, 4)?)?;
        let c = ((f * c_prev)? + (i * g)?)?;
        let h = (o * c.tanh()?)?;
        Ok(Carry { h, c: Some(c) })
    }
}

impl Recurrent for GruCell {
    fn gates(&self) -> usize {
        3
    }

    fn step(&self, xw: &Tensor, hw: &Tensor, prev: &Carry) -> Result<Carry> {
        let r = sigmoid(&(gate(xw, 0, 3)? + gate(hw, 0, 3)?)?)?;
        let z = sigmoid(&(gate(xw, 1, 3)? + gate(hw, 1, 3)?)?)?;
        // hw's n block already holds b_hn, so r multiplies (W_hn h + b_hn).
        let n = (gate(xw, 2, 3)? + (r * gate(hw, 2, 3)?)?)?.tanh()?;
        // (1 − z) ⊙ n + z ⊙ h, written as n + z ⊙ (h − n) to save an op.
        let h = (&n + (z * (&prev.h - &n)?)?)?;
        Ok(Carry { h, c: None })
    }
}
