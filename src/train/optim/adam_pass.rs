//! Adam's fused step on the host: the three element-wise rules (the first
//! moment, the second, the parameter update) applied chunk by chunk in one
//! pass over a parameter, its gradient and its moments, as a candle in-place
//! op. The reference path (tensor ops) in `adam.rs` is what tests compare
//! it with, bit for bit.

use std::sync::Mutex;

use candle_core::{CpuStorage, InplaceOp2, Layout, Tensor, Var};
use rayon::prelude::*;

use crate::Result;
use crate::nn::kernels::inplace::{CHUNK, Elementwise};
use crate::nn::kernels::{Real, slice_of, widest};

/// `exp_avg` and `exp_avg_sq` of one parameter, flat, in its dtype.
pub(super) enum Host {
    F32(Vec<f32>, Vec<f32>),
    F64(Vec<f64>, Vec<f64>),
}

impl Host {
    /// Both buffers as tensors shaped like `var` (copies).
    pub(super) fn tensors(&self, var: &Var) -> Result<(Tensor, Tensor)> {
        let (shape, dev) = (var.shape(), var.device());
        Ok(match self {
            Host::F32(m, v) => (
                Tensor::from_slice(m, shape, dev)?,
                Tensor::from_slice(v, shape, dev)?,
            ),
            Host::F64(m, v) => (
                Tensor::from_slice(m, shape, dev)?,
                Tensor::from_slice(v, shape, dev)?,
            ),
        })
    }
}

/// Adam's gradient with L2 decay, `g' = g + l2 · p` (as `g + p.affine(l2, 0)`),
/// or `g` itself when there is none.
#[inline(always)]
pub(super) fn decayed<T: Real>(g: T, p: T, l2: Option<T>) -> T {
    match l2 {
        Some(l2) => g + (p * l2 + T::ZERO),
        None => g,
    }
}

/// `exp_avg ← lerp(exp_avg, g', 1 − β1)` in place, `g' = g + l2 · p`.
pub(super) struct FirstMoment {
    pub(super) weight: f64,
    pub(super) l2: f64,
}

impl Elementwise<2> for FirstMoment {
    const NAME: &'static str = "adam-exp-avg";
    #[inline(always)]
    fn apply<T: Real>(&self, m: &mut [T], [g, p]: [&[T]; 2]) {
        let (w, w1) = (T::of(self.weight), T::of(1.0 - self.weight));
        let l2 = (self.l2 != 0.0).then(|| T::of(self.l2));
        let low = self.weight.abs() < 0.5;
        for ((m, &g), &p) in m.iter_mut().zip(g).zip(p) {
            let g = decayed(g, p, l2);
            let d = g - *m;
            *m = if low {
                *m + (d * w + T::ZERO)
            } else {
                g - (d * w1 + T::ZERO)
            };
        }
    }
}

/// `exp_avg_sq ← β2 · exp_avg_sq + (1 − β2) · g'²` in place.
pub(super) struct SecondMoment {
    pub(super) beta2: f64,
    pub(super) l2: f64,
}

impl Elementwise<2> for SecondMoment {
    const NAME: &'static str = "adam-exp-avg-sq";
    #[inline(always)]
    fn apply<T: Real>(&self, v: &mut [T], [g, p]: [&[T]; 2]) {
        let (b2, b2c) = (T::of(self.beta2), T::of(1.0 - self.beta2));
        let l2 = (self.l2 != 0.0).then(|| T::of(self.l2));
        for ((v, &g), &p) in v.iter_mut().zip(g).zip(p) {
            let g = decayed(g, p, l2);
            *v = (*v * b2 + T::ZERO) + (g * g * b2c + T::ZERO);
        }
    }
}

/// `p ← decay · p − step_size · m / (√v / √bias_c2 + eps)` in place.
pub(super) struct Apply {
    pub(super) decay: Option<f64>,
    pub(super) inv_sqrt_bias_c2: f64,
    pub(super) eps: f64,
    pub(super) step_size: f64,
}

impl Elementwise<2> for Apply {
    const NAME: &'static str = "adam-apply";
    #[inline(always)]
    fn apply<T: Real>(&self, p: &mut [T], [m, v]: [&[T]; 2]) {
        let (k, eps, ss) = (
            T::of(self.inv_sqrt_bias_c2),
            T::of(self.eps),
            T::of(self.step_size),
        );
        let decay = self.decay.map(T::of);
        for ((p, &m), &v) in p.iter_mut().zip(m).zip(v) {
            let w = match decay {
                Some(d) => *p * d + T::ZERO,
                None => *p,
            };
            let denom = v.sqrt() * k + eps;
            *p = w - ((m / denom) * ss + T::ZERO);
        }
    }
}

/// The fused step of one parameter: the parameter is the op's destination,
/// the gradient its operand, the moments the optimizer's own buffers.
pub(super) struct Pass<'a> {
    pub(super) host: Mutex<&'a mut Host>,
    pub(super) first: FirstMoment,
    pub(super) second: SecondMoment,
    pub(super) apply: Apply,
}

impl Pass<'_> {
    /// Chunk by chunk over the cores: the moments, then the parameter, each
    /// chunk's four arrays read once from memory.
    fn run<T: Real>(
        &self,
        p: &mut [T],
        m: &mut [T],
        v: &mut [T],
        g: &[T],
    ) -> candle_core::Result<()> {
        if [m.len(), v.len(), g.len()].iter().any(|&n| n != p.len()) {
            candle_core::bail!(
                "adam: parameter of {} values, gradient {}, moments {} and {}",
                p.len(),
                g.len(),
                m.len(),
                v.len()
            );
        }
        p.par_chunks_mut(CHUNK)
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|(((p, m), v), g)| chunk_step(self, p, m, v, g));
        Ok(())
    }
}

widest! {
    /// One chunk of [`Pass::run`]: the three element rules in their order,
    /// compiled for the widest vectors this CPU has (the square root and
    /// division ran four lanes wide: the step was bound by them, not by
    /// memory).
    fn chunk_step / chunk_step_body<T: Real>(
        pass: &Pass<'_>,
        p: &mut [T],
        m: &mut [T],
        v: &mut [T],
        g: &[T],
    ) -> () {
        pass.first.apply(m, [g, &*p]);
        pass.second.apply(v, [g, &*p]);
        pass.apply.apply(p, [&*m, &*v]);
    }
}

impl InplaceOp2 for Pass<'_> {
    fn name(&self) -> &'static str {
        "adam"
    }

    fn cpu_fwd(
        &self,
        s: &mut CpuStorage,
        l: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
    ) -> candle_core::Result<()> {
        let Some((lo, hi)) = l.contiguous_offsets() else {
            candle_core::bail!("adam: parameter not contiguous");
        };
        let Ok(mut host) = self.host.lock() else {
            candle_core::bail!("adam: the moments' lock is poisoned");
        };
        match (s, &mut **host) {
            (CpuStorage::F32(p), Host::F32(m, v)) => {
                self.run(&mut p[lo..hi], m, v, slice_of::<f32>(gs, gl)?)
            }
            (CpuStorage::F64(p), Host::F64(m, v)) => {
                self.run(&mut p[lo..hi], m, v, slice_of::<f64>(gs, gl)?)
            }
            _ => candle_core::bail!("adam: parameter and moments of different dtypes"),
        }
    }
}
