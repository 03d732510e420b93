//! Unit tests of BLEU's scoring rules; the expected score lines and
//! signatures were printed by sacreBLEU 2.6.0 for the same inputs.

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn perfect_match_is_100() {
    let s = sentence_bleu(
        "the cat is on the mat .",
        &["the cat is on the mat ."],
        &BleuConfig::sentence(),
    )
    .unwrap();
    assert!(close(s.score, 100.0), "{s}");
    assert_eq!(s.precisions, vec![100.0; 4]);
}

#[test]
fn no_overlap_is_0() {
    let s = sentence_bleu("a b c", &["x y z"], &BleuConfig::default()).unwrap();
    assert_eq!(s.score, 0.0);
    assert_eq!(s.precisions, vec![0.0; 4]);
    assert_eq!(
        s.to_string(),
        "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 3 ref_len = 3)"
    );
}

#[test]
fn brevity_penalty_is_exp_of_one_minus_ratio() {
    let s = corpus_bleu(
        &["a b c d e f"],
        &[vec!["a b c d e f g h i"]],
        &BleuConfig::default(),
    )
    .unwrap();
    assert!(close(s.bp, (1.0f64 - 9.0 / 6.0).exp()));
    assert!(close(s.score, 100.0 * (-0.5f64).exp()));
    // A longer hypothesis is not penalised.
    let s = corpus_bleu(&["a b c d e"], &[vec!["a b c d"]], &BleuConfig::default()).unwrap();
    assert_eq!(s.bp, 1.0);
}

#[test]
fn closest_reference_length_picks_the_nearer_stream() {
    let refs = [vec!["a b c d e f"], vec!["a b c d"]];
    let s = corpus_bleu(&["a b c"], &refs, &BleuConfig::default()).unwrap();
    assert_eq!(s.ref_len, 4);
    assert_eq!(
        s.to_string(),
        "BLEU = 0.00 100.0/100.0/100.0/0.0 (BP = 0.717 ratio = 0.750 hyp_len = 3 ref_len = 4)"
    );
}

#[test]
fn effective_order_averages_only_the_orders_present() {
    let with = sentence_bleu("a b c", &["a b d"], &BleuConfig::sentence()).unwrap();
    // p1 = 2/3, p2 = 1/2, p3 = exp-smoothed 1/(2·1); no 4-grams exist.
    assert!(
        close(with.score, 100.0 * (1.0f64 / 6.0).powf(1.0 / 3.0)),
        "{with}"
    );
    assert_eq!(
        with.to_string(),
        "BLEU = 55.03 66.7/50.0/50.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 3 ref_len = 3)"
    );
    let without = sentence_bleu("a b c", &["a b d"], &BleuConfig::default()).unwrap();
    assert_eq!(without.score, 0.0);
    let short = sentence_bleu("a b", &["a b"], &BleuConfig::sentence()).unwrap();
    assert!(close(short.score, 100.0));
}

#[test]
fn empty_hypothesis_and_reference() {
    let s = corpus_bleu(&[""], &[vec![""]], &BleuConfig::default()).unwrap();
    assert_eq!((s.score, s.bp, s.ratio()), (0.0, 1.0, 0.0));
    let s = corpus_bleu(&["a"], &[vec![""]], &BleuConfig::default()).unwrap();
    assert_eq!((s.sys_len, s.ref_len), (1, 0));
    assert_eq!(
        s.to_string(),
        "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 1.000 ratio = 0.000 hyp_len = 1 ref_len = 0)"
    );
}

#[test]
fn mismatched_or_missing_streams_are_errors() {
    let cfg = BleuConfig::default();
    assert!(corpus_bleu(&["a", "b"], &[vec!["a"]], &cfg).is_err());
    assert!(corpus_bleu(&["a"], &[vec!["a"], vec!["a", "b"]], &cfg).is_err());
    assert!(corpus_bleu::<&str, &str>(&[], &[vec![]], &cfg).is_err());
    assert!(corpus_bleu::<&str, &str>(&["a"], &[], &cfg).is_err());
    assert!(sentence_bleu::<&str>("a", &[], &cfg).is_err());
}

#[test]
fn score_line_and_signatures_match_sacrebleu() {
    let hyps = [
        "the cat is on the mat .",
        "there is a cat on the mat",
        "i am not sure that he is ready .",
        "we re tired .",
        "he s a good boy",
    ];
    let refs = [vec![
        "the cat is on the mat .",
        "a cat is on the mat .",
        "i m not sure he s ready .",
        "we are tired .",
        "he is a very good boy .",
    ]];
    let line = "38.58 81.2/48.1/27.3/23.5 (BP = 0.969 ratio = 0.970 hyp_len = 32 ref_len = 33)";
    let cases = [
        (
            BleuConfig::default(),
            line,
            "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
            "#:1|c:mixed|e:no|tok:13a|s:exp|v:2.6.0",
        ),
        (
            BleuConfig {
                smooth: Smooth::Floor(0.1),
                ..BleuConfig::default()
            },
            line,
            "nrefs:1|case:mixed|eff:no|tok:13a|smooth:floor[0.10]|version:2.6.0",
            "#:1|c:mixed|e:no|tok:13a|s:floor[0.10]|v:2.6.0",
        ),
        (
            BleuConfig {
                smooth: Smooth::AddK(2.0),
                ..BleuConfig::default()
            },
            "44.45 81.2/51.7/33.3/31.6 (BP = 0.969 ratio = 0.970 hyp_len = 32 ref_len = 33)",
            "nrefs:1|case:mixed|eff:no|tok:13a|smooth:add-k[2.00]|version:2.6.0",
            "#:1|c:mixed|e:no|tok:13a|s:add-k[2.00]|v:2.6.0",
        ),
        (
            BleuConfig {
                lowercase: true,
                tokenize: Tokenize::None,
                smooth: Smooth::None,
                effective_order: true,
                ..BleuConfig::default()
            },
            line,
            "nrefs:1|case:lc|eff:yes|tok:none|smooth:none|version:2.6.0",
            "#:1|c:lc|e:yes|tok:none|s:none|v:2.6.0",
        ),
    ];
    for (cfg, line, long, short) in cases {
        let s = corpus_bleu(&hyps, &refs, &cfg).unwrap();
        assert_eq!(s.to_string(), format!("BLEU = {line}"), "{cfg:?}");
        assert_eq!(s.signature().to_string(), long);
        assert_eq!(s.signature().short(), short);
        assert_eq!(s.format_with_signature(), format!("BLEU|{long} = {line}"));
    }
}

#[test]
fn config_serde_and_validation() {
    let cfg: BleuConfig =
        serde_json::from_str(r#"{"tokenize":"none","smooth":{"add-k":0.5},"lowercase":true}"#)
            .unwrap();
    assert_eq!(cfg.tokenize, Tokenize::None);
    assert_eq!(cfg.smooth, Smooth::AddK(0.5));
    assert_eq!(cfg.max_ngram_order, 4);
    let back: BleuConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);
    let exp: BleuConfig = serde_json::from_str(r#"{"smooth":"exp","tokenize":"13a"}"#).unwrap();
    assert_eq!(exp, BleuConfig::default());
    assert!(serde_json::from_str::<BleuConfig>(r#"{"smoothing":"exp"}"#).is_err());
    let bad = BleuConfig {
        max_ngram_order: 0,
        ..BleuConfig::default()
    };
    assert!(bad.validate().is_err());
    let bad = BleuConfig {
        smooth: Smooth::Floor(f64::NAN),
        ..BleuConfig::default()
    };
    assert!(BleuStats::new(&bad).is_err());
    assert_eq!(
        Smooth::from_method("floor", None).unwrap(),
        Smooth::Floor(0.1)
    );
    assert_eq!(
        Smooth::from_method("add-k", None).unwrap(),
        Smooth::AddK(1.0)
    );
    assert!(Smooth::from_method("chen", None).is_err());
}
