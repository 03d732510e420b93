//! `translate train`'s flags for real parallel data: aligned files per
//! split, Multi30k's languages and the tokeniser learnt on the training split.

use std::path::PathBuf;

use attend::seq2seq::{PairDataConfig, Tokenization};
use clap::Args;

use crate::cli::flags::table_values;

/// Parallel files, official splits and tokenisation.
#[derive(Debug, Default, Args)]
pub struct CorpusFlags {
    /// Source side of the training pairs: one sentence per line (`.gz` read
    /// transparently), aligned with --tgt; instead of --data.
    #[arg(long, value_name = "FILE", requires = "tgt", conflicts_with = "data")]
    pub src: Option<PathBuf>,
    /// Target side of the training pairs, line n translating line n of --src.
    #[arg(long, value_name = "FILE", requires = "src")]
    pub tgt: Option<PathBuf>,
    /// Source side of the validation pairs (default: a split of the training pairs).
    #[arg(long, value_name = "FILE", requires = "valid_tgt")]
    pub valid_src: Option<PathBuf>,
    /// Target side of the validation pairs.
    #[arg(long, value_name = "FILE", requires = "valid_src")]
    pub valid_tgt: Option<PathBuf>,
    /// Source side of the test pairs (default: a split of the training pairs).
    #[arg(long, value_name = "FILE", requires = "test_tgt")]
    pub test_src: Option<PathBuf>,
    /// Target side of the test pairs.
    #[arg(long, value_name = "FILE", requires = "test_src")]
    pub test_tgt: Option<PathBuf>,
    /// Source language of `--data multi30k` (de, en, fr) [default: de].
    #[arg(long, value_name = "LANG")]
    pub src_lang: Option<String>,
    /// Target language of `--data multi30k` [default: en].
    #[arg(long, value_name = "LANG")]
    pub tgt_lang: Option<String>,
    /// How text is cut into tokens [default: whitespace for the lessons'
    /// eng-fra and --tutorial-filter, bpe for other data].
    #[arg(long, value_parser = table_values(&Tokenization::ALL), value_name = "KIND")]
    pub tokenizer: Option<Tokenization>,
    /// The most pieces a learnt tokenizer has (a language, or both with
    /// --joint-vocab) [default: 8000].
    #[arg(long, value_name = "N")]
    pub vocab_size: Option<usize>,
    /// One tokenizer and vocabulary for both languages, the source and
    /// target embeddings shared (and tied to the output layer).
    #[arg(long)]
    pub joint_vocab: bool,
}

impl CorpusFlags {
    /// The flags onto the data section.
    pub fn apply(&self, d: &mut PairDataConfig) {
        let paths = [
            (&self.src, &mut d.src),
            (&self.tgt, &mut d.tgt),
            (&self.valid_src, &mut d.valid_src),
            (&self.valid_tgt, &mut d.valid_tgt),
            (&self.test_src, &mut d.test_src),
            (&self.test_tgt, &mut d.test_tgt),
        ];
        for (flag, field) in paths {
            if flag.is_some() {
                field.clone_from(flag);
            }
        }
        for (flag, field) in [
            (&self.src_lang, &mut d.src_lang),
            (&self.tgt_lang, &mut d.tgt_lang),
        ] {
            if flag.is_some() {
                field.clone_from(flag);
            }
        }
        if self.tokenizer.is_some() {
            d.tokenizer = self.tokenizer;
        }
        if let Some(n) = self.vocab_size {
            d.vocab_size = n;
        }
        d.joint_vocab |= self.joint_vocab;
    }
}
