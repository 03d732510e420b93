//! Dropout (Srivastava et al., 2014) with masks drawn from the run's seeded RNG.
//!
//! candle's dropout draws from an unseeded global RNG; here the mask comes from
//! the RNG carried by [`Mode::Train`], so one `--seed` reproduces a run exactly.
//! Like PyTorch, kept units are scaled by `1 / (1 - p)` and eval is the identity.

use candle_core::Tensor;
use rand::{Rng, rngs::StdRng};

use crate::{Error, Result};

/// Whether a forward pass trains (dropout on, drawing from the RNG) or evaluates.
#[derive(Debug)]
pub enum Mode<'a> {
    /// Inference: dropout is the identity.
    Eval,
    /// Training: dropout masks are drawn from this RNG.
    Train(&'a mut StdRng),
}

impl Mode<'_> {
    /// True when training.
    pub fn is_train(&self) -> bool {
        matches!(self, Mode::Train(_))
    }

    /// The RNG, when training.
    pub fn rng(&mut self) -> Option<&mut StdRng> {
        match self {
            Mode::Train(r) => Some(r),
            Mode::Eval => None,
        }
    }
}

/// Zeroes each element with probability `p` while training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    p: f32,
}

impl Dropout {
    /// Dropout with drop probability `p` in `[0, 1)`.
    pub fn new(p: f32) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::Config(format!(
                "dropout probability must be in [0, 1), got {p}"
            )));
        }
        Ok(Dropout { p })
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }

    /// Applies dropout to `xs` (any shape) in training mode; identity otherwise.
    pub fn forward(&self, xs: &Tensor, mode: &mut Mode<'_>) -> Result<Tensor> {
        let rng = match mode.rng() {
            Some(r) if self.p > 0.0 => r,
            _ => return Ok(xs.clone()),
        };
        let scale = 1.0 / (1.0 - self.p);
        let mask: Vec<f32> = (0..xs.elem_count())
            .map(|_| {
                if rng.random::<f32>() < self.p {
                    0.0
                } else {
                    scale
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, xs.shape(), xs.device())?.to_dtype(xs.dtype())?;
        Ok(xs.mul(&mask)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use rand::SeedableRng;

    #[test]
    fn eval_is_identity_and_train_scales_kept_units() -> Result<()> {
        let d = Dropout::new(0.5)?;
        let x = Tensor::ones((1000,), DType::F32, &Device::Cpu)?;
        let y = d.forward(&x, &mut Mode::Eval)?;
        assert_eq!(y.to_vec1::<f32>()?, x.to_vec1::<f32>()?);
        let mut rng = StdRng::seed_from_u64(1);
        let y: Vec<f32> = d.forward(&x, &mut Mode::Train(&mut rng))?.to_vec1()?;
        assert!(y.iter().all(|v| *v == 0.0 || *v == 2.0));
        let kept = y.iter().filter(|v| **v > 0.0).count();
        assert!((400..600).contains(&kept), "kept {kept} of 1000");
        let mut rng2 = StdRng::seed_from_u64(1);
        let y2: Vec<f32> = d.forward(&x, &mut Mode::Train(&mut rng2))?.to_vec1()?;
        assert_eq!(y, y2, "same seed, same mask");
        assert!(Dropout::new(1.0).is_err());
        Ok(())
    }
}
