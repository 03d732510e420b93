//! BLEU's tokenisers: sacreBLEU's `13a` (the mteval-v13a.pl rules used by WMT)
//! and `none`.
//!
//! Post (2018), "A Call for Clarity in Reporting BLEU Scores": scores are only
//! comparable when everyone tokenises the references the same way, so this is
//! a rule-for-rule port of sacreBLEU 2.x's `Tokenizer13a` + `TokenizerRegexp`,
//! including Python's notion of whitespace in `str.split()`/`str.rstrip()`.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::text::is_python_space;
use crate::{Error, Result};

/// Which tokeniser BLEU applies to hypotheses and references.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Tokenize {
    /// sacreBLEU's default `13a`: mteval-v13a.pl's language-independent rules.
    #[default]
    #[serde(rename = "13a")]
    Mteval13a,
    /// No tokenisation: split on whitespace only (`tok:none`).
    #[serde(rename = "none")]
    None,
}

impl Tokenize {
    /// The name sacreBLEU uses in its `tok:` signature field and `--tokenize` flag.
    pub fn name(self) -> &'static str {
        match self {
            Tokenize::Mteval13a => "13a",
            Tokenize::None => "none",
        }
    }

    /// Tokenises one segment: the result's tokens are separated by single spaces
    /// for `13a`; `none` returns the segment unchanged.
    pub fn apply(self, line: &str) -> String {
        match self {
            Tokenize::Mteval13a => tokenize_13a(line),
            Tokenize::None => line.to_string(),
        }
    }
}

impl std::str::FromStr for Tokenize {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "13a" => Ok(Tokenize::Mteval13a),
            "none" => Ok(Tokenize::None),
            other => Err(Error::Config(format!(
                "unknown BLEU tokenizer {other:?} (expected \"13a\" or \"none\")"
            ))),
        }
    }
}

// sacreBLEU's `TokenizerRegexp` rules, applied in order with `re.sub`. Rust's
// `replace_all` finds the same leftmost, non-overlapping matches as Python's
// `re.sub`, and `[^0-9]` excludes only the ASCII digits in both.
static RULES: LazyLock<[(Regex, &'static str); 4]> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).expect("constant regex");
    [
        // Symbols: { | } ~ [ \ ] ^ _ ` space ! " # $ % & ( ) * + : ; < = > ? @ /
        (re(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), " ${1} "),
        // Period and comma unless preceded by a digit.
        (re(r"([^0-9])([\.,])"), "${1} ${2} "),
        // Period and comma unless followed by a digit.
        (re(r"([\.,])([^0-9])"), " ${1} ${2}"),
        // Dash when preceded by a digit.
        (re(r"([0-9])(-)"), "${1} ${2} "),
    ]
});

/// sacreBLEU's `Tokenizer13a`: drop `<skipped>`, join `-\n` hyphenations, turn
/// other newlines into spaces, unescape `&quot;`, `&amp;`, `&lt;`, `&gt;` (in
/// that order, so `&amp;quot;` becomes `&quot;`), then split off punctuation.
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut line = format!(" {line} ");
    for (re, rep) in RULES.iter() {
        // `Cow::Borrowed` means no match: keep the string we have.
        if let std::borrow::Cow::Owned(s) = re.replace_all(&line, *rep) {
            line = s;
        }
    }
    python_split(&line).collect::<Vec<_>>().join(" ")
}

/// Python's `str.split()` with no argument: runs of Unicode whitespace (as
/// Python defines it) separate tokens; no empty tokens.
pub fn python_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_python_space).filter(|t| !t.is_empty())
}

/// sacreBLEU's `_preprocess_segment`: optional `str.lower()`, `str.rstrip()`,
/// then the tokeniser.
pub fn preprocess(sent: &str, tokenize: Tokenize, lowercase: bool) -> String {
    if lowercase {
        // Rust's `to_lowercase` applies the same full Unicode mapping as
        // Python's `str.lower()`, final sigma included.
        tokenize.apply(sent.to_lowercase().trim_end_matches(is_python_space))
    } else {
        tokenize.apply(sent.trim_end_matches(is_python_space))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected strings were produced by sacreBLEU 2.6.0: `Tokenizer13a()(line)`.
    #[test]
    fn tokenizer_13a_matches_sacrebleu() {
        let cases = [
            (
                "Hello, world! It's 5.5% (approx).",
                "Hello , world ! It's 5.5 % ( approx ) .",
            ),
            ("1,000.50 and 3.14.", "1,000.50 and 3.14 ."),
            ("a.b,c", "a . b , c"),
            ("x.,y", "x . , y"),
            ("9-5 is 4 - e-mail", "9 - 5 is 4 - e-mail"),
            ("foo<skipped>bar", "foobar"),
            ("hyphen-\nated line\nbreak", "hyphenated line break"),
            (
                "&quot;q&quot; &amp; &lt;t&gt; &amp;quot;",
                "\" q \" & < t > & quot ;",
            ),
            ("tabs\tand\u{a0}nbsp  spaces ", "tabs and nbsp spaces"),
            ("{a|b}~[c\\d]^_`e`", "{ a | b } ~ [ c \\ d ] ^ _ ` e `"),
            ("¿Qué? «bien» — 2.0-3", "¿Qué ? «bien» — 2.0 - 3"),
            ("", ""),
            ("   ", ""),
            ("end.", "end ."),
            (".5 and 5.", ". 5 and 5 ."),
        ];
        for (input, want) in cases {
            assert_eq!(tokenize_13a(input), want, "input {input:?}");
        }
    }

    #[test]
    fn preprocess_lowercases_and_strips_like_python() {
        assert_eq!(
            preprocess("The CAT.\u{1f}\n", Tokenize::Mteval13a, true),
            "the cat ."
        );
        assert_eq!(preprocess("a,b  c ", Tokenize::None, false), "a,b  c");
    }

    #[test]
    fn python_split_uses_python_whitespace() {
        let toks: Vec<_> = python_split(" a\u{1c}b\u{3000}c  ").collect();
        assert_eq!(toks, ["a", "b", "c"]);
    }

    #[test]
    fn tokenize_names_round_trip() {
        for t in [Tokenize::Mteval13a, Tokenize::None] {
            assert_eq!(t.name().parse::<Tokenize>().ok(), Some(t));
        }
        assert!("intl".parse::<Tokenize>().is_err());
    }
}
