//! Beam search with the GNMT length penalty (Wu et al. 2016, "Google's Neural
//! Machine Translation System", §7): `lp(Y) = ((5 + |Y|) / 6)^α` and
//! `score(Y) = log P(Y) / lp(Y)`; α = 0 ranks by raw log-probability. (The
//! paper's coverage penalty is not implemented.)
//!
//! Conventions, as in OpenNMT-py and fairseq:
//! - `|Y|` is the number of steps taken, the `<eos>` step included.
//! - Each step ranks the `K·V` extensions of a row's `K` live beams. An
//!   extension ending in `<eos>` that ranks among the top `K` finishes and
//!   leaves the beam; the next-best extensions take its place, so `K` beams
//!   stay live (fairseq). With α > 0 a beam of size 1 may therefore go on past
//!   the `<eos>` greedy would stop at; with α = 0 it equals greedy exactly.
//! - When a row's budget is spent its live beams end unfinished
//!   (`finished: false`) and are ranked with the finished ones by score, like
//!   OpenNMT-py ending every beam at the maximum length.
//!
//! Stopping: a row is done once it holds `n_best` finished hypotheses and no
//! live beam can still beat the worst of them. The bound is exact for
//! log-probabilities ≤ 0: a live beam with log-probability `L` can at best keep
//! `L` while growing, so its best reachable score is `L / lp(len)` at the
//! longest (α > 0: the budget) or shortest reachable length, whichever is
//! higher. So early stopping never changes the result, only saves steps.
//!
//! Batched: memory rows expand `B → B·K` once; finished rows leave the batch
//! (their `K` state and memory rows are dropped through [`Batched::select`]) so
//! cost follows the live rows. Ranking runs on the host: the `[B·K, V]`
//! log-probabilities come over once per step and each row keeps the best of
//! its `K·V` candidates in f64 in one pass — linear time, and candle has no
//! top-k kernel whose full sort would beat the copy at `V` ≤ ~30k.

use candle_core::{DType, Tensor};

use super::search::{self, index};
use super::{Batched, BeamOptions, Hypothesis, LengthLimit, Specials, StepDecoder};
use crate::Result;

/// Settings for [`beam_search`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BeamConfig {
    /// `<sos>` and `<eos>` ids.
    pub specials: Specials,
    /// Output length budget.
    pub limit: LengthLimit,
    /// Size, length penalty, hypotheses returned.
    pub options: BeamOptions,
}

/// The GNMT length penalty for a hypothesis of `len` steps.
pub fn length_penalty(alpha: f64, len: usize) -> f64 {
    ((5.0 + len as f64) / 6.0).powf(alpha)
}

/// Beam-searches each row of `memory`. `src_lengths[b]` is row `b`'s source
/// length (for the length budget). Returns, per row, up to `n_best`
/// hypotheses, best score first (fewer only when the vocabulary cannot fill
/// the beam).
pub fn beam_search<M: StepDecoder>(
    model: &M,
    memory: &M::Memory,
    src_lengths: &[usize],
    cfg: &BeamConfig,
) -> Result<Vec<Vec<Hypothesis>>> {
    cfg.options.validate()?;
    let b = memory.batch_size();
    let budget = search::budgets(model, b, src_lengths, &cfg.limit, "beam search")?;
    let mut out = vec![Vec::new(); b];
    if b == 0 {
        return Ok(out);
    }
    let k = cfg.options.size;
    let device = model.device().clone();
    // Row r's beams are rows r·K .. r·K + K of the expanded batch.
    let expand = index(&(0..b * k).map(|i| i / k).collect::<Vec<_>>(), &device)?;
    let mut mem = memory.select(&expand)?;
    let mut state = model.start(memory)?.select(&expand)?;
    let mut tokens = Tensor::full(cfg.specials.sos, b * k, &device)?;
    let mut rows: Vec<Row> = (0..b).map(|id| Row::new(id, budget[id], k)).collect();
    // history[t][j]: how slot j of step t + 1's batch was made at step t.
    let mut history: Vec<Vec<Node>> = Vec::new();
    let mut t = 0;
    loop {
        let step = model.step(&tokens, &state, &mem)?;
        let log_probs = step.log_probs.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        let attention = search::attention_rows(&step)?;
        let view = StepView {
            len: t + 1,
            history: &history,
            attention: attention.as_deref(),
            cfg,
        };
        let mut next = Next::default();
        let before = rows.len();
        let mut live_rows = Vec::with_capacity(before);
        for (a, mut row) in rows.into_iter().enumerate() {
            let beams = &log_probs[a * k..(a + 1) * k];
            if row.advance(beams, a * k, &view, &mut next) {
                live_rows.push(row);
            } else {
                out[row.id] = row.kept;
            }
        }
        rows = live_rows;
        if rows.is_empty() {
            return Ok(out);
        }
        let idx = index(&next.parents, &device)?;
        state = step.state.select(&idx)?;
        // A row's K memory rows are copies, so only a dropped row changes them.
        if rows.len() != before {
            mem = mem.select(&idx)?;
        }
        tokens = Tensor::from_vec(next.tokens, next.parents.len(), &device)?;
        history.push(next.nodes);
        t += 1;
    }
}

/// How one live beam was extended: from `parent` (a slot of the step's batch)
/// by `token`, with the step's attention row.
struct Node {
    parent: usize,
    token: u32,
    attention: Option<Vec<f32>>,
}

/// The next step's batch, built row by row.
#[derive(Default)]
struct Next {
    parents: Vec<usize>,
    tokens: Vec<u32>,
    nodes: Vec<Node>,
}

/// What a row needs to know about the current step.
struct StepView<'a> {
    /// Steps taken once this step is done.
    len: usize,
    history: &'a [Vec<Node>],
    attention: Option<&'a [Vec<f32>]>,
    cfg: &'a BeamConfig,
}

impl StepView<'_> {
    /// The hypothesis that extends `slot` by `last` (`None`: `<eos>`).
    fn hypothesis(&self, slot: usize, last: Option<u32>, log_prob: f64) -> Hypothesis {
        let mut tokens = Vec::with_capacity(self.len);
        let mut attention = Vec::new();
        // Walk the parents back to the first step.
        let mut j = slot;
        for nodes in self.history.iter().rev() {
            let node = &nodes[j];
            tokens.push(node.token);
            if let Some(a) = &node.attention {
                attention.push(a.clone());
            }
            j = node.parent;
        }
        tokens.reverse();
        attention.reverse();
        tokens.extend(last);
        if let Some(a) = self.attention {
            attention.push(a[slot].clone());
        }
        Hypothesis {
            tokens,
            log_prob,
            score: log_prob / length_penalty(self.cfg.options.alpha, self.len),
            finished: last.is_none(),
            attention,
        }
    }
}

/// The search state of one source row.
struct Row {
    id: usize,
    budget: usize,
    /// Log-probability of each live beam; −∞ marks an empty slot (the first
    /// step, where only beam 0 is live, or a vocabulary too small to fill K).
    cum: Vec<f64>,
    /// Best hypotheses so far, best first, at most `n_best`.
    kept: Vec<Hypothesis>,
}

impl Row {
    fn new(id: usize, budget: usize, k: usize) -> Self {
        let mut cum = vec![f64::NEG_INFINITY; k];
        cum[0] = 0.0;
        Row {
            id,
            budget,
            cum,
            kept: Vec::new(),
        }
    }

    fn keep(&mut self, h: Hypothesis, n_best: usize) {
        self.kept.push(h);
        // Stable: equal scores stay in the order found.
        self.kept.sort_by(|a, b| b.score.total_cmp(&a.score));
        self.kept.truncate(n_best);
    }

    /// One step for this row: `log_probs` are its K beams' rows and `base` the
    /// slot of beam 0 in the step's batch. Pushes the surviving beams to
    /// `next`; returns false when the row is done.
    fn advance(
        &mut self,
        log_probs: &[Vec<f32>],
        base: usize,
        view: &StepView,
        next: &mut Next,
    ) -> bool {
        let BeamOptions {
            size: k,
            alpha,
            n_best,
        } = view.cfg.options;
        let eos = view.cfg.specials.eos;
        // 2K candidates always hold K that do not end in <eos> (at most one per beam does).
        let ranked = top_candidates(log_probs, &self.cum, 2 * k);
        let mut live = Vec::with_capacity(k);
        for (rank, &(score, beam, token)) in ranked.iter().enumerate() {
            if token == eos {
                if rank < k {
                    self.keep(view.hypothesis(base + beam, None, score), n_best);
                }
            } else {
                live.push((score, beam, token));
                if live.len() == k {
                    break;
                }
            }
        }
        if view.len >= self.budget {
            for &(score, beam, token) in &live {
                self.keep(view.hypothesis(base + beam, Some(token), score), n_best);
            }
            return false;
        }
        let Some(&(best, _, _)) = live.first() else {
            return false;
        };
        if self.kept.len() >= n_best {
            let reach = (best / length_penalty(alpha, view.len + 1))
                .max(best / length_penalty(alpha, self.budget));
            if reach <= self.kept[n_best - 1].score {
                return false;
            }
        }
        for i in 0..k {
            match live.get(i) {
                Some(&(score, beam, token)) => {
                    self.cum[i] = score;
                    next.parents.push(base + beam);
                    next.tokens.push(token);
                    next.nodes.push(Node {
                        parent: base + beam,
                        token,
                        attention: view.attention.map(|a| a[base + beam].clone()),
                    });
                }
                None => {
                    // An empty slot still takes a batch row; −∞ keeps it out of every ranking.
                    self.cum[i] = f64::NEG_INFINITY;
                    next.parents.push(base);
                    next.tokens.push(eos);
                    next.nodes.push(Node {
                        parent: base,
                        token: eos,
                        attention: None,
                    });
                }
            }
        }
        true
    }
}

/// The `n` best extensions `(log-prob, beam, token)` of a row's beams, best
/// first; equal scores by beam then token, so the order is deterministic.
///
/// One pass keeping the best `n` so far in order: nearly every candidate is
/// turned away by one comparison with the `n`-th best, where a partial sort
/// of all `K·V` candidates took a seventh of batched beam search.
fn top_candidates(log_probs: &[Vec<f32>], cum: &[f64], n: usize) -> Vec<(f64, usize, u32)> {
    let order = |a: &(f64, usize, u32), b: &(f64, usize, u32)| {
        b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
    };
    let mut best: Vec<(f64, usize, u32)> = Vec::with_capacity(n + 1);
    if n == 0 {
        return best;
    }
    for (beam, (row, &base)) in log_probs.iter().zip(cum).enumerate() {
        // Skips empty slots (−∞) and NaN alike.
        if base.is_nan() || base == f64::NEG_INFINITY {
            continue;
        }
        for (token, &l) in row.iter().enumerate() {
            let s = base + f64::from(l);
            if s.is_nan() || s == f64::NEG_INFINITY {
                continue;
            }
            // Strictly worse than the n-th best: out, whatever the tie-breaks.
            if best.len() == n && s < best[n - 1].0 {
                continue;
            }
            let candidate = (s, beam, token as u32);
            let at = best.partition_point(|x| order(x, &candidate).is_lt());
            if at < n {
                best.insert(at, candidate);
                best.truncate(n);
            }
        }
    }
    best
}

#[cfg(test)]
#[path = "beam_tests.rs"]
mod tests;
