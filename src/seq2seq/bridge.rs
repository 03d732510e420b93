//! From the encoder's final state to the decoder's initial state.
//!
//! Sutskever et al. (2014) start the decoder from the encoder's final state as
//! it is; that works when both have the same layout. A bidirectional encoder
//! (Bahdanau et al., 2015) ends with two states per layer, so the bridge
//! learns a projection per layer: `s_l = tanh(W_l [h_l→; h_l←] + b_l)` (the
//! form of Bahdanau et al.'s appendix A.2.2 initial state, and of JoeyNMT's
//! and OpenNMT's bridges). An LSTM's memory cell `c` gets its own projection.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::nn::{Cell, Linear, LinearConfig, State};
use crate::{Error, Result};

/// Layouts on both sides of a [`Bridge`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BridgeConfig {
    /// Cell kind (an LSTM also bridges `c`).
    pub cell: Cell,
    /// Layers of both stacks.
    pub layers: usize,
    /// Encoder directions (1 or 2).
    pub directions: usize,
    /// Encoder hidden size per direction.
    pub encoder_hidden: usize,
    /// Decoder hidden size.
    pub decoder_hidden: usize,
}

impl BridgeConfig {
    /// Whether the two layouts already agree (no parameters needed).
    pub fn is_identity(&self) -> bool {
        self.directions == 1 && self.encoder_hidden == self.decoder_hidden
    }
}

/// Encoder final state `[layers·D, B, He]` → decoder initial state `[layers, B, Hd]`.
/// Parameters (when not the identity): `h.{l}.weight/bias` and, for LSTMs,
/// `c.{l}.weight/bias`, one `Linear(D·He, Hd)` per layer.
#[derive(Clone, Debug)]
pub struct Bridge {
    cfg: BridgeConfig,
    /// Per layer; empty for the identity.
    h: Vec<Linear>,
    c: Vec<Linear>,
}

impl Bridge {
    /// Builds the bridge under `vb` (usually `vb.pp("bridge")`).
    pub fn new(cfg: &BridgeConfig, vb: VarBuilder) -> Result<Self> {
        if cfg.layers == 0 || !(1..=2).contains(&cfg.directions) {
            return Err(Error::Config(format!(
                "bridge needs layers ≥ 1 and 1 or 2 directions, got {cfg:?}"
            )));
        }
        let lin = LinearConfig {
            input: cfg.directions * cfg.encoder_hidden,
            output: cfg.decoder_hidden,
            bias: true,
        };
        let build = |name: &str| -> Result<Vec<Linear>> {
            (0..cfg.layers)
                .map(|l| Linear::new(&lin, vb.pp(name).pp(l.to_string())))
                .collect()
        };
        let (h, c) = if cfg.is_identity() {
            (Vec::new(), Vec::new())
        } else if cfg.cell.has_cell_state() {
            (build("h")?, build("c")?)
        } else {
            (build("h")?, Vec::new())
        };
        Ok(Bridge { cfg: *cfg, h, c })
    }

    /// The layouts.
    pub fn config(&self) -> &BridgeConfig {
        &self.cfg
    }

    /// state: `[layers·D, B, He]` → `[layers, B, Hd]` (the same state for the identity).
    pub fn forward(&self, state: &State) -> Result<State> {
        if self.cfg.is_identity() {
            return Ok(state.clone());
        }
        let h = self.project(state.h(), &self.h)?;
        Ok(match state.c() {
            Some(c) => State::HC {
                h,
                c: self.project(c, &self.c)?,
            },
            None => State::H(h),
        })
    }

    /// xs: `[layers·D, B, He]` → `tanh(W_l [x_l→; x_l←] + b_l)` per layer, `[layers, B, Hd]`.
    fn project(&self, xs: &Tensor, per_layer: &[Linear]) -> Result<Tensor> {
        let (ld, b, he) = xs.dims3()?;
        let (layers, d) = (self.cfg.layers, self.cfg.directions);
        if ld != layers * d || he != self.cfg.encoder_hidden || per_layer.len() != layers {
            return Err(Error::Shape(format!(
                "bridge expects an encoder state [{}, {b}, {}], got [{ld}, {b}, {he}]",
                layers * d,
                self.cfg.encoder_hidden
            )));
        }
        // [layers·D, B, He] → [layers, B, D·He]: the directions of a layer side by side.
        let joined = xs
            .reshape((layers, d, b, he))?
            .permute((0, 2, 1, 3))?
            .reshape((layers, b, d * he))?;
        let out = per_layer
            .iter()
            .enumerate()
            .map(|(l, lin)| lin.forward_tanh(&joined.get(l)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(Tensor::stack(&out, 0)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::ParamStore;
    use candle_core::{DType, Device};

    fn state(cell: Cell, ld: usize, b: usize, h: usize) -> Result<State> {
        let x = Tensor::arange(0f32, (ld * b * h) as f32, &Device::Cpu)?
            .reshape((ld, b, h))?
            .affine(0.01, 0.0)?;
        Ok(if cell.has_cell_state() {
            State::HC {
                c: x.affine(-1.0, 0.0)?,
                h: x,
            }
        } else {
            State::H(x)
        })
    }

    #[test]
    fn shapes_identity_and_direction_order() -> Result<()> {
        for cell in [Cell::Gru, Cell::Lstm] {
            let store = ParamStore::new(1);
            let cfg = BridgeConfig {
                cell,
                layers: 2,
                directions: 2,
                encoder_hidden: 3,
                decoder_hidden: 5,
            };
            let bridge = Bridge::new(&cfg, store.var_builder(DType::F32, &Device::Cpu))?;
            let out = bridge.forward(&state(cell, 4, 2, 3)?)?;
            assert_eq!(out.h().dims(), [2, 2, 5]);
            assert_eq!(
                out.c().map(|c| c.dims().to_vec()),
                cell.has_cell_state().then(|| vec![2, 2, 5])
            );
            let names: Vec<String> = store.vars().into_iter().map(|(n, _)| n).collect();
            let want = if cell.has_cell_state() { 8 } else { 4 };
            assert_eq!(names.len(), want, "{names:?}");
            // Layer 1 reads [l1 forward; l1 backward] = state rows 2 and 3.
            let s = state(cell, 4, 2, 3)?;
            let x = Tensor::cat(&[s.h().get(2)?, s.h().get(3)?], 1)?;
            let lin = &bridge.h[1];
            let want = lin.forward(&x)?.tanh()?;
            let diff = (out.h().get(1)? - want)?
                .abs()?
                .max_all()?
                .to_scalar::<f32>()?;
            assert!(diff < 1e-6, "{diff}");
        }
        let store = ParamStore::new(1);
        let cfg = BridgeConfig {
            cell: Cell::Gru,
            layers: 1,
            directions: 1,
            encoder_hidden: 4,
            decoder_hidden: 4,
        };
        let id = Bridge::new(&cfg, store.var_builder(DType::F32, &Device::Cpu))?;
        assert!(store.vars().is_empty());
        let s = state(Cell::Gru, 1, 2, 4)?;
        let out = id.forward(&s)?;
        assert_eq!(out.h().to_vec3::<f32>()?, s.h().to_vec3::<f32>()?);
        assert!(
            id.forward(&state(Cell::Gru, 2, 2, 4)?).is_ok(),
            "identity passes through"
        );
        let bad = Bridge::new(
            &BridgeConfig {
                directions: 2,
                ..cfg
            },
            store.var_builder(DType::F32, &Device::Cpu),
        )?;
        assert!(bad.forward(&s).is_err(), "wrong layout is a shape error");
        Ok(())
    }
}
