//! Batches (DESIGN §3): which examples go together, and padding them into
//! batch-first tensors.
//!
//! [`Batcher`] orders examples per epoch. With bucketing it sorts by length
//! within pools of `pool_batches` batches, cuts the pools into batches and
//! shuffles the batch order, so a batch holds similar lengths (little
//! padding) while the order still varies. Epoch `k`'s order comes from
//! `(seed, k)` alone, so a resumed run reproduces it without carrying RNG
//! state. [`SeqBatch`] and [`PairBatch`] pad encoded ids into `[B, T]` `u32`
//! tensors with `lengths` and an `f32` `mask` (1 = real token).

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a [`Batcher`] groups examples.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Examples per batch.
    pub batch_size: usize,
    /// Shuffle examples and batch order each epoch (training); off for
    /// evaluation, which keeps file order apart from bucketing.
    pub shuffle: bool,
    /// Sort by length within pools to cut padding.
    pub bucket: bool,
    /// Pool size for bucketing, in batches.
    pub pool_batches: usize,
    /// Leave out the last batch of an epoch when it is smaller than `batch_size`.
    pub drop_last: bool,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            batch_size: 64,
            shuffle: true,
            bucket: true,
            pool_batches: 50,
            drop_last: false,
        }
    }
}

/// Groups example indices into batches, epoch by epoch.
#[derive(Clone, Debug)]
pub struct Batcher {
    lengths: Vec<usize>,
    cfg: BatchConfig,
    seed: u64,
}

impl Batcher {
    /// A batcher over examples of the given lengths.
    pub fn new(lengths: Vec<usize>, cfg: &BatchConfig, seed: u64) -> Result<Self> {
        if cfg.batch_size == 0 || cfg.pool_batches == 0 {
            return Err(Error::Config(format!(
                "batch_size and pool_batches must be at least 1, got {} and {}",
                cfg.batch_size, cfg.pool_batches
            )));
        }
        Ok(Batcher {
            lengths,
            cfg: cfg.clone(),
            seed,
        })
    }

    /// Number of batches in an epoch.
    pub fn num_batches(&self) -> usize {
        let n = self.lengths.len();
        if self.cfg.drop_last {
            n / self.cfg.batch_size
        } else {
            n.div_ceil(self.cfg.batch_size)
        }
    }

    /// The batches of epoch `epoch`: lists of example indices.
    pub fn epoch(&self, epoch: u64) -> Vec<Vec<usize>> {
        let mut rng = StdRng::seed_from_u64(epoch_seed(self.seed, epoch));
        let mut idx: Vec<usize> = (0..self.lengths.len()).collect();
        if self.cfg.shuffle {
            idx.shuffle(&mut rng);
        }
        if self.cfg.bucket {
            let pool = self.cfg.batch_size.saturating_mul(self.cfg.pool_batches);
            for p in idx.chunks_mut(pool) {
                // Stable, so equal lengths keep the shuffled order.
                p.sort_by_key(|&i| self.lengths[i]);
            }
        }
        let mut batches: Vec<Vec<usize>> = idx
            .chunks(self.cfg.batch_size)
            .filter(|b| !self.cfg.drop_last || b.len() == self.cfg.batch_size)
            .map(<[usize]>::to_vec)
            .collect();
        if self.cfg.shuffle {
            batches.shuffle(&mut rng);
        }
        batches
    }
}

/// SplitMix64 of `seed` and `epoch`: neighbouring epochs get unrelated streams.
fn epoch_seed(seed: u64, epoch: u64) -> u64 {
    let mut z = seed ^ epoch.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Padded sequences: `ids [B, T]` (u32), `lengths`, `mask [B, T]` (f32, 1 =
/// real token). `T` is the longest length, at least 1 so that a batch of
/// empty sequences still has a time axis.
fn pad<S: AsRef<[u32]>>(
    seqs: &[S],
    pad_id: u32,
    device: &Device,
) -> Result<(Tensor, Vec<usize>, Tensor)> {
    let b = seqs.len();
    let lengths: Vec<usize> = seqs.iter().map(|s| s.as_ref().len()).collect();
    let t = lengths.iter().copied().max().unwrap_or(0).max(1);
    let mut ids = vec![pad_id; b * t];
    let mut mask = vec![0f32; b * t];
    for (row, s) in seqs.iter().enumerate() {
        let s = s.as_ref();
        ids[row * t..row * t + s.len()].copy_from_slice(s);
        mask[row * t..row * t + s.len()].fill(1.0);
    }
    Ok((
        Tensor::from_vec(ids, (b, t), device)?,
        lengths,
        Tensor::from_vec(mask, (b, t), device)?,
    ))
}

/// A batch of single sequences (classification, language modelling).
#[derive(Clone, Debug)]
pub struct SeqBatch {
    /// Token ids, `[B, T]`, padded with the pad id.
    pub ids: Tensor,
    /// Real length of each row.
    pub lengths: Vec<usize>,
    /// `[B, T]`, 1.0 on real tokens, 0.0 on padding.
    pub mask: Tensor,
}

impl SeqBatch {
    /// Pads encoded sequences.
    pub fn new<S: AsRef<[u32]>>(seqs: &[S], pad_id: u32, device: &Device) -> Result<Self> {
        let (ids, lengths, mask) = pad(seqs, pad_id, device)?;
        Ok(SeqBatch { ids, lengths, mask })
    }

    /// Rows `start..start + len` as a batch of their own, padded only to
    /// their own longest sequence, for splitting a batch across threads.
    pub fn rows(&self, start: usize, len: usize) -> Result<Self> {
        let lengths = self.lengths[start..start + len].to_vec();
        let width = lengths.iter().copied().max().unwrap_or(0);
        let r = |t: &Tensor| -> Result<Tensor> {
            Ok(t.narrow(0, start, len)?.narrow(1, 0, width)?.contiguous()?)
        };
        Ok(SeqBatch {
            ids: r(&self.ids)?,
            lengths,
            mask: r(&self.mask)?,
        })
    }
}

/// `rows` split into at most `parts` consecutive ranges of near-equal size
/// (the first ones one longer), none empty: how a batch is sharded across
/// threads.
pub fn shard_ranges(rows: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let parts = parts.min(rows).max(1);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for k in 0..parts {
        let len = rows / parts + usize::from(k < rows % parts);
        if len > 0 {
            out.push(start..start + len);
        }
        start += len;
    }
    out
}

/// `order` (indices sorted by ascending length) cut into consecutive
/// batches of at most `max_rows` rows whose padded size — rows × the
/// longest length — stays within `max_tokens` (a batch of one row may
/// exceed it). For inference, where the batching does not change results:
/// one long text then runs with its few peers instead of padding hundreds
/// of short ones to its length.
pub fn length_batches(
    order: &[usize],
    len: impl Fn(usize) -> usize,
    max_rows: usize,
    max_tokens: usize,
) -> Vec<&[usize]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (k, &i) in order.iter().enumerate() {
        let rows = k + 1 - start;
        if rows > 1 && (rows > max_rows.max(1) || rows.saturating_mul(len(i).max(1)) > max_tokens) {
            out.push(&order[start..k]);
            start = k;
        }
    }
    if start < order.len() {
        out.push(&order[start..]);
    }
    out
}

/// The special ids a [`PairBatch`] needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairSpecials {
    /// Padding.
    pub pad: u32,
    /// Prepended to the decoder input.
    pub sos: u32,
    /// Appended to the decoder target.
    pub eos: u32,
}

/// A batch of sentence pairs for teacher forcing: the decoder reads `tgt_in`
/// (`<sos> y1 … yn`) and is trained to predict `tgt_out` (`y1 … yn <eos>`).
#[derive(Clone, Debug)]
pub struct PairBatch {
    /// Source ids `[B, S]`, as given (the lesson appends `<eos>` to the source
    /// when encoding: do that before batching to follow it).
    pub src: Tensor,
    /// Real source lengths.
    pub src_lengths: Vec<usize>,
    /// `[B, S]`, 1.0 on real source tokens.
    pub src_mask: Tensor,
    /// Decoder input `[B, T]`, starting with `<sos>`.
    pub tgt_in: Tensor,
    /// Decoder target `[B, T]`, ending with `<eos>`.
    pub tgt_out: Tensor,
    /// Real target lengths (target + 1 for the added special).
    pub tgt_lengths: Vec<usize>,
    /// `[B, T]`, 1.0 where `tgt_out` is a real token.
    pub tgt_mask: Tensor,
}

impl PairBatch {
    /// Pads encoded pairs; `src` and `tgt` must have the same number of rows.
    pub fn new<S: AsRef<[u32]>, T: AsRef<[u32]>>(
        src: &[S],
        tgt: &[T],
        sp: &PairSpecials,
        device: &Device,
    ) -> Result<Self> {
        if src.len() != tgt.len() {
            return Err(Error::Shape(format!(
                "{} source sequences but {} targets",
                src.len(),
                tgt.len()
            )));
        }
        let tgt_in: Vec<Vec<u32>> = tgt
            .iter()
            .map(|t| {
                std::iter::once(sp.sos)
                    .chain(t.as_ref().iter().copied())
                    .collect()
            })
            .collect();
        let tgt_out: Vec<Vec<u32>> = tgt
            .iter()
            .map(|t| {
                t.as_ref()
                    .iter()
                    .copied()
                    .chain(std::iter::once(sp.eos))
                    .collect()
            })
            .collect();
        let (src, src_lengths, src_mask) = pad(src, sp.pad, device)?;
        let (tgt_in, _, _) = pad(&tgt_in, sp.pad, device)?;
        let (tgt_out, tgt_lengths, tgt_mask) = pad(&tgt_out, sp.pad, device)?;
        Ok(PairBatch {
            src,
            src_lengths,
            src_mask,
            tgt_in,
            tgt_out,
            tgt_lengths,
            tgt_mask,
        })
    }

    /// Rows `start..start + len` as a batch of their own (padding width
    /// unchanged), for splitting a batch across threads.
    pub fn rows(&self, start: usize, len: usize) -> Result<Self> {
        let r = |t: &Tensor| t.narrow(0, start, len);
        Ok(PairBatch {
            src: r(&self.src)?,
            src_lengths: self.src_lengths[start..start + len].to_vec(),
            src_mask: r(&self.src_mask)?,
            tgt_in: r(&self.tgt_in)?,
            tgt_out: r(&self.tgt_out)?,
            tgt_lengths: self.tgt_lengths[start..start + len].to_vec(),
            tgt_mask: r(&self.tgt_mask)?,
        })
    }

    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.src_lengths.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.src_lengths.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu() -> Device {
        Device::Cpu
    }

    #[test]
    fn seq_batch_pads_and_masks() {
        let b = SeqBatch::new(&[vec![5, 6, 7], vec![8]], 0, &cpu()).unwrap();
        assert_eq!(b.ids.to_vec2::<u32>().unwrap(), [[5, 6, 7], [8, 0, 0]]);
        assert_eq!(b.lengths, [3, 1]);
        assert_eq!(
            b.mask.to_vec2::<f32>().unwrap(),
            [[1., 1., 1.], [1., 0., 0.]]
        );
        let empty: [&[u32]; 2] = [&[], &[]];
        let b = SeqBatch::new(&empty, 9, &cpu()).unwrap();
        assert_eq!(b.ids.to_vec2::<u32>().unwrap(), [[9], [9]]);
        assert_eq!(b.mask.to_vec2::<f32>().unwrap(), [[0.], [0.]]);
    }

    #[test]
    fn pair_batch_shifts_targets() {
        let sp = PairSpecials {
            pad: 0,
            sos: 2,
            eos: 3,
        };
        let src: [&[u32]; 2] = [&[10, 11, 3], &[12, 3]];
        let tgt: [&[u32]; 2] = [&[20], &[21, 22]];
        let b = PairBatch::new(&src, &tgt, &sp, &cpu()).unwrap();
        assert_eq!(b.src.to_vec2::<u32>().unwrap(), [[10, 11, 3], [12, 3, 0]]);
        assert_eq!(b.src_lengths, [3, 2]);
        assert_eq!(
            b.tgt_in.to_vec2::<u32>().unwrap(),
            [[2, 20, 0], [2, 21, 22]]
        );
        assert_eq!(
            b.tgt_out.to_vec2::<u32>().unwrap(),
            [[20, 3, 0], [21, 22, 3]]
        );
        assert_eq!(b.tgt_lengths, [2, 3]);
        assert_eq!(
            b.tgt_mask.to_vec2::<f32>().unwrap(),
            [[1., 1., 0.], [1., 1., 1.]]
        );
        assert!(matches!(
            PairBatch::new(&src, &tgt[..1], &sp, &cpu()),
            Err(Error::Shape(_))
        ));
    }

    fn lengths(n: usize) -> Vec<usize> {
        // Deterministic, spread-out lengths 1..=60.
        (0..n).map(|i| (i * 37 + 11) % 60 + 1).collect()
    }

    fn padded_cells(lengths: &[usize], batches: &[Vec<usize>]) -> usize {
        batches
            .iter()
            .map(|b| b.len() * b.iter().map(|&i| lengths[i]).max().unwrap_or(0))
            .sum()
    }

    #[test]
    fn every_example_once_and_bucketing_cuts_padding() {
        let lens = lengths(2000);
        let cfg = BatchConfig {
            batch_size: 32,
            pool_batches: 10,
            ..Default::default()
        };
        let bucketed = Batcher::new(lens.clone(), &cfg, 1).unwrap();
        let plain = Batcher::new(
            lens.clone(),
            &BatchConfig {
                bucket: false,
                ..cfg.clone()
            },
            1,
        )
        .unwrap();
        let (b, p) = (bucketed.epoch(0), plain.epoch(0));
        assert_eq!(b.len(), bucketed.num_batches());
        let mut all: Vec<usize> = b.concat();
        all.sort_unstable();
        assert_eq!(all, (0..2000).collect::<Vec<_>>());
        let real: usize = lens.iter().sum();
        let (pb, pp) = (padded_cells(&lens, &b), padded_cells(&lens, &p));
        assert!(
            pb - real < (pp - real) / 5,
            "bucketed {pb}, plain {pp}, real {real}"
        );
    }

    #[test]
    fn epochs_are_reproducible_and_differ() {
        let cfg = BatchConfig {
            batch_size: 8,
            ..Default::default()
        };
        let a = Batcher::new(lengths(100), &cfg, 42).unwrap();
        let b = Batcher::new(lengths(100), &cfg, 42).unwrap();
        // Epoch 3 straight away equals epoch 3 after 0..2: no carried state.
        let e3 = b.epoch(3);
        for e in 0..3 {
            a.epoch(e);
        }
        assert_eq!(a.epoch(3), e3);
        assert_ne!(a.epoch(3), a.epoch(4));
        assert_ne!(
            a.epoch(3),
            Batcher::new(lengths(100), &cfg, 43).unwrap().epoch(3)
        );
    }

    #[test]
    fn eval_order_and_drop_last() {
        let cfg = BatchConfig {
            batch_size: 4,
            shuffle: false,
            bucket: false,
            drop_last: true,
            ..Default::default()
        };
        let b = Batcher::new(vec![1; 10], &cfg, 0).unwrap();
        assert_eq!(b.epoch(0), [vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
        assert_eq!(b.num_batches(), 2);
        assert!(
            Batcher::new(
                vec![1],
                &BatchConfig {
                    batch_size: 0,
                    ..cfg
                },
                0
            )
            .is_err()
        );
    }

    #[test]
    fn shards_cover_the_rows_and_trim_their_padding() {
        assert_eq!(shard_ranges(7, 3), vec![0..3, 3..5, 5..7]);
        assert_eq!(shard_ranges(2, 4), vec![0..1, 1..2]);
        assert_eq!(shard_ranges(5, 1), vec![0..5]);
        let b =
            SeqBatch::new(&[vec![1u32, 2, 3, 4], vec![5, 6], vec![7]], 0, &Device::Cpu).unwrap();
        let tail = b.rows(1, 2).unwrap();
        assert_eq!(tail.lengths, [2, 1]);
        assert_eq!(tail.ids.to_vec2::<u32>().unwrap(), [[5, 6], [7, 0]]);
        assert_eq!(tail.mask.dims(), [2, 2]);
    }

    #[test]
    fn length_batches_bound_rows_and_padded_tokens() {
        let lens = [1usize, 2, 2, 3, 50, 1000];
        let order: Vec<usize> = (0..lens.len()).collect();
        let batches = length_batches(&order, |i| lens[i], 3, 100);
        assert_eq!(batches, vec![&[0, 1, 2][..], &[3, 4][..], &[5][..]]);
        let all: Vec<usize> = batches.concat();
        assert_eq!(all, order);
        assert!(length_batches(&[], |_| 1, 4, 10).is_empty());
    }
}
