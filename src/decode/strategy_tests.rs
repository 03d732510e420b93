//! Tests for the one dispatch and the one validation: [`run`] gives what the
//! search it names gives when called directly, bad knobs are configuration
//! errors that name the knob, and the config-file shape stays the one saved
//! model directories hold.

use super::*;
use crate::decode::toy::{Script, Toy, decoding};
use crate::decode::{greedy, sample};

fn toy() -> Toy {
    crate::decode::toy::toy(0.6)
}

fn script() -> Script {
    Script(vec![vec![2, 3, 4], vec![5], vec![6, 7]])
}

#[test]
fn run_gives_what_the_named_search_gives() -> Result<()> {
    let (model, memory, lengths) = (toy(), script(), [3, 1, 2]);
    let d = decoding(Search::Greedy);
    let mut heard = Vec::new();
    let got = run(&model, &memory, &lengths, &d, &mut |row, t| {
        heard.push((row, t))
    })?;
    let want = greedy(
        &model,
        &memory,
        &lengths,
        &GreedyConfig {
            specials: d.specials,
            limit: d.limit,
        },
    )?;
    assert_eq!(got, want.into_iter().map(|h| vec![h]).collect::<Vec<_>>());
    assert_eq!(
        heard.len(),
        got.iter().map(|h| h[0].tokens.len()).sum::<usize>()
    );

    let options = BeamOptions {
        size: 3,
        alpha: 0.6,
        n_best: 2,
    };
    let d = decoding(Search::Beam(options));
    let mut heard = 0;
    let got = run(&model, &memory, &lengths, &d, &mut |_, _| heard += 1)?;
    let cfg = BeamConfig {
        specials: d.specials,
        limit: d.limit,
        options,
    };
    assert_eq!(got, beam_search(&model, &memory, &lengths, &cfg)?);
    assert!(got.iter().all(|h| h.len() == 2));
    assert_eq!(heard, 0, "beam search hands out no token before it ends");

    let options = SampleOptions {
        temperature: 2.0,
        ..SampleOptions::default()
    };
    let d = decoding(Search::Sample { options, seed: 9 });
    let got = run(&model, &memory, &lengths, &d, &mut |_, _| {})?;
    let cfg = SampleConfig {
        specials: d.specials,
        limit: d.limit,
        options,
        seed: 9,
    };
    let want = sample(&model, &memory, &lengths, &cfg)?;
    assert_eq!(got, want.into_iter().map(|h| vec![h]).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn every_bad_value_is_one_config_error_naming_it() {
    let beam = |size, alpha, n_best| {
        Search::Beam(BeamOptions {
            size,
            alpha,
            n_best,
        })
    };
    let sampled = |temperature, top_k, top_p| Search::Sample {
        options: SampleOptions {
            temperature,
            top_k,
            top_p,
        },
        seed: 0,
    };
    for (search, names) in [
        (beam(0, 0.6, 1), "beam size"),
        (beam(MAX_BEAM + 1, 0.6, 1), "beam size"),
        (beam(3, 0.6, 4), "n_best"),
        (beam(3, 0.6, 0), "n_best"),
        (beam(3, -1.0, 1), "alpha"),
        (beam(3, f64::NAN, 1), "alpha"),
        (sampled(0.0, None, None), "temperature"),
        (sampled(f64::INFINITY, None, None), "temperature"),
        (sampled(1.0, Some(0), None), "top_k"),
        (sampled(1.0, None, Some(0.0)), "top_p"),
        (sampled(1.0, None, Some(1.5)), "top_p"),
    ] {
        match search.validate() {
            Err(Error::Config(msg)) => assert!(msg.contains(names), "{search:?}: {msg}"),
            other => panic!("{search:?}: {other:?}"),
        }
        // The searches themselves refuse the same values.
        let out = run(
            &toy(),
            &script(),
            &[1, 1, 1],
            &decoding(search),
            &mut |_, _| {},
        );
        assert!(matches!(out, Err(Error::Config(_))), "{search:?}");
    }
    for ok in [
        Search::Greedy,
        beam(1, 0.0, 1),
        beam(MAX_BEAM, 0.0, MAX_BEAM),
        sampled(0.5, Some(1), Some(1.0)),
    ] {
        assert!(ok.validate().is_ok(), "{ok:?}");
    }
}

#[test]
fn the_config_shape_is_the_saved_one() {
    let read = |json: &str| serde_json::from_str::<Search>(json);
    assert_eq!(read(r#"{"type": "greedy"}"#).unwrap(), Search::Greedy);
    assert_eq!(
        read(r#"{"type": "beam", "size": 3}"#).unwrap(),
        Search::Beam(BeamOptions {
            size: 3,
            ..BeamOptions::default()
        })
    );
    let s = read(r#"{"type": "sample", "temperature": 0.5, "top_k": 40, "seed": 7}"#).unwrap();
    assert_eq!(
        s,
        Search::Sample {
            options: SampleOptions {
                temperature: 0.5,
                top_k: Some(40),
                top_p: None,
            },
            seed: 7,
        }
    );
    for s in [Search::Greedy, Search::Beam(BeamOptions::default()), s] {
        assert_eq!(read(&serde_json::to_string(&s).unwrap()).unwrap(), s);
    }
    assert!(read(r#"{"type": "beam", "beams": 3}"#).is_err());
    assert!(read(r#"{"type": "nucleus"}"#).is_err());
}

#[test]
fn reseeding_moves_only_the_draws() {
    let s = Search::Sample {
        options: SampleOptions::default(),
        seed: 42,
    };
    assert_eq!(s.reseeded(0), s);
    let Search::Sample { seed, .. } = s.reseeded(3) else {
        panic!("still sampling");
    };
    assert_eq!(seed, 42 ^ 3u64.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let beam = Search::Beam(BeamOptions::default());
    assert_eq!(beam.reseeded(3), beam);
    assert_eq!(Search::Greedy.reseeded(3), Search::Greedy);
}
