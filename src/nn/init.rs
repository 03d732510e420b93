//! Parameter storage with seeded, order-independent initialisation.
//!
//! candle's `VarMap` draws initial values from an unseeded global RNG, which
//! would make `--seed` meaningless. [`ParamStore`] is a `VarBuilder` backend
//! whose every fresh parameter is drawn from an RNG seeded by
//! `(seed, parameter name)`: the same seed gives the same weights whatever order
//! layers are built in, and adding a layer does not shift the others' values.
//! Parameters already present (loaded from a checkpoint or a PyTorch state dict)
//! are returned as they are, so one constructor serves training and loading.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::{Init, VarBuilder, var_builder::SimpleBackend};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, StandardNormal};

use crate::{Error, Result};

/// A model built from its configuration over a [`VarBuilder`], so it can be
/// rebuilt over the same parameters without gradient tracking: what
/// validation runs during training (`torch.no_grad()`), recording no
/// autograd graph while it scores and decodes.
pub trait Rebuild: Sized {
    /// What [`Rebuild::build`] reads.
    type Config;
    /// Builds the model `cfg` describes under `vb` (its parameters' root).
    fn build(cfg: &Self::Config, vb: VarBuilder<'static>) -> Result<Self>;
    /// The configuration the model was built from.
    fn rebuild_config(&self) -> &Self::Config;
    /// This model over `params` (the store it was built from) detached, for
    /// one pass of validation: it shares the parameters' storage, but build
    /// it anew after they change — recurrent layers of constant weights keep
    /// the layout they built first.
    fn for_inference(&self, params: &ParamStore) -> Result<Self> {
        Self::build(self.rebuild_config(), params.inference_builder()?)
    }
}

/// Named trainable parameters, created on first use with seeded initial values.
#[derive(Clone, Debug)]
pub struct ParamStore {
    seed: u64,
    vars: Arc<Mutex<HashMap<String, Var>>>,
    /// Hand layers detached tensors (see [`ParamStore::for_inference`]).
    inference: bool,
}

impl ParamStore {
    /// An empty store; parameters are created as layers ask for them.
    pub fn new(seed: u64) -> Self {
        ParamStore {
            seed,
            vars: Arc::new(Mutex::new(HashMap::new())),
            inference: false,
        }
    }

    /// The same store, but layers built from its [`var_builder`](Self::var_builder)
    /// get the parameters detached from their variables: the same storage,
    /// without gradient tracking, so a model built for decoding records no
    /// autograd graph (PyTorch's `torch.no_grad()`). Such a model cannot be
    /// trained; the store's variables (for saving) are unchanged.
    pub fn for_inference(mut self) -> Self {
        self.inference = true;
        self
    }

    /// A builder over this store's [`for_inference`](Self::for_inference)
    /// view, in the dtype and on the device of its parameters.
    pub fn inference_builder(&self) -> Result<VarBuilder<'static>> {
        let (dtype, device) = self
            .lock()
            .values()
            .next()
            .map(|v| (v.dtype(), v.device().clone()))
            .ok_or_else(|| Error::Config("the parameter store is empty".into()))?;
        Ok(self.clone().for_inference().var_builder(dtype, &device))
    }

    /// A store pre-filled with `tensors` (PyTorch names), e.g. from a checkpoint
    /// or a PyTorch `state_dict`; layers built on it pick these values up.
    pub fn from_tensors(seed: u64, tensors: HashMap<String, Tensor>) -> Result<Self> {
        let store = ParamStore::new(seed);
        {
            let mut vars = store.lock();
            for (name, t) in tensors {
                vars.insert(name, Var::from_tensor(&t)?);
            }
        }
        Ok(store)
    }

    /// A `VarBuilder` over this store, creating parameters as `dtype` on `device`.
    pub fn var_builder(&self, dtype: DType, device: &Device) -> VarBuilder<'static> {
        VarBuilder::from_backend(Box::new(self.clone()), dtype, device.clone())
    }

    /// All parameters sorted by name: a stable order for optimizers and saving.
    pub fn vars(&self) -> Vec<(String, Var)> {
        let mut all: Vec<(String, Var)> = self
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// The parameter called `name`, if it exists.
    pub fn get(&self, name: &str) -> Option<Var> {
        self.lock().get(name).cloned()
    }

    /// Current values of all parameters, by name.
    pub fn tensors(&self) -> HashMap<String, Tensor> {
        self.lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect()
    }

    /// Overwrites existing parameters with `tensors`; every name must exist
    /// with the same shape, and every parameter must be given.
    pub fn assign(&self, tensors: &HashMap<String, Tensor>) -> Result<()> {
        let vars = self.lock();
        for (name, var) in vars.iter() {
            let t = tensors
                .get(name)
                .ok_or_else(|| Error::Shape(format!("no value given for parameter `{name}`")))?;
            if t.dims() != var.dims() {
                return Err(Error::Shape(format!(
                    "parameter `{name}` has shape {:?}, the value has {:?}",
                    var.dims(),
                    t.dims()
                )));
            }
            var.set(&t.to_dtype(var.dtype())?)?;
        }
        if let Some(extra) = tensors.keys().find(|k| !vars.contains_key(*k)) {
            return Err(Error::Shape(format!("unknown parameter `{extra}`")));
        }
        Ok(())
    }

    /// What layers get for a parameter: the variable's tensor, detached in
    /// an inference store.
    fn hand_out(&self, var: &Var) -> Tensor {
        match self.inference {
            true => var.as_tensor().detach(),
            false => var.as_tensor().clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Var>> {
        // A poisoned lock only means another thread panicked mid-insert; the
        // map itself is still consistent, so carry on with it.
        self.vars.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rng_for(&self, name: &str) -> StdRng {
        StdRng::seed_from_u64(self.seed ^ fnv1a(name.as_bytes()))
    }
}

/// FNV-1a: a hash that is stable across Rust versions and platforms, unlike
/// `DefaultHasher`, so a seed means the same weights everywhere.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Draws a tensor of `shape` from `init` with `rng`, in f64 then cast.
fn draw(init: Init, shape: &Shape, rng: &mut StdRng, dtype: DType, dev: &Device) -> Result<Tensor> {
    let n = shape.elem_count();
    let values: Vec<f64> = match init {
        Init::Const(c) => vec![c; n],
        Init::Uniform { lo, up } => (0..n).map(|_| rng.random_range(lo..up)).collect(),
        Init::Randn { mean, stdev } => (0..n)
            .map(|_| {
                let z: f64 = StandardNormal.sample(rng);
                mean + stdev * z
            })
            .collect(),
        Init::Kaiming { .. } => {
            // Layers here ask for PyTorch's explicit bounds instead; a Kaiming
            // hint would mean a layer forgot to, so fail loudly.
            return Err(Error::Config(
                "Kaiming init hints are not supported; use explicit uniform bounds".into(),
            ));
        }
    };
    Ok(Tensor::from_vec(values, shape.clone(), dev)?.to_dtype(dtype)?)
}

impl SimpleBackend for ParamStore {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut vars = self.lock();
        if let Some(v) = vars.get(name) {
            if v.shape() != &s {
                candle_core::bail!(
                    "parameter `{name}` has shape {:?}, the layer expects {:?}",
                    v.dims(),
                    s.dims()
                );
            }
            return self.hand_out(v).to_dtype(dtype);
        }
        // The size comes from a config (a file, a flag): check it against
        // the memory budget before drawing, counting the f64 draw and its
        // copy that the f32 values are made from.
        let held: u64 = vars
            .values()
            .map(|v| (v.elem_count() * v.dtype().size_in_bytes()) as u64)
            .sum();
        crate::memory::bytes_of(name, s.dims(), 20)
            .and_then(|need| {
                crate::memory::check(&format!("parameter `{name}` {:?}", s.dims()), need, held)
            })
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let t = draw(h, &s, &mut self.rng_for(name), dtype, dev)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let var = Var::from_tensor(&t)?;
        let t = self.hand_out(&var);
        vars.insert(name.to_string(), var);
        Ok(t)
    }

    fn get_unchecked(
        &self,
        name: &str,
        dtype: DType,
        _dev: &Device,
    ) -> candle_core::Result<Tensor> {
        match self.lock().get(name) {
            Some(v) => self.hand_out(v).to_dtype(dtype),
            None => candle_core::bail!("no parameter `{name}`"),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.lock().contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(store: &ParamStore, name: &str) -> Vec<f32> {
        store
            .get(name)
            .map(|v| v.as_tensor().flatten_all().and_then(|t| t.to_vec1()))
            .and_then(|r| r.ok())
            .unwrap_or_default()
    }

    #[test]
    fn same_seed_same_values_whatever_the_order() -> Result<()> {
        let init = Init::Uniform { lo: -0.5, up: 0.5 };
        let a = ParamStore::new(7);
        let vb = a.var_builder(DType::F32, &Device::Cpu);
        vb.get_with_hints((3, 4), "x.weight", init)?;
        vb.get_with_hints((4,), "y.bias", init)?;
        let b = ParamStore::new(7);
        let vb = b.var_builder(DType::F32, &Device::Cpu);
        vb.get_with_hints((4,), "y.bias", init)?;
        vb.get_with_hints((3, 4), "x.weight", init)?;
        assert_eq!(values(&a, "x.weight"), values(&b, "x.weight"));
        assert_eq!(values(&a, "y.bias"), values(&b, "y.bias"));
        let c = ParamStore::new(8);
        c.var_builder(DType::F32, &Device::Cpu)
            .get_with_hints((3, 4), "x.weight", init)?;
        assert_ne!(values(&a, "x.weight"), values(&c, "x.weight"));
        assert!(
            values(&a, "x.weight")
                .iter()
                .all(|v| (-0.5..0.5).contains(v))
        );
        Ok(())
    }

    #[test]
    fn existing_parameters_are_reused_and_shape_checked() -> Result<()> {
        let w = Tensor::ones((2, 2), DType::F32, &Device::Cpu)?;
        let store = ParamStore::from_tensors(0, HashMap::from([("w".to_string(), w)]))?;
        let vb = store.var_builder(DType::F32, &Device::Cpu);
        let got = vb.get_with_hints((2, 2), "w", candle_nn::init::ZERO)?;
        assert_eq!(got.sum_all()?.to_scalar::<f32>()?, 4.0);
        assert!(
            vb.get_with_hints((3, 2), "w", candle_nn::init::ZERO)
                .is_err()
        );
        Ok(())
    }

    #[test]
    fn inference_stores_hand_out_the_values_without_gradients() -> Result<()> {
        let t = Tensor::new(&[1.0f32, 2.0, 3.0], &Device::Cpu)?;
        for inference in [false, true] {
            let mut store = ParamStore::from_tensors(0, HashMap::from([("w".into(), t.clone())]))?;
            if inference {
                store = store.for_inference();
            }
            let w = store.var_builder(DType::F32, &Device::Cpu).get_with_hints(
                3,
                "w",
                Init::Const(0.0),
            )?;
            assert_eq!(w.to_vec1::<f32>()?, vec![1.0, 2.0, 3.0]);
            let grads = (w.sqr()?.sum_all()?).backward()?;
            let var = store.get("w").ok_or_else(|| Error::Config("no w".into()))?;
            assert_eq!(grads.get(var.as_tensor()).is_some(), !inference);
        }
        Ok(())
    }
}
