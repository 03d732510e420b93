//! Layers: embedding, linear, dropout, recurrent stacks (RNN/LSTM/GRU), attention;
//! their fused CPU kernels (`nn::kernels`, private to the crate; [`Kernel`] picks them) and the gradients training records
//! beside candle's graph ([`record`]).

mod attention;
mod dropout;
mod embedding;
mod init;
pub(crate) mod kernels;
mod linear;
pub mod record;
mod rnn;
pub mod weights;

pub use attention::{
    Additive, AdditiveConfig, Attended, Attention, AttentionConfig, AttentionKind, AttentionLayer,
    AttentionPooling, Dot, General, GeneralConfig, TutorialAttended, TutorialAttention,
    TutorialAttentionConfig, masked_softmax,
};
pub use dropout::{Dropout, Mode};
pub use embedding::{Embedding, EmbeddingConfig};
pub use init::{ParamStore, Rebuild};
pub use kernels::runtime::{set_threads, tune_allocator};
pub use kernels::simd::flush_denormals;
pub use kernels::{Kernel, default_kernel, set_default_kernel};
pub use linear::{Linear, LinearConfig};
pub use rnn::{Cell, Nonlinearity, Rnn, RnnConfig, State};

/// The matrix products the recurrent kernels run, over plain buffers: for
/// benchmarks that measure the ceiling of a layer's time (`benches/recurrent.rs`).
#[doc(hidden)]
pub mod products {
    pub use super::kernels::gemm::{Op, matmul};
    pub use super::kernels::packed::StepProduct;
}
