//! Layers: embedding, linear, dropout, recurrent stacks (RNN/LSTM/GRU), attention.

pub mod dropout;
pub mod init;
pub mod linear;

pub use dropout::{Dropout, Mode};
pub use init::ParamStore;
pub use linear::{Linear, LinearConfig};
