//! Text normalisation.
//!
//! [`normalize_string`] is the PyTorch "NLP From Scratch: Translation with a
//! Sequence to Sequence Network and Attention" lesson's `normalizeString`,
//! character for character, so the lesson's pair and vocabulary counts come
//! out the same. [`Normalizer`] is the one to use on real text: it keeps
//! accents and non-Latin scripts instead of deleting them.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

// Unicode general category Mn (non-spacing marks), which is what the lesson's
// `unicodedata.category(c) != 'Mn'` drops. `is_combining_mark` would also drop
// Mc and Me, which Python keeps (and then turns into a space).
static NONSPACING_MARK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\p{Mn}$").expect("constant regex"));

static PUNCTUATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\p{P})").expect("constant regex"));

/// Python's `str.isspace()`: Unicode `White_Space` plus the four ASCII
/// information separators U+001C..U+001F, which Python also strips.
pub fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` with no argument.
pub fn python_strip(s: &str) -> &str {
    s.trim_matches(is_python_space)
}

/// The lesson's `unicodeToAscii`: NFD, then drop every character of general
/// category Mn. Despite the name, the result can still hold non-ASCII letters
/// (`ß`, `ø`, CJK); the lesson's next regex turns those into spaces.
pub fn unicode_to_ascii(s: &str) -> String {
    let mut buf = [0u8; 4];
    s.nfd()
        .filter(|&c| c.is_ascii() || !NONSPACING_MARK.is_match(c.encode_utf8(&mut buf)))
        .collect()
}

/// The lesson's `normalizeString`:
///
/// ```python
/// s = unicodeToAscii(s.lower().strip())
/// s = re.sub(r"([.!?])", r" \1", s)
/// s = re.sub(r"[^a-zA-Z.!?]+", r" ", s)
/// return s.strip()
/// ```
///
/// This is the classic version that keeps `.`; it gives the lesson's
/// 10,599 filtered pairs (a later revision of the lesson also drops `.`).
pub fn normalize_string(s: &str) -> String {
    // Rust's to_lowercase, like Python's lower(), applies the full Unicode
    // mapping (İ → i̇, final sigma).
    let ascii = unicode_to_ascii(python_strip(&s.to_lowercase()));
    let mut out = String::with_capacity(ascii.len() + 8);
    let mut in_gap = false;
    for c in ascii.chars() {
        if c.is_ascii_alphabetic() {
            out.push(c);
            in_gap = false;
        } else if matches!(c, '.' | '!' | '?') {
            // `re.sub(r"([.!?])", r" \1")` inserts a space, which the second
            // regex merges with any gap before it: one space in all.
            if !in_gap {
                out.push(' ');
            }
            out.push(c);
            in_gap = false;
        } else if !in_gap {
            out.push(' ');
            in_gap = true;
        }
    }
    out.trim_matches(' ').to_string()
}

/// Options of the Unicode-preserving [`Normalizer`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NormalizeConfig {
    /// Lowercase (full Unicode mapping) after NFKC.
    pub lowercase: bool,
    /// Put spaces around every punctuation character (general category P*), so
    /// that `"Hello, world!"` tokenises to `hello , world !`.
    pub split_punctuation: bool,
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        NormalizeConfig {
            lowercase: true,
            split_punctuation: true,
        }
    }
}

/// Unicode-preserving normaliser: NFKC, optional lowercase, punctuation split
/// off into tokens of its own, accents and scripts kept, runs of whitespace
/// collapsed to one space, trimmed.
#[derive(Clone, Debug, Default)]
pub struct Normalizer {
    cfg: NormalizeConfig,
}

impl Normalizer {
    /// A normaliser with the given options.
    pub fn new(cfg: &NormalizeConfig) -> Self {
        Normalizer { cfg: cfg.clone() }
    }

    /// The options this normaliser was built with.
    pub fn config(&self) -> &NormalizeConfig {
        &self.cfg
    }

    /// Normalises one piece of text.
    pub fn normalize(&self, s: &str) -> String {
        let mut t: String = s.nfkc().collect();
        if self.cfg.lowercase {
            t = t.to_lowercase();
        }
        if self.cfg.split_punctuation {
            t = PUNCTUATION.replace_all(&t, " $1 ").into_owned();
        }
        t.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesson_examples() {
        assert_eq!(normalize_string("Go."), "go .");
        assert_eq!(normalize_string("Va !"), "va !");
        assert_eq!(normalize_string("Je suis désolé."), "je suis desole .");
        assert_eq!(normalize_string("  Ça va?  "), "ca va ?");
        assert_eq!(normalize_string("I'm 24 years old."), "i m years old .");
        assert_eq!(
            normalize_string("Qu'est-ce que c'est ?!"),
            "qu est ce que c est ? !"
        );
        assert_eq!(normalize_string("Wait..."), "wait . . .");
    }

    #[test]
    fn lesson_drops_only_nonspacing_marks() {
        // ß has no decomposition: it is not a-z, so it becomes a gap.
        assert_eq!(normalize_string("Straße"), "stra e");
        // U+0903 (Mc, spacing mark) is kept by unicodeToAscii, then becomes a space;
        // U+0301 (Mn) is dropped and joins its neighbours.
        assert_eq!(normalize_string("a\u{0903}b"), "a b");
        assert_eq!(normalize_string("a\u{0301}b"), "ab");
        // Python's strip() also removes the ASCII information separators.
        assert_eq!(normalize_string("\u{1f}ÉLAN\u{1c}"), "elan");
        assert_eq!(normalize_string(""), "");
        assert_eq!(normalize_string("¿¡"), "");
    }

    #[test]
    fn python_strip_matches_isspace() {
        assert_eq!(python_strip("\u{a0}\u{3000} x \u{1d}\n"), "x");
        assert_eq!(python_strip("\u{200b}x"), "\u{200b}x");
    }

    #[test]
    fn normalizer_keeps_accents_and_splits_punctuation() {
        let n = Normalizer::default();
        assert_eq!(n.normalize("  Ça  VA, très bien!  "), "ça va , très bien !");
        // NFKC folds compatibility forms (ﬁ ligature, full-width letters).
        assert_eq!(n.normalize("ﬁne ＡＢ"), "fine ab");
        assert_eq!(n.normalize("«Привет»"), "« привет »");
        let keep_case = Normalizer::new(&NormalizeConfig {
            lowercase: false,
            split_punctuation: false,
        });
        assert_eq!(keep_case.normalize("Hello,\tWorld!"), "Hello, World!");
    }
}
