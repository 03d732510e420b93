//! Loading a [`Seq2Seq`]'s weights: [`crate::nn::weights::load_checked`]
//! with the seq2seq constructor.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};

use super::{Seq2Seq, Seq2SeqConfig};
use crate::Result;
use crate::nn::ParamStore;
use crate::nn::weights::load_checked;

/// [`load_checked`] for the model `cfg` describes.
pub fn load_model(
    cfg: &Seq2SeqConfig,
    tensors: HashMap<String, Tensor>,
    device: &Device,
    file: &Path,
    display: &dyn Fn(&str) -> String,
) -> Result<(Seq2Seq, ParamStore)> {
    load_checked(|vb| Seq2Seq::new(cfg, vb), tensors, device, file, display)
}
