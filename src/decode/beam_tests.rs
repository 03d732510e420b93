//! Tests for beam search over toy decoders whose distributions are known
//! functions of the prefix, so every score and attention row can be replayed.

use candle_core::{Device, Tensor};

use super::*;
use crate::Error;
use crate::decode::toy::{self, Script, Toy, pick};
use crate::decode::{GreedyConfig, Step, greedy};

const SOS: u32 = 0;
const EOS: u32 = 1;
const A: u32 = 2;
const B: u32 = 3;
const V: usize = 5;

/// Row seeds: the memory of [`Tree`].
#[derive(Clone, Debug)]
struct Seeds(Vec<u64>);

/// Tokens fed so far (after `<sos>`): the state of [`Tree`].
#[derive(Clone, Debug)]
struct Prefixes(Vec<Vec<u32>>);

impl Batched for Seeds {
    fn batch_size(&self) -> usize {
        self.0.len()
    }
    fn select(&self, idx: &Tensor) -> Result<Self> {
        Ok(Seeds(pick(&self.0, idx)?))
    }
}

impl Batched for Prefixes {
    fn batch_size(&self) -> usize {
        self.0.len()
    }
    fn select(&self, idx: &Tensor) -> Result<Self> {
        Ok(Prefixes(pick(&self.0, idx)?))
    }
}

/// A decoder whose next-token distribution is `dist(seed, prefix)` (over `V`
/// tokens) and whose attention row is [`attn`] of the same.
struct Tree {
    dist: fn(u64, &[u32]) -> [f32; V],
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hash(seed: u64, prefix: &[u32]) -> u64 {
    prefix.iter().fold(mix(seed), |h, &t| mix(h ^ u64::from(t)))
}

fn attn(seed: u64, prefix: &[u32]) -> Vec<f32> {
    vec![
        prefix.len() as f32,
        (hash(seed, prefix) % 1000) as f32,
        seed as f32,
    ]
}

/// Peaky pseudo-random distributions; `<sos>` is never produced.
fn random_dist(seed: u64, prefix: &[u32]) -> [f32; V] {
    let mut h = hash(seed, prefix);
    let mut p = [0.0f32; V];
    for w in p.iter_mut().skip(1) {
        h = mix(h);
        let u = (h >> 11) as f32 / (1u64 << 53) as f32;
        *w = 0.02 + u * u * u;
    }
    let z: f32 = p.iter().sum();
    p.map(|w| w / z)
}

impl StepDecoder for Tree {
    type Memory = Seeds;
    type State = Prefixes;

    fn start(&self, memory: &Seeds) -> Result<Prefixes> {
        Ok(Prefixes(vec![Vec::new(); memory.0.len()]))
    }

    fn step(&self, tokens: &Tensor, state: &Prefixes, memory: &Seeds) -> Result<Step<Prefixes>> {
        let fed = tokens.to_vec1::<u32>()?;
        let mut next = Vec::new();
        let (mut lp, mut att) = (Vec::new(), Vec::new());
        for ((prefix, &seed), &tok) in state.0.iter().zip(&memory.0).zip(&fed) {
            let mut p = prefix.clone();
            if tok != SOS {
                p.push(tok);
            }
            lp.extend((self.dist)(seed, &p).map(f32::ln));
            att.extend(attn(seed, &p));
            next.push(p);
        }
        let n = next.len();
        Ok(Step {
            log_probs: Tensor::from_vec(lp, (n, V), &Device::Cpu)?,
            state: Prefixes(next),
            attention: Some(Tensor::from_vec(att, (n, 3), &Device::Cpu)?),
        })
    }

    fn device(&self) -> &Device {
        &Device::Cpu
    }
}

fn cfg(size: usize, alpha: f64, n_best: usize, extra: usize) -> BeamConfig {
    BeamConfig {
        specials: Specials { sos: SOS, eos: EOS },
        limit: LengthLimit { ratio: 1.0, extra },
        options: BeamOptions {
            size,
            alpha,
            n_best,
        },
    }
}

/// Replays `h` through the tree: its log-probability, length, score and
/// attention rows must be those of its tokens.
fn check_replay(tree: &Tree, seed: u64, h: &Hypothesis, alpha: f64) {
    let emitted: Vec<u32> = h
        .tokens
        .iter()
        .copied()
        .chain(h.finished.then_some(EOS))
        .collect();
    let mut lp = 0.0;
    for (t, &tok) in emitted.iter().enumerate() {
        let prefix = &h.tokens[..t];
        lp += f64::from((tree.dist)(seed, prefix)[tok as usize].ln());
        assert_eq!(
            h.attention[t],
            attn(seed, prefix),
            "attention row {t} of {h:?}"
        );
    }
    assert_eq!(h.attention.len(), emitted.len());
    assert!((h.log_prob - lp).abs() < 1e-9, "{} vs {lp}", h.log_prob);
    let score = h.log_prob / length_penalty(alpha, emitted.len());
    assert!((h.score - score).abs() < 1e-12);
}

/// Greedy takes A (0.5) and ends with A·A·<eos> (0.1575); B·<eos> is 0.36.
fn garden_path(_seed: u64, prefix: &[u32]) -> [f32; V] {
    match prefix {
        [] => [0.0, 0.05, 0.5, 0.4, 0.05],
        [A] => [0.0, 0.1, 0.35, 0.3, 0.25],
        _ => [0.0, 0.9, 0.04, 0.03, 0.03],
    }
}

fn greedy_cfg(extra: usize) -> GreedyConfig {
    let c = cfg(1, 0.0, 1, extra);
    GreedyConfig {
        specials: c.specials,
        limit: c.limit,
    }
}

#[test]
fn a_wider_beam_escapes_the_garden_path_and_beam_1_is_greedy() -> Result<()> {
    let tree = Tree { dist: garden_path };
    let seeds = Seeds(vec![0]);
    let g = greedy(&tree, &seeds, &[2], &greedy_cfg(2))?;
    assert_eq!(g[0].tokens, [A, A]);
    let one = beam_search(&tree, &seeds, &[2], &cfg(1, 0.0, 1, 2))?;
    assert_eq!(one[0], vec![g[0].clone()]);
    let two = beam_search(&tree, &seeds, &[2], &cfg(2, 0.0, 2, 2))?;
    assert_eq!(two[0][0].tokens, [B]);
    assert!(two[0][0].log_prob > g[0].log_prob);
    for h in &two[0] {
        check_replay(&tree, 0, h, 0.0);
    }
    Ok(())
}

#[test]
fn beam_1_equals_greedy_on_random_trees_and_the_script_toy() -> Result<()> {
    let tree = Tree { dist: random_dist };
    let seeds = Seeds((0..12).collect());
    let lens: Vec<usize> = (0..12).map(|i| i % 4).collect();
    let g = greedy(&tree, &seeds, &lens, &greedy_cfg(3))?;
    let b = beam_search(&tree, &seeds, &lens, &cfg(1, 0.0, 1, 3))?;
    assert_eq!(b, g.into_iter().map(|h| vec![h]).collect::<Vec<_>>());
    let toy = Toy {
        confidence: 0.3,
        device: Device::Cpu,
    };
    let script = Script(vec![vec![2, 3, 4], vec![5], vec![], vec![6, 7, 2, 3, 4, 5]]);
    let lens = [3, 1, 0, 2];
    let g = greedy(&toy, &script, &lens, &greedy_cfg(2))?;
    let b = beam_search(&toy, &script, &lens, &cfg(1, 0.0, 1, 2))?;
    assert_eq!(b, g.into_iter().map(|h| vec![h]).collect::<Vec<_>>());
    // The last row ran out of budget.
    assert!(!b[3][0].finished);
    assert_eq!(toy::EOS, EOS);
    Ok(())
}

/// All outputs within `budget` steps, scored, best first (stable on ties).
fn exhaustive(tree: &Tree, seed: u64, budget: usize, alpha: f64) -> Vec<Hypothesis> {
    let mut all = Vec::new();
    let mut frontier = vec![(Vec::<u32>::new(), 0.0f64)];
    for len in 1..=budget {
        let mut grown = Vec::new();
        for (prefix, lp) in frontier {
            let p = (tree.dist)(seed, &prefix);
            for tok in 1..V as u32 {
                let l = lp + f64::from(p[tok as usize].ln());
                if tok == EOS || len == budget {
                    let mut tokens = prefix.clone();
                    if tok != EOS {
                        tokens.push(tok);
                    }
                    all.push(Hypothesis {
                        tokens,
                        log_prob: l,
                        score: l / length_penalty(alpha, len),
                        finished: tok == EOS,
                        attention: Vec::new(),
                    });
                } else {
                    let mut q = prefix.clone();
                    q.push(tok);
                    grown.push((q, l));
                }
            }
        }
        frontier = grown;
    }
    all.sort_by(|a, b| b.score.total_cmp(&a.score));
    all
}

#[test]
fn a_beam_wide_enough_for_everything_finds_the_exhaustive_best() -> Result<()> {
    let tree = Tree { dist: random_dist };
    // Budget 4 (ratio 1 · 1 + 3): at most 3^4 = 81 live beams.
    let seeds = Seeds(vec![3, 17, 40]);
    for alpha in [0.0, 0.6, 2.0] {
        let got = beam_search(&tree, &seeds, &[1, 1, 1], &cfg(81, alpha, 8, 3))?;
        for (&seed, hyps) in seeds.0.iter().zip(&got) {
            let want = exhaustive(&tree, seed, 4, alpha);
            assert_eq!(hyps.len(), 8);
            for (h, w) in hyps.iter().zip(&want) {
                assert_eq!(
                    (&h.tokens, h.finished),
                    (&w.tokens, w.finished),
                    "α {alpha}"
                );
                assert!((h.score - w.score).abs() < 1e-9);
                check_replay(&tree, seed, h, alpha);
            }
        }
    }
    Ok(())
}

/// `<eos>` at once (0.5) against A·A·A·<eos> (0.45 · 0.98³ ≈ 0.42).
fn long_or_short(_seed: u64, prefix: &[u32]) -> [f32; V] {
    match prefix {
        [] => [0.0, 0.5, 0.45, 0.03, 0.02],
        [A] | [A, A] => [0.0, 0.01, 0.98, 0.005, 0.005],
        [A, A, A] => [0.0, 0.98, 0.01, 0.005, 0.005],
        _ => [0.0, 0.9, 0.04, 0.03, 0.03],
    }
}

#[test]
fn the_length_penalty_changes_the_winner() -> Result<()> {
    let tree = Tree {
        dist: long_or_short,
    };
    let seeds = Seeds(vec![0]);
    let raw = beam_search(&tree, &seeds, &[2], &cfg(2, 0.0, 2, 4))?;
    assert_eq!(raw[0][0].tokens, Vec::<u32>::new());
    assert_eq!(raw[0][1].tokens, [A, A, A]);
    let pen = beam_search(&tree, &seeds, &[2], &cfg(2, 1.0, 2, 4))?;
    assert_eq!(pen[0][0].tokens, [A, A, A]);
    assert_eq!(pen[0][1].tokens, Vec::<u32>::new());
    // Same hypotheses, same raw log-probabilities; only the ranking moved.
    assert_eq!(pen[0][0].log_prob, raw[0][1].log_prob);
    for h in raw[0].iter().chain(&pen[0]) {
        assert!(h.finished);
    }
    check_replay(&tree, 0, &pen[0][0], 1.0);
    Ok(())
}

/// `<eos>` at once (0.55) against A⁵·<eos> (0.44 · 0.99⁵): with α = 1 the
/// long one wins, though one step ahead A·A still looks worse than `<eos>`.
fn far_winner(_seed: u64, prefix: &[u32]) -> [f32; V] {
    let near_one = [0.0, 0.0033, 0.99, 0.0033, 0.0034];
    match prefix {
        [] => [0.0, 0.55, 0.44, 0.005, 0.005],
        p if p.len() < 5 && p.iter().all(|&t| t == A) => near_one,
        [A, A, A, A, A] => [0.0, 0.99, 0.0033, 0.0033, 0.0034],
        _ => [0.0, 0.9, 0.04, 0.03, 0.03],
    }
}

#[test]
fn early_stopping_keeps_a_winner_that_only_pays_off_late() -> Result<()> {
    let tree = Tree { dist: far_winner };
    // Budget 3 + 4 = 7 steps.
    let got = beam_search(&tree, &Seeds(vec![0]), &[3], &cfg(2, 1.0, 1, 4))?;
    let want = exhaustive(&tree, 0, 7, 1.0);
    assert_eq!(got[0][0].tokens, want[0].tokens);
    assert_eq!(got[0][0].tokens, [A; 5]);
    assert!((got[0][0].score - want[0].score).abs() < 1e-9);
    Ok(())
}

#[test]
fn a_batch_equals_each_row_alone_and_n_best_is_sorted_and_distinct() -> Result<()> {
    let tree = Tree { dist: random_dist };
    let seeds = Seeds(vec![5, 6, 7, 8, 9]);
    // Different budgets (ratio 1 · len + 2), so rows leave at different steps.
    let lens = [0, 4, 1, 6, 2];
    for (k, alpha, n_best) in [(3, 0.0, 3), (4, 0.8, 2), (2, 0.6, 1)] {
        let c = cfg(k, alpha, n_best, 2);
        let batch = beam_search(&tree, &seeds, &lens, &c)?;
        for (i, hyps) in batch.iter().enumerate() {
            let alone = beam_search(&tree, &Seeds(vec![seeds.0[i]]), &[lens[i]], &c)?;
            assert_eq!(hyps, &alone[0], "row {i}, K {k}");
            assert_eq!(hyps.len(), n_best);
            for pair in hyps.windows(2) {
                assert!(pair[0].score >= pair[1].score);
                assert_ne!(pair[0].tokens, pair[1].tokens);
            }
            for h in hyps {
                check_replay(&tree, seeds.0[i], h, alpha);
                assert!(h.attention.len() <= lens[i] + 2);
            }
        }
    }
    Ok(())
}

/// Records the batch size of every step it is asked to take.
struct Counting {
    tree: Tree,
    sizes: std::cell::RefCell<Vec<usize>>,
}

impl StepDecoder for Counting {
    type Memory = Seeds;
    type State = Prefixes;

    fn start(&self, memory: &Seeds) -> Result<Prefixes> {
        self.tree.start(memory)
    }

    fn step(&self, tokens: &Tensor, state: &Prefixes, memory: &Seeds) -> Result<Step<Prefixes>> {
        assert_eq!(memory.batch_size(), state.batch_size());
        self.sizes.borrow_mut().push(state.batch_size());
        self.tree.step(tokens, state, memory)
    }

    fn device(&self) -> &Device {
        &Device::Cpu
    }
}

#[test]
fn finished_rows_leave_the_batch() -> Result<()> {
    let model = Counting {
        tree: Tree { dist: random_dist },
        sizes: Default::default(),
    };
    // Budgets 1, 3 and 9 steps: the batch must shrink by K rows at a time.
    let lens = [0, 2, 8];
    let got = beam_search(&model, &Seeds(vec![1, 2, 3]), &lens, &cfg(3, 0.0, 1, 1))?;
    let sizes = model.sizes.borrow();
    assert_eq!(sizes[0], 9);
    assert!(sizes.windows(2).all(|w| w[1] <= w[0]), "{sizes:?}");
    assert!(sizes.iter().all(|s| s % 3 == 0));
    assert_eq!(
        sizes[1], 6,
        "the 1-step row is done after step 0: {sizes:?}"
    );
    assert!(sizes.len() <= 9 && got.iter().all(|h| h.len() == 1));
    Ok(())
}

#[test]
fn invalid_options_are_config_errors() {
    let tree = Tree { dist: random_dist };
    let seeds = Seeds(vec![1]);
    for (k, alpha, n_best) in [
        (0, 0.0, 0),
        (2, 0.0, 3),
        (2, 0.0, 0),
        (2, -0.1, 1),
        (2, f64::NAN, 1),
    ] {
        let err = beam_search(&tree, &seeds, &[1], &cfg(k, alpha, n_best, 1));
        assert!(matches!(err, Err(Error::Config(_))), "{k} {alpha} {n_best}");
    }
    assert!(beam_search(&tree, &seeds, &[1, 2], &cfg(2, 0.0, 1, 1)).is_err());
    let opts: BeamOptions = serde_json::from_str(r#"{"size": 4, "alpha": 1.0}"#).unwrap();
    assert_eq!((opts.size, opts.alpha, opts.n_best), (4, 1.0, 1));
    assert!(serde_json::from_str::<BeamOptions>(r#"{"beam": 4}"#).is_err());
}

/// The one-pass selection equals sorting every candidate under the same
/// order (score, then beam, then token) and taking the first `n`: with many
/// tied scores, empty slots, −∞ and NaN log-probabilities, and `n` above
/// the number of candidates.
#[test]
fn top_candidates_equal_a_full_sort() {
    let values = [
        -0.5f32,
        -1.0,
        -1.0,
        -2.5,
        f32::NEG_INFINITY,
        f32::NAN,
        -0.25,
    ];
    let mut x = 7u64;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as usize
    };
    for (beams, vocab) in [(1, 5), (3, 40), (5, 300)] {
        let log_probs: Vec<Vec<f32>> = (0..beams)
            .map(|_| (0..vocab).map(|_| values[next() % values.len()]).collect())
            .collect();
        let mut cum: Vec<f64> = (0..beams).map(|b| -(b as f64) * 0.5).collect();
        if beams > 1 {
            cum[1] = f64::NEG_INFINITY;
        }
        let mut all = Vec::new();
        for (b, (row, &c)) in log_probs.iter().zip(&cum).enumerate() {
            for (t, &l) in row.iter().enumerate() {
                let s = c + f64::from(l);
                if s.is_finite() {
                    all.push((s, b, t as u32));
                }
            }
        }
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        for n in [0, 1, 2, 10, all.len() + 3] {
            let want: Vec<_> = all.iter().take(n).copied().collect();
            assert_eq!(
                top_candidates(&log_probs, &cum, n),
                want,
                "{beams}×{vocab}, n {n}"
            );
        }
    }
}
