//! Unit tests of chrF's scoring rules; the expected scores and signatures were
//! printed by sacreBLEU 2.6.0's `CHRF` for the same inputs, or are worked out
//! by hand from the definition.

use super::*;
use crate::metrics::NRefs;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

const HYPS: [&str; 4] = [
    "The cat sat on the mat.",
    "A dog runs in the park!",
    "",
    "Zwei Männer bauen eine Hütte.",
];
const REFS: [&str; 4] = [
    "The cat is sitting on the mat.",
    "A dog is running through the park.",
    "Something.",
    "Zwei Männer bauen eine blaue Hütte auf.",
];

#[test]
fn perfect_match_is_100_and_no_overlap_is_0() {
    let cfg = ChrfConfig::plus_plus();
    let s = sentence_chrf("a b, c.", &["a b, c."], &cfg).unwrap();
    assert_eq!(s.score, 100.0);
    let s = sentence_chrf("abc", &["xyz"], &cfg).unwrap();
    assert_eq!(s.score, 0.0);
}

#[test]
fn missing_orders_drop_out_of_the_average() {
    // "ab" vs "abc": 1-grams p = 1, r = 2/3; 2-grams p = 1, r = 1/2; no
    // hypothesis 3-grams. Averages p = 1, r = 7/12; F2 = 5pr / (4p + r) = 35/55.
    let s = sentence_chrf("ab", &["abc"], &ChrfConfig::default()).unwrap();
    assert!(close(s.score, 100.0 * 35.0 / 55.0), "{s}");
    assert_eq!(&s.stats[..9], &[2, 3, 2, 1, 2, 1, 0, 1, 0]);
    assert_eq!(s.to_string(), "chrF2 = 63.64");
}

#[test]
fn empty_hypothesis_scores_0_or_epsilon() {
    let s = sentence_chrf("", &["abc"], &ChrfConfig::default()).unwrap();
    assert_eq!(s.score, 0.0);
    let eps = ChrfConfig {
        eps_smoothing: true,
        ..ChrfConfig::default()
    };
    // Each of the 6 orders contributes ε = 1e-16: 100 · 6ε / 6.
    let s = sentence_chrf("", &["abc"], &eps).unwrap();
    assert!(close(s.score, 5e-15), "{}", s.score);
}

#[test]
fn corpus_scores_and_signatures_match_sacrebleu() {
    let refs = [REFS.to_vec()];
    let cases = [
        (
            ChrfConfig::default(),
            47.524643783991316,
            "chrF2 = 47.52",
            "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
            "#:1|c:mixed|e:yes|nc:6|nw:0|s:no|v:2.6.0",
        ),
        (
            ChrfConfig::plus_plus(),
            49.112926517421315,
            "chrF2++ = 49.11",
            "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0",
            "#:1|c:mixed|e:yes|nc:6|nw:2|s:no|v:2.6.0",
        ),
        (
            ChrfConfig {
                eps_smoothing: true,
                ..ChrfConfig::default()
            },
            47.52336873309375,
            "chrF2 = 47.52",
            "nrefs:1|case:mixed|eff:no|nc:6|nw:0|space:no|version:2.6.0",
            "#:1|c:mixed|e:no|nc:6|nw:0|s:no|v:2.6.0",
        ),
        (
            ChrfConfig {
                whitespace: true,
                lowercase: true,
                beta: 1,
                ..ChrfConfig::default()
            },
            61.19928442869157,
            "chrF1 = 61.20",
            "nrefs:1|case:lc|eff:yes|nc:6|nw:0|space:yes|version:2.6.0",
            "#:1|c:lc|e:yes|nc:6|nw:0|s:yes|v:2.6.0",
        ),
    ];
    for (cfg, score, line, long, short) in cases {
        let s = corpus_chrf(&HYPS, &refs, &cfg).unwrap();
        assert!(close(s.score, score), "{cfg:?}: {} vs {score}", s.score);
        assert_eq!(s.to_string(), line);
        assert_eq!(s.signature().to_string(), long);
        assert_eq!(s.signature().short(), short);
        let (name, value) = line.split_once(" = ").unwrap();
        assert_eq!(
            s.format_with_signature(),
            format!("{name}|{long} = {value}")
        );
    }
}

#[test]
fn multiple_references_pick_the_best_per_segment() {
    let cfg = ChrfConfig::plus_plus();
    let s = sentence_chrf("a b c", &["a b d", "a b c d"], &cfg).unwrap();
    assert!(close(s.score, 71.42857142857142), "{}", s.score);
    assert_eq!(s.signature().nrefs, NRefs::Fixed(2));
    // Scoring each reference alone, the better one is what counts.
    let alone = sentence_chrf("a b c", &["a b c d"], &cfg).unwrap();
    assert_eq!(s.stats, alone.stats);
}

#[test]
fn mismatched_or_missing_streams_are_errors() {
    let cfg = ChrfConfig::default();
    assert!(corpus_chrf(&["a", "b"], &[vec!["a"]], &cfg).is_err());
    assert!(corpus_chrf(&["a"], &[vec!["a"], vec!["a", "b"]], &cfg).is_err());
    assert!(corpus_chrf::<&str, &str>(&[], &[vec![]], &cfg).is_err());
    assert!(corpus_chrf::<&str, &str>(&["a"], &[], &cfg).is_err());
    assert!(sentence_chrf::<&str>("a", &[], &cfg).is_err());
}

#[test]
fn config_serde_and_validation() {
    let cfg: ChrfConfig = serde_json::from_str(r#"{"word_order":2,"lowercase":true}"#).unwrap();
    assert_eq!(
        cfg,
        ChrfConfig {
            lowercase: true,
            ..ChrfConfig::plus_plus()
        }
    );
    let back: ChrfConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);
    assert_eq!(
        serde_json::from_str::<ChrfConfig>("{}").unwrap(),
        ChrfConfig::default()
    );
    assert!(serde_json::from_str::<ChrfConfig>(r#"{"order":6}"#).is_err());
    let none = ChrfConfig {
        char_order: 0,
        ..ChrfConfig::default()
    };
    assert!(none.validate().is_err());
    assert!(sentence_chrf("a", &["a"], &none).is_err());
    // Word n-grams alone are a valid (if unusual) configuration.
    let words = ChrfConfig {
        char_order: 0,
        ..ChrfConfig::plus_plus()
    };
    assert_eq!(sentence_chrf("a b", &["a b"], &words).unwrap().score, 100.0);
}
