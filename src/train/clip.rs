//! Gradient clipping by global L2 norm, as `torch.nn.utils.clip_grad_norm_`.
//!
//! The total norm is the L2 norm of all parameters' gradients taken together
//! (the norm of the per-tensor norms). When it exceeds `max_norm`, every
//! gradient is scaled by `max_norm / (total + 1e-6)`; the coefficient is
//! clamped to 1, so small gradients are left alone (Pascanu et al. 2013).

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};

use crate::nn::kernels::inplace;
use crate::nn::record::RowGrad;

use crate::{Error, Result};

/// Scales the gradients of `vars` in `grads` so their global L2 norm is at most
/// `max_norm`, and returns the norm measured *before* clipping.
///
/// Parameters without a gradient are skipped; with none at all the norm is 0.
///
/// A non-finite norm (a NaN or infinite gradient) is returned as it is and the
/// gradients are left untouched. PyTorch (with `error_if_nonfinite=False`)
/// would scale them by a NaN or zero coefficient, silently poisoning the
/// parameters; here the caller sees the value and decides — the trainer skips
/// the optimizer step.
pub fn clip_grad_norm(vars: &[(String, Var)], grads: &mut GradStore, max_norm: f64) -> Result<f64> {
    clip_grad_norm_rows(vars, grads, &[], max_norm)
}

/// [`clip_grad_norm`] over dense gradients and row gradients ([`RowGrad`],
/// of tables without a dense gradient: see
/// [`crate::nn::record::fold_into_dense`]) together: the norm and the
/// scaled values the dense gradients the rows stand for would give, bit
/// for bit on the CPU.
pub fn clip_grad_norm_rows(
    vars: &[(String, Var)],
    grads: &mut GradStore,
    rows: &[RowGrad],
    max_norm: f64,
) -> Result<f64> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(Error::Config(format!(
            "max_norm must be >= 0, got {max_norm}"
        )));
    }
    // On the CPU: Σ g² in f64 straight from each buffer, added on the host.
    // Elsewhere Σ g² per tensor in its own dtype, then f64 for the total, so
    // one device sync serves every parameter.
    let (mut host, mut device, mut any) = (0.0, Vec::new(), false);
    let row_grad = |var: &Var| rows.iter().find(|r| r.var.id() == var.id());
    for (_, var) in vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            any = true;
            match inplace::sum_squares(g) {
                Some(s) => host += s,
                None => device.push(g.detach().sqr()?.sum_all()?.to_dtype(DType::F64)?),
            }
        } else if let Some(r) = row_grad(var) {
            any = true;
            match inplace::sum_squares_rows(&r.rows, &r.ids) {
                Some(s) => host += s,
                None => device.push(r.rows.sqr()?.sum_all()?.to_dtype(DType::F64)?),
            }
        }
    }
    if !any {
        return Ok(0.0);
    }
    if !device.is_empty() {
        host += Tensor::stack(&device, 0)?.sum_all()?.to_scalar::<f64>()?;
    }
    let total = host.sqrt();
    if !total.is_finite() {
        return Ok(total);
    }
    let coef = max_norm / (total + 1e-6);
    // A coefficient of 1 would multiply by one: skip the work.
    if coef < 1.0 {
        for (_, var) in vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                if inplace::update0(g, &inplace::Scale(coef))? {
                    continue;
                }
                let scaled = g.detach().affine(coef, 0.0)?;
                grads.insert(var.as_tensor(), scaled);
            }
        }
        for r in rows {
            if !inplace::update0(&r.rows, &inplace::Scale(coef))? {
                return Err(Error::Config(
                    "row gradients are scaled in place, on the CPU only".into(),
                ));
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn setup(values: &[f64]) -> (Vec<(String, Var)>, GradStore) {
        let w = Var::from_slice(&[1.0f64, 2.0, 3.0], 3, &Device::Cpu).unwrap();
        let b = Var::from_slice(&[0.5f64], 1, &Device::Cpu).unwrap();
        let c = Tensor::from_slice(values, 3, &Device::Cpu).unwrap();
        // loss = Σ c·w + b  →  grad w = c, grad b = 1
        let loss = (w.as_tensor() * &c).unwrap().sum_all().unwrap();
        let loss = (loss + b.as_tensor().sum_all().unwrap()).unwrap();
        let grads = loss.backward().unwrap();
        (vec![("b".into(), b), ("w".into(), w)], grads)
    }

    fn grad(vars: &[(String, Var)], grads: &GradStore, i: usize) -> Vec<f64> {
        grads.get(vars[i].1.as_tensor()).unwrap().to_vec1().unwrap()
    }

    #[test]
    fn clips_to_max_norm_and_returns_the_norm_before() {
        let (vars, mut grads) = setup(&[2.0, 0.0, 2.0]);
        let norm = clip_grad_norm(&vars, &mut grads, 1.5).unwrap();
        assert!((norm - 3.0).abs() < 1e-15);
        let coef = 1.5 / (3.0 + 1e-6);
        assert_eq!(grad(&vars, &grads, 0), [coef]);
        assert_eq!(grad(&vars, &grads, 1), [2.0 * coef, 0.0, 2.0 * coef]);
        // Under the limit: untouched.
        let (vars, mut grads) = setup(&[2.0, 0.0, 2.0]);
        assert!((clip_grad_norm(&vars, &mut grads, 10.0).unwrap() - 3.0).abs() < 1e-15);
        assert_eq!(grad(&vars, &grads, 1), [2.0, 0.0, 2.0]);
    }

    #[test]
    fn non_finite_norm_is_returned_and_gradients_kept() {
        let (vars, mut grads) = setup(&[f64::NAN, 0.0, 1.0]);
        assert!(clip_grad_norm(&vars, &mut grads, 1.0).unwrap().is_nan());
        assert_eq!(grad(&vars, &grads, 1)[2], 1.0);
        let (vars, mut grads) = setup(&[f64::INFINITY, 0.0, 1.0]);
        assert_eq!(
            clip_grad_norm(&vars, &mut grads, 1.0).unwrap(),
            f64::INFINITY
        );
        assert_eq!(grad(&vars, &grads, 0), [1.0]);
        assert!(clip_grad_norm(&vars, &mut grads, -1.0).is_err());
    }
}
