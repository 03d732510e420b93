//! Layers: embedding, linear, dropout, recurrent stacks (RNN/LSTM/GRU), attention.

pub mod attention;
pub mod dropout;
pub mod init;
pub mod linear;

pub use attention::{
    Attended, Attention, AttentionConfig, AttentionKind, AttentionLayer, AttentionPooling,
    TutorialAttention,
};
pub use dropout::{Dropout, Mode};
pub use init::ParamStore;
pub use linear::{Linear, LinearConfig};
