//! What the fused-versus-reference optimizer tests share: parameters large
//! enough to be split over the thread pool, the same random gradients for two
//! copies of them, and a bitwise view of a parameter.

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor, Var};

/// One parameter long enough to be split over the pool, one small matrix
/// that can carry a strided gradient.
const SHAPES: [(usize, usize); 2] = [(70_001, 1), (33, 7)];

/// A gradient store to fill by hand (candle's constructor is private).
pub(crate) fn empty_grads() -> GradStore {
    let v = Var::zeros(1, DType::F32, &Device::Cpu).unwrap();
    v.as_tensor().sum_all().unwrap().backward().unwrap()
}

/// Deterministic named parameters of [`SHAPES`]; the same `seed` gives the
/// same values, so two calls build two independent copies.
pub(crate) fn params(dtype: DType, seed: u64) -> Vec<(String, Var)> {
    SHAPES
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let v: Vec<f64> = (0..s.0 * s.1)
                .map(|j| ((j as u64 * 7919 + seed + i as u64) as f64 * 0.37).sin())
                .collect();
            let t = Tensor::from_vec(v, s, &Device::Cpu)
                .and_then(|t| t.to_dtype(dtype))
                .unwrap();
            (format!("p{i}"), Var::from_tensor(&t).unwrap())
        })
        .collect()
}

/// The same random gradient for each pair of parameters, one store per copy.
/// With `strided`, matrices get a transposed (non-contiguous) gradient, which
/// takes the fused kernels' copy path.
pub(crate) fn paired_grads(
    a: &[(String, Var)],
    b: &[(String, Var)],
    dtype: DType,
    strided: bool,
) -> (GradStore, GradStore) {
    let (mut ga, mut gb) = (empty_grads(), empty_grads());
    for ((_, va), (_, vb)) in a.iter().zip(b) {
        let g = Tensor::randn(0f32, 1.0, va.shape(), &Device::Cpu)
            .and_then(|t| t.to_dtype(dtype))
            .unwrap();
        let g = if strided && va.dims()[1] > 1 {
            g.t().unwrap().contiguous().unwrap().t().unwrap()
        } else {
            g
        };
        ga.insert(va.as_tensor(), g.clone());
        gb.insert(vb.as_tensor(), g);
    }
    (ga, gb)
}

/// The bits of every element, widened to f64 (exact for f32).
pub(crate) fn bits(t: &Tensor) -> Vec<u64> {
    t.flatten_all()
        .and_then(|t| t.to_dtype(DType::F64))
        .and_then(|t| t.to_vec1::<f64>())
        .unwrap()
        .into_iter()
        .map(f64::to_bits)
        .collect()
}
