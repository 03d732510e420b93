//! Evaluation metrics.
//!
//! - [`corpus_bleu`], [`sentence_bleu`]: BLEU (Papineni et al., 2002) reproducing sacreBLEU 2.x to the
//!   last digit, signature included, as Post (2018), "A Call for Clarity in
//!   Reporting BLEU Scores", asks: the number to report.
//! - [`corpus_chrf`], [`sentence_chrf`]: chrF (Popović, 2015) and chrF++
//!   (Popović, 2017), reproducing sacreBLEU 2.x's `CHRF`, signature included.
//! - [`teaching_bleu()`]: the d2l.ai/Neuromatch
//!   lesson formula, for reproducing the lessons' printed values only.
//! - [`classification`]: accuracy, per-class precision/recall/F1, macro and
//!   weighted averages, confusion matrices (scikit-learn's definitions).
//! - [`correlation`]: Pearson's r and Spearman's ρ (word-similarity sets).

mod bleu;
mod chrf;
pub mod classification;
pub mod correlation;
mod segments;
mod teaching_bleu;

pub use bleu::{
    BleuConfig, BleuScore, BleuSignature, BleuStats, NRefs, SACREBLEU_VERSION, Smooth, Tokenize,
    corpus_bleu, sentence_bleu,
};
pub use chrf::{ChrfConfig, ChrfScore, ChrfSignature, ChrfStats, corpus_chrf, sentence_chrf};
pub use teaching_bleu::teaching_bleu;
