//! Layers: embedding, linear, dropout, recurrent stacks (RNN/LSTM/GRU), attention;
//! their fused CPU kernels ([`kernels`]) and the gradients training records
//! beside candle's graph ([`record`]).

pub mod attention;
pub mod dropout;
pub mod embedding;
pub mod init;
pub mod kernels;
pub mod linear;
pub mod record;
pub mod rnn;
pub mod weights;

pub use attention::{
    Attended, Attention, AttentionConfig, AttentionKind, AttentionLayer, AttentionPooling,
    TutorialAttention,
};
pub use dropout::{Dropout, Mode};
pub use embedding::{Embedding, EmbeddingConfig};
pub use init::{ParamStore, Rebuild};
pub use kernels::Kernel;
pub use linear::{Linear, LinearConfig};
pub use rnn::{Cell, Nonlinearity, Rnn, RnnConfig, State};
