//! Progress reporting: an `indicatif` bar (ETA, loss, tokens/s) on a terminal,
//! plain log lines otherwise (CI logs, pipes), so long runs are never silent.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// How often plain-text mode prints a line, in batches.
const PLAIN_EVERY: usize = 50;

/// Reports progress through one epoch.
pub struct Progress {
    bar: Option<ProgressBar>,
    epoch: usize,
    total: usize,
    done: usize,
    tokens: usize,
    loss_sum: f64,
    started: Instant,
    quiet: bool,
}

impl Progress {
    /// Starts an epoch of `total` batches. `quiet` silences everything (tests).
    pub fn new(epoch: usize, epochs: usize, total: usize, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total as u64);
            let style = ProgressStyle::with_template(
                "epoch {prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}",
            )
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(format!("{epoch}/{epochs}"));
            bar
        });
        Progress {
            bar,
            epoch,
            total,
            done: 0,
            tokens: 0,
            loss_sum: 0.0,
            started: Instant::now(),
            quiet,
        }
    }

    /// Records one batch: its loss and how many target tokens it had.
    pub fn batch(&mut self, loss: f64, tokens: usize) {
        self.done += 1;
        self.tokens += tokens;
        self.loss_sum += loss;
        let rate = self.tokens as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let msg = format!("loss {:.4} {:.0} tok/s", self.mean_loss(), rate);
        if let Some(bar) = &self.bar {
            bar.set_message(msg);
            bar.inc(1);
        } else if !self.quiet && (self.done.is_multiple_of(PLAIN_EVERY) || self.done == self.total)
        {
            eprintln!(
                "epoch {} batch {}/{} {msg}",
                self.epoch, self.done, self.total
            );
        }
    }

    /// Mean loss over the batches so far.
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.done.max(1) as f64
    }

    /// Prints a line without breaking the bar.
    pub fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None if !self.quiet => eprintln!("{line}"),
            None => {}
        }
    }

    /// Ends the epoch's bar.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
