//! Loading a model's weights from named tensors with errors that say what
//! does not fit: the missing names, the unexpected ones, or a tensor whose
//! shape disagrees with the config (its name and both shapes). Every model
//! type loads through [`load_checked`].
//!
//! The expected names and shapes come from building the model once on an
//! empty store, so they can never drift from the constructors.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::ParamStore;
use crate::{Error, Result};

/// What building a model to load may allocate beyond what its weights file
/// backs: enough for any small model to build, so a weights file missing
/// tensors is reported by name; a damaged config asking for gigabytes still
/// fails before allocating them.
const SLACK: u64 = 256 << 20;

/// Builds a model with `build` on `device` with the weights `tensors` (our
/// parameter names), after checking that they are exactly the model's
/// parameters with the model's shapes. `file` and `display` (our name → the
/// name to report, e.g. the file's own) only shape error messages. The model
/// is built for inference ([`ParamStore::for_inference`]): it records no
/// gradients.
pub fn load_checked<M>(
    build: impl Fn(VarBuilder) -> Result<M>,
    tensors: HashMap<String, Tensor>,
    device: &Device,
    file: &Path,
    display: &dyn Fn(&str) -> String,
) -> Result<(M, ParamStore)> {
    // The config is only trusted as far as the file backs it: building the
    // expected model may allocate what the file's tensors take, drawn in
    // f64 (20 bytes an element at the peak), and a little more (so a small
    // model still builds and the checks below name what does not fit).
    let elems: u64 = tensors.values().map(|t| t.elem_count() as u64).sum();
    let expected = ParamStore::new(0);
    crate::memory::with_limit(
        elems.saturating_mul(20).saturating_add(SLACK),
        &format!(
            "the {} parameters {} holds: the config does not fit its weights",
            elems,
            file.display()
        ),
        || build(expected.var_builder(DType::F32, &Device::Cpu)),
    )?;
    let err = |msg: String| Error::Checkpoint {
        path: file.to_path_buf(),
        msg,
    };
    let want = expected.vars();
    let mut missing: Vec<String> = want
        .iter()
        .filter(|(n, _)| !tensors.contains_key(n))
        .map(|(n, _)| display(n))
        .collect();
    if !missing.is_empty() {
        missing.sort();
        return Err(err(format!(
            "missing tensors the model needs: {}",
            missing.join(", ")
        )));
    }
    for (name, var) in &want {
        if let Some(t) = tensors.get(name)
            && t.dims() != var.dims()
        {
            return Err(err(format!(
                "tensor `{}` has shape {:?}, but the model's config needs {:?}",
                display(name),
                t.dims(),
                var.dims()
            )));
        }
    }
    let mut extra: Vec<String> = tensors
        .keys()
        .filter(|n| expected.get(n).is_none())
        .map(|n| display(n))
        .collect();
    if !extra.is_empty() {
        extra.sort();
        return Err(err(format!(
            "tensors the model does not have (a different architecture?): {}",
            extra.join(", ")
        )));
    }
    let tensors = tensors
        .into_iter()
        .map(|(n, t)| Ok((n, t.to_dtype(DType::F32)?.to_device(device)?)))
        .collect::<Result<HashMap<_, _>>>()?;
    // Loaded models decode; building them without gradient tracking saves
    // each decoding step the autograd bookkeeping.
    let store = ParamStore::from_tensors(0, tensors)?.for_inference();
    let model = build(store.var_builder(DType::F32, device))?;
    Ok((model, store))
}
