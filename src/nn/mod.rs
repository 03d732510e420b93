//! Layers: embedding, linear, dropout, recurrent stacks (RNN/LSTM/GRU), attention.
