//! Text before tensors: normalisation, tokenisation, vocabularies.
