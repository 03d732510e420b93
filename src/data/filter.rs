//! Pair filters. [`TutorialFilter`] is the PyTorch seq2seq lesson's
//! `filterPairs` (short sentences that start with "i am", "he is", …), made
//! reusable; [`LengthFilter`] is the general max-length filter; [`PairFilter`]
//! is the one of the two a pipeline's options choose.

use serde::{Deserialize, Serialize};

use super::pairs::Pair;

/// The lesson's `MAX_LENGTH`.
pub const TUTORIAL_MAX_LENGTH: usize = 10;

/// The lesson's `eng_prefixes`, matched against the normalised English side.
pub const ENG_PREFIXES: [&str; 12] = [
    "i am ", "i m ", "he is", "he s ", "she is", "she s ", "you are", "you re ", "we are",
    "we re ", "they are", "they re ",
];

/// Which side of a [`Pair`] holds English, for the prefix check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnglishSide {
    /// `pair.src` (eng-fra as read).
    Src,
    /// `pair.tgt` (eng-fra reversed to fra→eng, as the lesson trains).
    Tgt,
}

/// The lesson's `filterPair`: both sides have fewer than `max_length` words
/// (split on `' '`, as Python's `str.split(' ')`, so empty words count), and
/// the English side starts with one of [`ENG_PREFIXES`]. Expects sentences
/// already passed through [`crate::text::normalize_string`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TutorialFilter {
    /// Keep pairs whose sides have strictly fewer words than this.
    pub max_length: usize,
    /// Require one of [`ENG_PREFIXES`] on the English side.
    pub eng_prefixes: bool,
    /// Where the English is.
    pub english: EnglishSide,
}

impl Default for TutorialFilter {
    fn default() -> Self {
        TutorialFilter {
            max_length: TUTORIAL_MAX_LENGTH,
            eng_prefixes: true,
            english: EnglishSide::Tgt,
        }
    }
}

impl TutorialFilter {
    /// Whether the lesson keeps `pair`.
    pub fn keep(&self, pair: &Pair) -> bool {
        let short = |s: &str| s.split(' ').count() < self.max_length;
        let english = match self.english {
            EnglishSide::Src => &pair.src,
            EnglishSide::Tgt => &pair.tgt,
        };
        short(&pair.src)
            && short(&pair.tgt)
            && (!self.eng_prefixes || ENG_PREFIXES.iter().any(|p| english.starts_with(p)))
    }
}

/// Keeps pairs whose sides have at most `max_src` / `max_tgt` whitespace
/// tokens (`None`: no limit on that side).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LengthFilter {
    /// Most source tokens.
    pub max_src: Option<usize>,
    /// Most target tokens.
    pub max_tgt: Option<usize>,
}

impl LengthFilter {
    /// The same limit on both sides.
    pub fn both(max: usize) -> Self {
        LengthFilter {
            max_src: Some(max),
            max_tgt: Some(max),
        }
    }

    /// Whether `pair` is within the limits.
    pub fn keep(&self, pair: &Pair) -> bool {
        fits(&pair.src, self.max_src) && fits(&pair.tgt, self.max_tgt)
    }
}

/// What decides which sentence pairs a pipeline keeps, after it has
/// normalised them: `attend data stats` and a translation run build their
/// filter from it, so both count the same pairs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PairFilterConfig {
    /// The lesson's [`TutorialFilter`] instead of a [`LengthFilter`].
    pub tutorial: bool,
    /// The columns were swapped (eng-fra read as fra→eng). English is the
    /// first column of the lesson's file, so reversing puts it on the
    /// target side.
    pub reverse: bool,
    /// With `tutorial`, fewer than this many words a side (default
    /// [`TUTORIAL_MAX_LENGTH`]); else at most this many tokens a side
    /// (`None`: no limit).
    pub max_len: Option<usize>,
}

/// The filter a [`PairFilterConfig`] describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PairFilter {
    /// The lesson's `filterPair`.
    Tutorial(TutorialFilter),
    /// A token limit per side.
    Length(LengthFilter),
}

impl PairFilter {
    /// The filter of `cfg`.
    pub fn new(cfg: &PairFilterConfig) -> Self {
        if cfg.tutorial {
            PairFilter::Tutorial(TutorialFilter {
                max_length: cfg.max_len.unwrap_or(TUTORIAL_MAX_LENGTH),
                eng_prefixes: true,
                english: if cfg.reverse {
                    EnglishSide::Tgt
                } else {
                    EnglishSide::Src
                },
            })
        } else {
            PairFilter::Length(LengthFilter {
                max_src: cfg.max_len,
                max_tgt: cfg.max_len,
            })
        }
    }

    /// Whether `pair` is kept.
    pub fn keep(&self, pair: &Pair) -> bool {
        match self {
            PairFilter::Tutorial(f) => f.keep(pair),
            PairFilter::Length(f) => f.keep(pair),
        }
    }
}

/// Whether `text` has at most `max` whitespace tokens.
pub fn fits(text: &str, max: Option<usize>) -> bool {
    max.is_none_or(|m| text.split_whitespace().nth(m).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tutorial_filter_is_the_lessons() {
        let f = TutorialFilter::default();
        assert!(f.keep(&Pair::new("je suis froid .", "i am cold .")));
        assert!(f.keep(&Pair::new("il est grand .", "he s tall .")));
        // "he is" has no trailing space in the lesson's list: "he isn t" passes.
        assert!(f.keep(&Pair::new("x", "he isn t here .")));
        assert!(!f.keep(&Pair::new("c est un chat .", "it is a cat .")));
        // 9 words pass, 10 do not (strictly fewer than MAX_LENGTH).
        let nine = "i am a b c d e f g";
        let ten = "i am a b c d e f g h";
        assert!(f.keep(&Pair::new("x", nine)));
        assert!(!f.keep(&Pair::new("x", ten)));
        assert!(!f.keep(&Pair::new(ten, "i am x")));
        let as_read = TutorialFilter {
            english: EnglishSide::Src,
            ..Default::default()
        };
        assert!(as_read.keep(&Pair::new("i am cold .", "j ai froid .")));
        let no_prefix = TutorialFilter {
            eng_prefixes: false,
            ..Default::default()
        };
        assert!(no_prefix.keep(&Pair::new("c est un chat .", "it is a cat .")));
    }

    #[test]
    fn length_filter_counts_whitespace_tokens() {
        let f = LengthFilter::both(3);
        assert!(f.keep(&Pair::new("a  b c", "x")));
        assert!(!f.keep(&Pair::new("a b c d", "x")));
        let src_only = LengthFilter {
            max_src: Some(1),
            max_tgt: None,
        };
        assert!(src_only.keep(&Pair::new("a", "w x y z")));
        assert!(LengthFilter::default().keep(&Pair::new("a b c d e", "")));
    }

    #[test]
    fn pair_filter_finds_the_english_side_from_the_column_order() {
        let as_read = Pair::new("i am cold .", "j ai froid .");
        let tutorial = |reverse| {
            PairFilter::new(&PairFilterConfig {
                tutorial: true,
                reverse,
                max_len: None,
            })
        };
        assert!(tutorial(false).keep(&as_read));
        assert!(!tutorial(false).keep(&as_read.clone().reversed()));
        assert!(tutorial(true).keep(&as_read.clone().reversed()));
        let length = PairFilter::new(&PairFilterConfig {
            max_len: Some(3),
            ..Default::default()
        });
        assert_eq!(length, PairFilter::Length(LengthFilter::both(3)));
        assert!(PairFilter::new(&PairFilterConfig::default()).keep(&Pair::new("a b c d e", "")));
    }
}
