//! What one request and one model's queue may hold: the bounds that keep a
//! busy or hostile client from growing the server's memory or latency.

use std::time::Duration;

/// The server's bounds (`attend serve`'s flags).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// Largest request body read (413 past it).
    pub max_body_bytes: usize,
    /// Longest text, in characters (the reference server's 10,000).
    pub max_text_chars: usize,
    /// Most texts in one request's `texts`.
    pub max_texts: usize,
    /// Requests waiting for one model; a full queue answers 503 with
    /// `Retry-After` instead of growing.
    pub queue: usize,
    /// Most texts one model decodes together: requests waiting together
    /// are gathered up to this many texts.
    pub batch_size: usize,
    /// How long a model waits for more requests to fill a batch, once the
    /// previous batch showed that several clients are waiting.
    pub batch_wait: Duration,
    /// Whole-request deadline (queue and decoding); 503 past it.
    pub timeout: Duration,
    /// Most tokens one `/v1/generate` text may have.
    pub max_length: usize,
    /// Most neighbours or texts one vector or generate request returns.
    pub max_n: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_text_chars: 10_000,
            max_texts: 64,
            queue: 256,
            batch_size: 64,
            batch_wait: Duration::from_millis(2),
            timeout: Duration::from_secs(30),
            max_length: 1_000,
            max_n: 1_000,
        }
    }
}

impl Limits {
    /// Checks that every bound lets at least one request through.
    pub fn validate(&self) -> crate::Result<()> {
        let zero = [
            ("max_body_bytes", self.max_body_bytes),
            ("max_text_chars", self.max_text_chars),
            ("max_texts", self.max_texts),
            ("queue", self.queue),
            ("batch_size", self.batch_size),
            ("max_length", self.max_length),
            ("max_n", self.max_n),
        ]
        .into_iter()
        .find(|(_, v)| *v == 0);
        if let Some((name, _)) = zero {
            return Err(crate::Error::Config(format!(
                "serve limit {name} must be at least 1"
            )));
        }
        if self.timeout.is_zero() {
            return Err(crate::Error::Config(
                "serve timeout must be longer than zero".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zero_bounds_are_not() {
        assert!(Limits::default().validate().is_ok());
        let bad = Limits {
            queue: 0,
            ..Limits::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("queue"));
        let bad = Limits {
            timeout: Duration::ZERO,
            ..Limits::default()
        };
        assert!(bad.validate().is_err());
    }
}
