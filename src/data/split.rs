//! Seeded train/valid/test splits, plain or stratified by label. The same
//! seed gives the same split on every machine: `StdRng::seed_from_u64` and
//! `SliceRandom::shuffle` are deterministic for a seed.

use std::collections::HashMap;
use std::hash::Hash;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Fractions of the data for each part; they must add up to 1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// Training fraction.
    pub train: f64,
    /// Validation fraction.
    pub valid: f64,
    /// Test fraction.
    pub test: f64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            train: 0.8,
            valid: 0.1,
            test: 0.1,
        }
    }
}

impl SplitConfig {
    /// Checks that the fractions are in `[0, 1]` and add up to 1.
    pub fn validate(&self) -> Result<()> {
        let parts = [self.train, self.valid, self.test];
        if parts.iter().any(|f| !(0.0..=1.0).contains(f))
            || (parts.iter().sum::<f64>() - 1.0).abs() > 1e-6
        {
            return Err(Error::Config(format!(
                "split fractions must be between 0 and 1 and add up to 1, got train {} valid {} test {}",
                self.train, self.valid, self.test
            )));
        }
        Ok(())
    }

    /// `valid` and `test` fractions held out, the rest for training.
    pub fn holding_out(valid: f64, test: f64) -> Self {
        SplitConfig {
            train: 1.0 - valid - test,
            valid,
            test,
        }
    }

    /// Sizes of the three parts of `n` items: train and valid rounded to the
    /// nearest integer, test the rest.
    fn sizes(&self, n: usize) -> (usize, usize) {
        let train = ((n as f64 * self.train).round() as usize).min(n);
        let valid = ((n as f64 * self.valid).round() as usize).min(n - train);
        (train, valid)
    }
}

/// Indices of the examples in each part.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// Training examples.
    pub train: Vec<usize>,
    /// Validation examples.
    pub valid: Vec<usize>,
    /// Test examples.
    pub test: Vec<usize>,
}

/// Shuffles `0..n` with `seed` and cuts it by the fractions of `cfg`.
pub fn split(n: usize, cfg: &SplitConfig, seed: u64) -> Result<Split> {
    cfg.validate()?;
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut StdRng::seed_from_u64(seed));
    let (train, valid) = cfg.sizes(n);
    let test = idx.split_off(train + valid);
    let valid = idx.split_off(train);
    Ok(Split {
        train: idx,
        valid,
        test,
    })
}

/// Splits each label's examples by the fractions of `cfg`, so every part has
/// (up to rounding) the label proportions of the whole; each part is then
/// shuffled so labels are interleaved.
pub fn stratified_split<L: Eq + Hash>(labels: &[L], cfg: &SplitConfig, seed: u64) -> Result<Split> {
    cfg.validate()?;
    let mut rng = StdRng::seed_from_u64(seed);
    // Groups in order of first appearance, not hash order, for determinism.
    let mut group_of: HashMap<&L, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        let next = groups.len();
        let g = *group_of.entry(l).or_insert(next);
        if g == next {
            groups.push(Vec::new());
        }
        groups[g].push(i);
    }
    let mut out = Split::default();
    for mut g in groups {
        g.shuffle(&mut rng);
        let (train, valid) = cfg.sizes(g.len());
        out.test.extend_from_slice(&g[train + valid..]);
        out.valid.extend_from_slice(&g[train..train + valid]);
        out.train.extend_from_slice(&g[..train]);
    }
    out.train.shuffle(&mut rng);
    out.valid.shuffle(&mut rng);
    out.test.shuffle(&mut rng);
    Ok(out)
}

/// The stratified split of the PyTorch reference scripts
/// (`shared/bench/classify_torch.py`): for each label in sorted order, its
/// examples (in file order) shuffled by a fresh `random.Random(seed)` and cut
/// at `round(n · cumulative fraction)` (Python's round half to even); the
/// parts hold the labels one after another. With the script's seed, both
/// train and score on exactly the same examples.
pub fn python_stratified_split(labels: &[&str], cfg: &SplitConfig, seed: u64) -> Result<Split> {
    cfg.validate()?;
    let mut classes: Vec<&str> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let mut out = Split::default();
    for class in classes {
        let idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        let order: Vec<usize> = super::python_shuffled(idx.len(), seed)
            .into_iter()
            .map(|j| idx[j])
            .collect();
        let n = order.len() as f64;
        // Python sums the fractions left to right: sum(fractions[:k + 1]).
        let cut = |f: f64| ((n * f).round_ties_even() as usize).min(order.len());
        let a = cut(cfg.train);
        let b = cut(cfg.train + cfg.valid).max(a);
        out.train.extend_from_slice(&order[..a]);
        out.valid.extend_from_slice(&order[a..b]);
        out.test.extend_from_slice(&order[b..]);
    }
    Ok(out)
}

/// Assigns each of `labels` to one of `k` folds for cross-validation,
/// stratified: each class's examples (classes in sorted order, each in file
/// order) are shuffled with `seed` and dealt to the folds in turn, the deal
/// going on from class to class, so every fold holds each class's share up
/// to one example and fold sizes differ by at most one. Returns the fold of
/// each example.
pub fn stratified_folds(labels: &[&str], k: usize, seed: u64) -> Result<Vec<usize>> {
    if k < 2 || k > labels.len() {
        return Err(Error::Config(format!(
            "cross-validation needs between 2 and {} folds (one example each at least), got {k}",
            labels.len()
        )));
    }
    let mut classes: Vec<&str> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let mut fold = vec![0; labels.len()];
    let mut next = 0;
    for class in classes {
        let idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        for j in super::python_shuffled(idx.len(), seed) {
            fold[idx[j]] = next;
            next = (next + 1) % k;
        }
    }
    Ok(fold)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(s: &Split) -> Vec<usize> {
        let mut all = [s.train.clone(), s.valid.clone(), s.test.clone()].concat();
        all.sort_unstable();
        all
    }

    #[test]
    fn split_is_a_seeded_partition() {
        let cfg = SplitConfig::default();
        let a = split(1000, &cfg, 7).unwrap();
        assert_eq!(
            (a.train.len(), a.valid.len(), a.test.len()),
            (800, 100, 100)
        );
        assert_eq!(sorted(&a), (0..1000).collect::<Vec<_>>());
        assert_eq!(a, split(1000, &cfg, 7).unwrap());
        assert_ne!(a.train, split(1000, &cfg, 8).unwrap().train);
        let bad = SplitConfig {
            train: 0.9,
            valid: 0.2,
            test: 0.1,
        };
        assert!(matches!(split(10, &bad, 0), Err(Error::Config(_))));
        let e = split(0, &cfg, 0).unwrap();
        assert!(e.train.is_empty() && e.test.is_empty());
    }

    #[test]
    fn stratified_keeps_proportions() {
        // 300 "a", 100 "b", 50 "c", interleaved.
        let labels: Vec<&str> = (0..450)
            .map(|i| {
                if i % 9 == 0 {
                    "c"
                } else if i % 9 < 3 {
                    "b"
                } else {
                    "a"
                }
            })
            .collect();
        let cfg = SplitConfig {
            train: 0.6,
            valid: 0.2,
            test: 0.2,
        };
        let s = stratified_split(&labels, &cfg, 3).unwrap();
        let count = |part: &[usize], l: &str| part.iter().filter(|&&i| labels[i] == l).count();
        assert_eq!(
            (
                count(&s.train, "a"),
                count(&s.valid, "a"),
                count(&s.test, "a")
            ),
            (180, 60, 60)
        );
        assert_eq!(
            (
                count(&s.train, "b"),
                count(&s.valid, "b"),
                count(&s.test, "b")
            ),
            (60, 20, 20)
        );
        assert_eq!(
            (
                count(&s.train, "c"),
                count(&s.valid, "c"),
                count(&s.test, "c")
            ),
            (30, 10, 10)
        );
        assert_eq!(sorted(&s), (0..450).collect::<Vec<_>>());
        assert_eq!(s, stratified_split(&labels, &cfg, 3).unwrap());
        // Parts are shuffled, not grouped by label.
        assert!(
            s.train[..20]
                .iter()
                .any(|&i| labels[i] != labels[s.train[0]])
        );
    }

    /// Checked against the reference script's `stratified_split` in CPython
    /// 3.11: labels `b a b a a b b a` with (0.5, 0.25, 0.25), seed 0.
    #[test]
    fn python_stratified_matches_the_reference_script() {
        let labels = ["b", "a", "b", "a", "a", "b", "b", "a"];
        let cfg = SplitConfig {
            train: 0.5,
            valid: 0.25,
            test: 0.25,
        };
        let s = python_stratified_split(&labels, &cfg, 0).unwrap();
        assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (4, 2, 2));
        assert_eq!(sorted(&s), (0..8).collect::<Vec<_>>());
        assert_eq!(s.train, [4, 1, 5, 0]);
        assert_eq!(s.valid, [3, 2]);
        assert_eq!(s.test, [7, 6]);
    }

    #[test]
    fn folds_are_stratified_disjoint_and_cover_every_row_once() {
        // 3 classes of 23, 11 and 6 examples, interleaved.
        let labels: Vec<&str> = (0..40)
            .map(|i| match i % 7 {
                0 | 3 => "b",
                5 => "c",
                _ => "a",
            })
            .collect();
        let k = 5;
        let folds = stratified_folds(&labels, k, 3).unwrap();
        assert_eq!(folds.len(), labels.len());
        // Each row has one fold, so the folds are disjoint and cover all.
        let sizes: Vec<usize> = (0..k)
            .map(|f| folds.iter().filter(|&&x| x == f).count())
            .collect();
        assert_eq!(sizes.iter().sum::<usize>(), 40);
        assert!(
            sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1,
            "{sizes:?}"
        );
        for class in ["a", "b", "c"] {
            let n = labels.iter().filter(|&&l| l == class).count();
            for f in 0..k {
                let in_fold = (0..40)
                    .filter(|&i| folds[i] == f && labels[i] == class)
                    .count();
                let share = n as f64 / k as f64;
                assert!(
                    (in_fold as f64 - share).abs() < 1.0,
                    "{class} in fold {f}: {in_fold} of {n}"
                );
            }
        }
        assert_eq!(folds, stratified_folds(&labels, k, 3).unwrap(), "seeded");
        assert_ne!(folds, stratified_folds(&labels, k, 4).unwrap());
        assert!(stratified_folds(&labels, 1, 0).is_err());
        assert!(stratified_folds(&labels[..3], 4, 0).is_err());
    }
}
