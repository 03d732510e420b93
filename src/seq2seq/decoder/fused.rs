//! The decoder's fused paths: the host decoding step ([`FusedStep`], built
//! once from the decoder's weights when they are constant) and the tutorial
//! decoder's whole teacher-forced sequence as one op. Each returns `None`
//! where it does not apply, and the caller takes the graph, its reference.

use candle_core::{DType, Tensor};

use super::{Context, Decoder};
use crate::Result;
use crate::nn::AttentionLayer;
use crate::nn::TutorialAttention;
use crate::nn::kernels::Kernel;
use crate::seq2seq::Memory;
use crate::seq2seq::fused_step::{Affine, FusedContext, FusedStep, FusedWeights};
use crate::seq2seq::tutorial_kernel::{TutorialDecoderWeights, tutorial_decoder_sequence};

impl Decoder {
    /// The fused host step that computes what [`Decoder::advance`] and
    /// [`Decoder::step_log_probs`] do, where one exists for this decoder:
    /// `tutorial`, Bahdanau `additive`, or Luong `dot`/`general` with or
    /// without input feeding (any cell and depth; not the decoder without
    /// attention), f32 on the CPU, constant weights, the fused kernel
    /// ([`crate::seq2seq::fused_step`]).
    pub fn fused_step(&self) -> Option<&FusedStep> {
        // A decoder the fused step cannot read (an error building it)
        // decodes through the graph, as any other unsupported one does.
        self.fused
            .get_or_init(|| self.build_fused().ok().flatten())
            .as_ref()
    }

    fn build_fused(&self) -> Result<Option<FusedStep>> {
        let rnn = self.rnn.config();
        let layers: Option<Vec<[&Tensor; 4]>> = (0..rnn.layers)
            .map(|l| self.rnn.layer_parameters(l))
            .collect();
        let (Some(layers), Some(out_b), false) = (layers, self.out.bias(), rnn.bidirectional)
        else {
            return Ok(None);
        };
        let mut all = vec![self.embedding.weight(), self.out.weight(), out_b];
        all.extend(layers.iter().flatten().copied());
        let context = match &self.context {
            Context::Tutorial { attention, .. } => {
                let (attn, combine) = (attention.attn(), attention.attn_combine());
                all.extend([attn.weight(), combine.weight()]);
                all.extend(attn.bias().into_iter().chain(combine.bias()));
                FusedContext::Tutorial {
                    attn: Affine::new(attn.weight(), attn.bias())?,
                    combine: Affine::new(combine.weight(), combine.bias())?,
                }
            }
            Context::Luong {
                combine,
                input_feeding,
                ..
            } => {
                all.push(combine.weight());
                FusedContext::Luong {
                    combine: Affine::new(combine.weight(), combine.bias())?,
                    input_feeding: *input_feeding,
                }
            }
            Context::Bahdanau {
                attention: AttentionLayer::Additive(additive),
            } => {
                let (w_q, w_v) = (additive.query_weight(), additive.score_vector());
                all.extend([w_q, w_v]);
                FusedContext::Additive {
                    w_q: Affine::new(w_q, None)?,
                    w_v: w_v.flatten_all()?.to_vec1()?,
                }
            }
            _ => return Ok(None),
        };
        let constant = all.iter().all(|t| {
            !t.is_variable() && !t.track_op() && t.dtype() == DType::F32 && t.device().is_cpu()
        });
        if !constant || self.rnn.kernel() != Kernel::Fused {
            return Ok(None);
        }
        Ok(Some(FusedStep::new(
            &FusedWeights {
                embedding: self.embedding.weight(),
                cell: rnn.cell,
                layers,
                out: (self.out.weight(), out_b),
            },
            context,
        )?))
    }

    /// The tutorial decoder's teacher-forced steps through the fused op
    /// ([`super::tutorial_kernel`]), where it applies: the
    /// fused kernel, one layer, f32 or f64 on the CPU. `None` sends the
    /// caller to the step-by-step graph, the op's reference.
    pub(super) fn tutorial_all(
        &self,
        attention: &TutorialAttention,
        emb: &Tensor,
        memory: &Memory,
    ) -> Option<Result<Tensor>> {
        let rnn = self.rnn.config();
        let (attn, combine) = (attention.attn(), attention.attn_combine());
        let (Some(cell), Some(attn_b), Some(comb_b)) =
            (self.rnn.layer_parameters(0), attn.bias(), combine.bias())
        else {
            return None;
        };
        let supported = self.rnn.kernel() == Kernel::Fused
            && rnn.layers == 1
            && !rnn.bidirectional
            && emb.device().is_cpu()
            && matches!(emb.dtype(), DType::F32 | DType::F64);
        if !supported {
            return None;
        }
        Some((|| {
            let init = &memory.init;
            let top = |t: &Tensor| t.get(0);
            let h0 = top(init.h())?;
            let c0 = init.c().map(top).transpose()?;
            let s0: Vec<&Tensor> = std::iter::once(&h0).chain(c0.as_ref()).collect();
            let weights = TutorialDecoderWeights {
                attn: (attn.weight(), attn_b),
                combine: (combine.weight(), comb_b),
                cell,
            };
            let values = memory.values.contiguous()?;
            Ok(tutorial_decoder_sequence(
                rnn.cell, emb, &s0, &values, &weights,
            )?)
        })())
    }
}
