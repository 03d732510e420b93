//! Layers: embedding, linear, dropout, recurrent stacks (RNN/LSTM/GRU), attention.

pub mod dropout;
pub mod init;

pub use dropout::{Dropout, Mode};
pub use init::ParamStore;
