//! Tests of where translation pairs come from.
use super::*;

fn multi30k(src: &str, tgt: &str) -> PairDataConfig {
    PairDataConfig {
        dataset: MULTI30K.into(),
        src_lang: Some(src.into()),
        tgt_lang: Some(tgt.into()),
        ..PairDataConfig::default()
    }
}

#[test]
fn multi30k_reads_its_official_splits_whole() -> Result<()> {
    let Some(dir) = std::env::var_os("ATTEND_DATA_DIR") else {
        // CI sets it (.ci/run); a bare `cargo test` finds shared/ beside the repo.
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
        assert!(here.is_dir(), "no ATTEND_DATA_DIR and no ../shared/data");
        return check_multi30k(&here);
    };
    check_multi30k(Path::new(&dir))
}

fn check_multi30k(dir: &Path) -> Result<()> {
    let resolver = Resolver {
        data_dir: Some(dir.to_path_buf()),
        cache_dir: None,
        download: false,
    };
    let cfg = multi30k("de", "en");
    let sources = cfg.sources(&resolver)?;
    let sizes = |s: &Option<PairSource>| s.as_ref().map(|s| s.read().map(|p| p.len()));
    assert_eq!(sources.train.read()?.len(), 29_000);
    assert_eq!(sizes(&sources.valid).transpose()?, Some(1_014));
    assert_eq!(sizes(&sources.test).transpose()?, Some(1_000));
    let test = sources.test.as_ref().map(PairSource::read).transpose()?;
    let first = test
        .as_ref()
        .and_then(|t| t.first())
        .cloned()
        .unwrap_or_else(|| Pair::new("", ""));
    assert!(first.src.starts_with("Ein Mann"), "{first:?}");
    assert!(first.tgt.starts_with("A man"), "{first:?}");
    assert_eq!(
        cfg.tokenization(),
        Tokenization::Bpe,
        "real text, real pieces"
    );
    Ok(())
}

#[test]
fn flags_that_go_together_are_checked() {
    assert!(multi30k("de", "de").validate().is_err());
    assert!(multi30k("de", "cs").validate().is_err());
    assert!(multi30k("en", "fr").validate().is_ok());
    let one_side = PairDataConfig {
        valid_src: Some("v.de".into()),
        ..PairDataConfig::default()
    };
    let err = one_side.sources(&Resolver::from_env()).err();
    assert!(err.is_some_and(|e| e.to_string().contains("--valid-src and --valid-tgt")));
    let langs_elsewhere = PairDataConfig {
        src_lang: Some("de".into()),
        ..PairDataConfig::default()
    };
    assert!(langs_elsewhere.validate().is_err());
    let lesson = PairDataConfig::default();
    assert_eq!(lesson.tokenization(), Tokenization::Whitespace);
    let tutorial_bpe = PairDataConfig {
        tutorial_filter: true,
        tokenizer: Some(Tokenization::Bpe),
        ..PairDataConfig::default()
    };
    assert!(tutorial_bpe.validate().is_err());
}
