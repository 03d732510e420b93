//! Tests for how `translate eval|run` flags lie over a model's saved `decode`
//! section: no flag keeps it, a flag changes only what it names, and a flag
//! that picks another search starts from that search's defaults.

use clap::Parser;

use super::*;
use attend::decode::{BeamOptions, SampleOptions, Search};

/// The search flags as `translate run` takes them.
#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    search: SearchArgs,
    #[arg(long)]
    n_best: Option<usize>,
}

fn globals(seed_flag: Option<u64>) -> Globals {
    Globals {
        seed: seed_flag.unwrap_or(attend::train::DEFAULT_SEED),
        seed_flag,
        threads: 1,
    }
}

fn resolve(args: &[&str], saved: &DecodeConfig, seed_flag: Option<u64>) -> DecodeConfig {
    let f = Flags::try_parse_from([&["run"], args].concat()).unwrap();
    decode_config(&f.search, f.n_best, saved, &globals(seed_flag))
}

fn beam(size: usize, alpha: f64, n_best: usize) -> Search {
    Search::Beam(BeamOptions {
        size,
        alpha,
        n_best,
    })
}

#[test]
fn without_flags_the_saved_section_decides() {
    for search in [
        Search::Greedy,
        beam(4, 1.0, 2),
        Search::Sample {
            options: SampleOptions::default(),
            seed: 9,
        },
    ] {
        let saved = DecodeConfig {
            batch_size: 7,
            search,
            ..DecodeConfig::default()
        };
        assert_eq!(resolve(&[], &saved, None), saved);
    }
    // A directory without the section: what `translate` always did.
    assert_eq!(
        resolve(&[], &DecodeConfig::beam(), None).search,
        beam(5, 0.6, 1)
    );
}

#[test]
fn a_flag_changes_what_it_names() {
    let saved = DecodeConfig {
        search: beam(4, 1.0, 2),
        ..DecodeConfig::default()
    };
    assert_eq!(
        resolve(&["--beam", "3"], &saved, None).search,
        beam(3, 1.0, 2)
    );
    assert_eq!(
        resolve(&["--beam", "1"], &saved, None).search,
        beam(1, 1.0, 1)
    );
    assert_eq!(
        resolve(&["--alpha", "0"], &saved, None).search,
        beam(4, 0.0, 2)
    );
    assert_eq!(
        resolve(&["--n-best", "4"], &saved, None).search,
        beam(4, 1.0, 4)
    );
    assert_eq!(resolve(&["--batch-size", "2"], &saved, None).batch_size, 2);
    assert_eq!(resolve(&["--greedy"], &saved, None).search, Search::Greedy);
    let sampled = Search::Sample {
        options: SampleOptions {
            temperature: 0.5,
            top_k: Some(3),
            top_p: None,
        },
        seed: 11,
    };
    let saved = DecodeConfig {
        search: sampled,
        ..DecodeConfig::default()
    };
    let got = resolve(&["--sample", "--top-p", "0.9"], &saved, None).search;
    let Search::Sample { options, seed } = got else {
        panic!("{got:?}");
    };
    assert_eq!(
        (options.temperature, options.top_k, options.top_p),
        (0.5, Some(3), Some(0.9))
    );
    assert_eq!(seed, 11);
    let Search::Sample { seed, .. } = resolve(&[], &saved, Some(4)).search else {
        panic!("still sampling");
    };
    assert_eq!(seed, 4, "--seed overrides the saved seed");
}

#[test]
fn another_search_starts_from_its_defaults() {
    let greedy = DecodeConfig::default();
    assert_eq!(
        resolve(&["--beam", "3"], &greedy, None).search,
        beam(3, BeamOptions::default().alpha, 1)
    );
    assert_eq!(
        resolve(&["--n-best", "2"], &greedy, None).search,
        beam(5, 0.6, 2)
    );
    assert_eq!(
        resolve(&["--sample"], &DecodeConfig::beam(), None).search,
        Search::Sample {
            options: SampleOptions::default(),
            seed: attend::train::DEFAULT_SEED,
        }
    );
    // The beam width is checked where a config file's is, before any loading.
    for bad in ["0", "257"] {
        assert!(Flags::try_parse_from(["run", "--beam", bad]).is_err());
    }
    assert!(Flags::try_parse_from(["run", "--greedy", "--beam", "2"]).is_err());
    assert!(Flags::try_parse_from(["run", "--temperature", "2"]).is_err());
}
