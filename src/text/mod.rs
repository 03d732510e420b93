//! Text before tensors: normalisation, tokenisation, vocabularies.
//!
//! Everything here works on strings and ids only; nothing knows about tensors.
//! [`normalize_string`] is the PyTorch seq2seq lesson's `normalizeString`;
//! [`Normalizer`] is the Unicode-preserving normaliser for real use;
//! [`Tokenizer`] names a tokeniser in a config; [`Subwords`] are learnt
//! pieces (words, characters, BPE, unigram) that detokenise losslessly;
//! [`Vocab`] maps tokens to ids.

mod normalize;
mod pig_latin;
mod stopwords;
mod subword;
mod tokenize;
mod vocab;
mod vocab_json;

pub use normalize::{NormalizeConfig, Normalizer, is_python_space, normalize_string};
pub use pig_latin::{pig_latin, pig_latin_word};
pub use stopwords::NLTK_ENGLISH_STOPWORDS;
pub use subword::{SubwordConfig, SubwordKind, Subwords, WORD_START};
pub use tokenize::{CleanConfig, Level, Tokenizer, chars, clean_text, whitespace};
pub use vocab::{Specials, Vocab, VocabBuilder, VocabConfig};
