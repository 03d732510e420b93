//! A fully connected layer, `y = x Wᵀ + b`, with PyTorch's names and init.
//!
//! Weights are `weight [out, in]` and `bias [out]` like `torch.nn.Linear`, drawn
//! from U(−1/√in, 1/√in) (what PyTorch's `kaiming_uniform_(a=√5)` amounts to),
//! so a PyTorch state dict loads as it is. On the CPU it runs as one fused op
//! ([`crate::nn::kernels::linear`]) with the candle graph as reference.

use candle_core::{Module, Tensor};
use candle_nn::{Init, VarBuilder};

use super::kernels::{self, Kernel, default_kernel};
use crate::Result;

/// Sizes of a [`Linear`] layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearConfig {
    /// Input features.
    pub input: usize,
    /// Output features.
    pub output: usize,
    /// Whether the layer has a bias.
    pub bias: bool,
}

/// `y = x Wᵀ + b` over the last dimension of any-rank input.
#[derive(Clone, Debug)]
pub struct Linear {
    inner: candle_nn::Linear,
    kernel: Kernel,
}

impl Linear {
    /// Builds the layer under `vb` (parameters `weight`, `bias`).
    pub fn new(cfg: &LinearConfig, vb: VarBuilder) -> Result<Self> {
        let bound = 1.0 / (cfg.input.max(1) as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let weight = vb.get_with_hints((cfg.output, cfg.input), "weight", init)?;
        let bias = if cfg.bias {
            Some(vb.get_with_hints(cfg.output, "bias", init)?)
        } else {
            None
        };
        Ok(Linear::from_parts(weight, bias))
    }

    /// The layer over given parameters (`weight [output, input]`, `bias
    /// [output]`), on the process's default kernel.
    pub fn from_parts(weight: Tensor, bias: Option<Tensor>) -> Self {
        Linear {
            inner: candle_nn::Linear::new(weight, bias),
            kernel: default_kernel(),
        }
    }

    /// The same layer running on `kernel`.
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// xs: [.., input] → [.., output]; the fused kernel where it applies
    /// ([`Kernel::Fused`], CPU, f32/f64), else the candle graph.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        if self.kernel == Kernel::Fused && kernels::linear::applies(xs, self.inner.weight()) {
            return Ok(kernels::linear::linear(
                xs,
                self.inner.weight(),
                self.inner.bias(),
            )?);
        }
        Ok(self.inner.forward(xs)?)
    }

    /// The kernel this layer runs on.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// `tanh` of [`Linear::forward`], through the fused `tanh` where the
    /// layer runs fused kernels.
    pub fn forward_tanh(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(kernels::activation::tanh(&self.forward(xs)?, self.kernel)?)
    }

    /// The weight, `[output, input]`.
    pub fn weight(&self) -> &Tensor {
        self.inner.weight()
    }

    /// The bias, `[output]`, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.inner.bias()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::ParamStore;
    use candle_core::{DType, Device};

    #[test]
    fn shapes_names_and_init_bounds() -> Result<()> {
        let store = ParamStore::new(3);
        let vb = store.var_builder(DType::F32, &Device::Cpu);
        let cfg = LinearConfig {
            input: 16,
            output: 4,
            bias: true,
        };
        let lin = Linear::new(&cfg, vb.pp("out"))?;
        let names: Vec<String> = store.vars().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["out.bias", "out.weight"]);
        let w: Vec<f32> = lin.weight().flatten_all()?.to_vec1()?;
        assert!(w.iter().all(|v| v.abs() <= 0.25));
        let x = Tensor::ones((2, 3, 16), DType::F32, &Device::Cpu)?;
        assert_eq!(lin.forward(&x)?.dims(), [2, 3, 4]);
        Ok(())
    }
}
