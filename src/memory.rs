//! The memory budget: sizes that come from a file or a flag (a config's
//! `hidden`, a vocabulary's `max_length`, `--size`) are checked against it
//! before anything that size is allocated, so a typo or a damaged file is an
//! error that says what would have been allocated — never an abort of the
//! whole process on a failed allocation, or a machine pushed into swap.
//!
//! The budget is `ATTEND_MEMORY_BUDGET` (bytes, or with a `K`/`M`/`G`/`T`
//! suffix), else the memory the system reports available when first asked
//! (`MemAvailable` in `/proc/meminfo`), else unlimited where the system
//! does not say. Process-wide: read once, then fixed for the process.

use std::sync::OnceLock;

use crate::{Error, Result};

static BUDGET: OnceLock<u64> = OnceLock::new();

thread_local! {
    /// A tighter limit for the work in progress on this thread, and what
    /// sets it (see [`with_limit`]).
    static SCOPED: std::cell::RefCell<Option<(u64, String)>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` with the budget lowered to `limit` bytes on this thread, `what`
/// saying why in errors: loading a model builds it from its config before
/// its weights are matched to it, and a config that asks for more than its
/// weights file holds must fail before allocating what it asks for.
pub fn with_limit<T>(limit: u64, what: &str, f: impl FnOnce() -> T) -> T {
    let before = SCOPED.with(|s| s.replace(Some((limit, what.to_string()))));
    let out = f();
    SCOPED.with(|s| *s.borrow_mut() = before);
    out
}

/// The byte budget (see the module docs).
pub fn budget() -> u64 {
    *BUDGET.get_or_init(|| {
        std::env::var("ATTEND_MEMORY_BUDGET")
            .ok()
            .and_then(|v| parse_bytes(&v))
            .or_else(available)
            .unwrap_or(u64::MAX)
    })
}

/// Checks that `bytes` more for `what` (e.g. "parameter `encoder.rnn.weight_hh_l0`
/// [3072, 1024]") fit in the budget; `held` is what the same structure
/// holds already. The error names both and says where the size came from.
pub fn check(what: &str, bytes: u64, held: u64) -> Result<()> {
    let total = held.saturating_add(bytes);
    if let Some((limit, why)) = SCOPED.with(|s| s.borrow().clone())
        && total > limit
    {
        return Err(Error::Config(format!(
            "{what} would need {}: more than {why}",
            human(bytes)
        )));
    }
    let limit = budget();
    if total <= limit {
        return Ok(());
    }
    let with = match held {
        0 => String::new(),
        h => format!(" (with the {} already held)", human(h)),
    };
    Err(Error::Config(format!(
        "{what} would need {}{with}, more than the memory budget of {}: check the sizes in the config or flags (ATTEND_MEMORY_BUDGET sets the budget)",
        human(bytes),
        human(limit)
    )))
}

/// The byte count of `count` elements of `elem` bytes each, or an error when
/// it does not even fit a `u64` (a size multiplied out of a damaged file).
pub fn bytes_of(what: &str, dims: &[usize], elem: usize) -> Result<u64> {
    dims.iter()
        .try_fold(elem as u64, |acc, &d| acc.checked_mul(d as u64))
        .ok_or_else(|| {
            Error::Config(format!(
                "{what}: a tensor of shape {dims:?} is too large to count"
            ))
        })
}

/// `1.5 GB`-style sizes for messages.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} B"),
        _ => format!("{v:.1} {}", UNITS[unit]),
    }
}

/// `123`, `64M`, `2G`, `1.5T` → bytes.
fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, scale) = match s.chars().last()?.to_ascii_uppercase() {
        'K' => (&s[..s.len() - 1], 1e3),
        'M' => (&s[..s.len() - 1], 1e6),
        'G' => (&s[..s.len() - 1], 1e9),
        'T' => (&s[..s.len() - 1], 1e12),
        _ => (s, 1.0),
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some((v * scale) as u64)
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_bytes("64M"), Some(64_000_000));
        assert_eq!(parse_bytes("1.5g"), Some(1_500_000_000));
        assert_eq!(parse_bytes("123"), Some(123));
        assert_eq!(parse_bytes("x"), None);
        assert_eq!(human(999), "999 B");
        assert_eq!(human(40_000_000_000), "40.0 GB");
    }

    #[test]
    fn a_scoped_limit_is_tighter_and_says_why() {
        let e = with_limit(100, "the weights file holds", || check("w", 101, 0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("the weights file holds"), "{e}");
        assert!(with_limit(100, "x", || check("w", 100, 0)).is_ok());
        assert!(check("w", 101, 0).is_ok(), "the limit ends with the scope");
    }

    #[test]
    fn a_size_past_the_budget_is_an_error_naming_it() {
        let e = check("parameter `w` [99999999, 99999999]", u64::MAX / 2, 0)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("parameter `w`") && e.contains("memory budget"),
            "{e}"
        );
        assert!(check("a small one", 1024, 0).is_ok());
        assert!(bytes_of("w", &[usize::MAX, 4], 4).is_err());
        assert_eq!(bytes_of("w", &[3, 4], 4).unwrap(), 48);
    }
}
