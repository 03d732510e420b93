//! The random parts of word2vec (Mikolov et al., 2013, "Distributed
//! Representations of Words and Phrases and their Compositionality"):
//! frequent-word subsampling, the unigram^0.75 noise distribution of
//! negative sampling, random window shrinking, and the sigmoid table of
//! the C tool.

use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

/// The chance that subsampling keeps one occurrence of a word seen `count`
/// times among `total` training words, with threshold `sample` — the C
/// tool's formula (also gensim's): `(√(f/s) + 1) · s/f` with `f = count /
/// total`, capped at 1. `sample = 0` keeps everything.
pub fn keep_probability(count: u64, total: u64, sample: f64) -> f64 {
    if sample <= 0.0 || count == 0 {
        return 1.0;
    }
    let threshold = sample * total as f64;
    let c = count as f64;
    (((c / threshold).sqrt() + 1.0) * threshold / c).min(1.0)
}

/// Keep probabilities as thresholds on a uniform `u32`, as gensim stores
/// them: an occurrence survives when a fresh random `u32` is below
/// `keep · 2³²` (kept always at probability 1).
pub fn keep_thresholds(counts: &[u64], sample: f64) -> Vec<u64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&c| (keep_probability(c, total, sample) * 4_294_967_296.0).round() as u64)
        .collect()
}

/// The noise distribution of negative sampling: `P(w) ∝ count(w)^power`
/// (power 0.75 in the C tool and gensim), drawn in O(1) by Walker's alias
/// method (Vose's construction). The C tool fills a 10⁸-entry table, an
/// approximation of the same distribution costing 400 MB; gensim
/// binary-searches a cumulative table; the alias table is exact and small
/// enough (8 bytes a word) to stay in cache.
#[derive(Clone, Debug)]
pub struct NoiseTable {
    /// Per slot: the chance (× 2³²) of keeping the slot's own word, and the
    /// word taken otherwise.
    slots: Vec<(u32, u32)>,
}

impl NoiseTable {
    /// The table for word counts `counts` (indexed by word id).
    ///
    /// Panics never; an all-zero `counts` gives a uniform table.
    pub fn new(counts: &[u64], power: f64) -> Self {
        let n = counts.len();
        let weights: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(power)).collect();
        let sum: f64 = weights.iter().sum();
        let scaled: Vec<f64> = if sum > 0.0 {
            weights.iter().map(|w| w * n as f64 / sum).collect()
        } else {
            vec![1.0; n]
        };
        let mut prob = vec![1.0f64; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        let mut p = scaled;
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            prob[s] = p[s];
            alias[s] = l as u32;
            p[l] -= 1.0 - p[s];
            if p[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // What is left (rounding) keeps its own slot with probability 1.
        let slots = prob
            .iter()
            .zip(alias)
            .map(|(&q, a)| {
                (
                    if q >= 1.0 {
                        u32::MAX
                    } else {
                        (q * 4_294_967_296.0) as u32
                    },
                    a,
                )
            })
            .collect();
        NoiseTable { slots }
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the table has no words.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The probability the table gives word `w` (for tests and reports).
    pub fn probability(&self, w: usize) -> f64 {
        let keep = |q: u32| {
            if q == u32::MAX {
                1.0
            } else {
                q as f64 / 4_294_967_296.0
            }
        };
        let own = keep(self.slots[w].0);
        let borrowed: f64 = self
            .slots
            .iter()
            .enumerate()
            .filter(|&(s, &(_, a))| s != w && a as usize == w)
            .map(|(_, &(q, _))| 1.0 - keep(q))
            .sum();
        (own + borrowed) / self.slots.len() as f64
    }

    /// One draw, from one 64-bit random number: the high half picks the
    /// slot, the low half decides between the slot and its alias.
    #[inline(always)]
    pub fn draw(&self, r: u64) -> usize {
        let slot = (((r >> 32) * self.slots.len() as u64) >> 32) as usize;
        let (keep, alias) = self.slots[slot];
        if (r as u32) < keep || keep == u32::MAX {
            slot
        } else {
            alias as usize
        }
    }
}

/// The fast random source of one training thread.
pub struct ThreadRng(SmallRng);

impl ThreadRng {
    /// Thread `thread` of a run seeded `seed`: threads get independent streams.
    pub fn new(seed: u64, thread: usize) -> Self {
        ThreadRng(SmallRng::seed_from_u64(
            seed ^ (thread as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ))
    }

    /// 64 random bits.
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A uniform `u32`.
    #[inline(always)]
    pub fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// The reach of one window: the C tool draws `b` in `0..window` and uses
    /// `window − b` words on each side, so reaches 1..=window are equally
    /// likely and near words are trained more often than far ones.
    #[inline(always)]
    pub fn reach(&mut self, window: usize) -> usize {
        window - self.0.random_range(0..window)
    }

    /// A uniform float in `[−1, 1) / dim`: the initial input vectors of
    /// gensim 4 and fastText (the C tool's range is half as wide; with it,
    /// CBOW on text8 scored about half a point lower, BENCHMARKS.md).
    pub fn init(&mut self, dim: usize) -> f32 {
        (self.0.random::<f32>() * 2.0 - 1.0) / dim as f32
    }
}

/// The table covers logits in `(−MAX_EXP, MAX_EXP)` (C tool: `MAX_EXP 6`).
pub const MAX_EXP: f32 = 6.0;
const TABLE_SIZE: usize = 1000;

/// The C tool's sigmoid table — `σ` at 1000 points over `[−6, 6)` — with
/// `ln σ` and `ln(1 − σ)` beside it for the loss. Lookups truncate as the
/// C tool does, so gradients are the tool's, not an exact sigmoid's.
pub struct SigmoidTable {
    sigmoid: [f32; TABLE_SIZE],
    log_sigmoid: [f32; TABLE_SIZE],
    /// `ln(1 − σ)` at the same points.
    log_complement: [f32; TABLE_SIZE],
}

impl Default for SigmoidTable {
    fn default() -> Self {
        Self::new()
    }
}

impl SigmoidTable {
    /// Builds the table exactly as `expTable` in word2vec.c.
    pub fn new() -> Self {
        let mut sigmoid = [0f32; TABLE_SIZE];
        let mut log_sigmoid = [0f32; TABLE_SIZE];
        let mut log_complement = [0f32; TABLE_SIZE];
        for i in 0..TABLE_SIZE {
            let e = ((i as f32 / TABLE_SIZE as f32 * 2.0 - 1.0) * MAX_EXP).exp();
            sigmoid[i] = e / (e + 1.0);
            log_sigmoid[i] = sigmoid[i].ln();
            log_complement[i] = (1.0 / (e + 1.0)).ln();
        }
        SigmoidTable {
            sigmoid,
            log_sigmoid,
            log_complement,
        }
    }

    #[inline(always)]
    fn index(f: f32) -> usize {
        (((f + MAX_EXP) * (TABLE_SIZE as f32 / MAX_EXP / 2.0)) as usize).min(TABLE_SIZE - 1)
    }

    /// The gradient factor `label − σ(f)` and the loss `−ln P(label)`, or
    /// `None` when `f` is outside the table's range: no update then, as in
    /// gensim (for both of its output layers) and the C tool's hierarchical
    /// softmax. (The C tool's negative sampling instead saturates σ to 0
    /// or 1 there, pushing a noise word with a huge logit by the full
    /// learning rate; in CBOW on text8 that scored about half a point
    /// lower, BENCHMARKS.md.)
    #[inline(always)]
    pub fn gradient(&self, label: f32, f: f32) -> Option<(f32, f32)> {
        if f <= -MAX_EXP || f >= MAX_EXP {
            return None;
        }
        let i = Self::index(f);
        let loss = if label > 0.5 {
            -self.log_sigmoid[i]
        } else {
            -self.log_complement[i]
        };
        Some((label - self.sigmoid[i], loss))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsampling_matches_the_c_formula() {
        // f = 0.01, s = 0.001: (√10 + 1) · 0.1 = 0.416227766…
        let p = keep_probability(1_000, 100_000, 1e-3);
        assert!((p - 0.416_227_766_016_838).abs() < 1e-12, "{p}");
        // f = s: (1 + 1) · 1 → capped at 1.
        assert_eq!(keep_probability(100, 100_000, 1e-3), 1.0);
        // f = 0.1, s = 1e-5: (√10⁴ + 1) · 10⁻⁴ = 0.0101.
        let p = keep_probability(10_000, 100_000, 1e-5);
        assert!((p - 0.0101).abs() < 1e-12, "{p}");
        assert_eq!(keep_probability(10_000, 100_000, 0.0), 1.0);
        let t = keep_thresholds(&[10_000, 90_000], 1e-5);
        assert_eq!(t[0], (0.0101f64 * 4_294_967_296.0).round() as u64);
    }

    #[test]
    fn noise_table_is_unigram_to_the_three_quarters() {
        // Counts 16, 81, 1 → weights 8, 27, 1 (x^0.75), sum 36.
        let t = NoiseTable::new(&[16, 81, 1], 0.75);
        for (w, want) in [8.0 / 36.0, 27.0 / 36.0, 1.0 / 36.0]
            .into_iter()
            .enumerate()
        {
            assert!(
                (t.probability(w) - want).abs() < 1e-9,
                "{w}: {}",
                t.probability(w)
            );
        }
        // Empirically too, through `draw`.
        let mut rng = ThreadRng::new(7, 0);
        let mut seen = [0usize; 3];
        let n = 360_000;
        for _ in 0..n {
            seen[t.draw(rng.next_u64())] += 1;
        }
        for (w, want) in [8.0 / 36.0, 27.0 / 36.0, 1.0 / 36.0]
            .into_iter()
            .enumerate()
        {
            let got = seen[w] as f64 / n as f64;
            assert!((got - want).abs() < 0.004, "{w}: {got} vs {want}");
        }
        // Power 0: uniform.
        let t = NoiseTable::new(&[5, 500, 50_000, 1], 0.0);
        for w in 0..4 {
            assert!((t.probability(w) - 0.25).abs() < 1e-9);
        }
    }

    #[test]
    fn window_reaches_are_uniform_in_one_to_window() {
        let mut rng = ThreadRng::new(1, 0);
        let mut seen = [0usize; 6];
        for _ in 0..50_000 {
            let r = rng.reach(5);
            assert!((1..=5).contains(&r));
            seen[r] += 1;
        }
        assert_eq!(seen[0], 0);
        for &c in &seen[1..] {
            assert!((c as f64 / 10_000.0 - 1.0).abs() < 0.05, "{seen:?}");
        }
        assert_eq!(rng.reach(1), 1);
    }

    #[test]
    fn sigmoid_table_is_the_c_tools() {
        let t = SigmoidTable::new();
        // f = 0 truncates to entry 500, σ(0) = 0.5.
        let (g, l) = t.gradient(1.0, 0.0).unwrap();
        assert!((g - 0.5).abs() < 1e-6 && (l - 2f32.ln()).abs() < 1e-6);
        // f = 1.0 → index (7 · 1000/12) = 583 → σ((583/500 − 1)·6) = σ(0.996).
        let want = 1.0 / (1.0 + (-0.996f32).exp());
        assert!(t.gradient(1.0, 6.0).is_none() && t.gradient(0.0, -7.0).is_none());
        let (g, l) = t.gradient(1.0, 1.0).unwrap();
        assert!((g - (1.0 - want)).abs() < 1e-6 && (l + want.ln()).abs() < 1e-6);
        let (g, l) = t.gradient(0.0, 1.0).unwrap();
        assert!(
            (g + want).abs() < 1e-6 && (l + (1.0 - want).ln()).abs() < 1e-5,
            "{l}"
        );
    }
}
