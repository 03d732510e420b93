//! How a monitored metric is compared: lower-is-better or higher-is-better.
//!
//! Shared by `ReduceLROnPlateau` (PyTorch's `mode="min"|"max"`) and early
//! stopping. Also holds the serde helper that lets a "best so far" value of
//! ±∞ (PyTorch's starting point) survive a JSON round trip, which plain
//! `serde_json` would turn into `null`, and any other value bit for bit.

use serde::{Deserialize, Serialize};

/// Whether a smaller or a larger metric value is better.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Goal {
    /// Lower is better (losses, perplexity).
    #[default]
    Min,
    /// Higher is better (accuracy, BLEU).
    Max,
}

impl Goal {
    /// The value every real metric beats: +∞ for `Min`, −∞ for `Max`
    /// (PyTorch's `mode_worse`).
    pub fn worst(self) -> f64 {
        match self {
            Goal::Min => f64::INFINITY,
            Goal::Max => f64::NEG_INFINITY,
        }
    }

    /// Whether `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Goal::Min => a < b,
            Goal::Max => a > b,
        }
    }
}

/// Serde for an `f64` that must come back bit for bit, ±∞ and NaN included:
/// written as a string in Rust's shortest round-tripping form (`"0.1"`,
/// `"1e-300"`, `"inf"`), read from such a string or from a plain number.
///
/// Why strings: JSON has no ±∞, and serde_json (without its `float_roundtrip`
/// feature) may read a 17-digit number back one ulp off, which would break an
/// exact resume; Rust's own `f64` parser is exact.
pub(crate) mod any_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Num(f64),
        Text(String),
    }

    fn parse<E: serde::de::Error>(r: Repr) -> Result<f64, E> {
        match r {
            Repr::Num(v) => Ok(v),
            Repr::Text(t) => t
                .parse()
                .map_err(|_| E::custom(format!("expected a number, found \"{t}\""))),
        }
    }

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        // Debug is Display's shortest round-trip digits, with an exponent for
        // very large or small values.
        s.serialize_str(&format!("{v:?}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        parse(Repr::deserialize(d)?)
    }

    /// The same for `Option<f64>` (`None` is `null`).
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => super::serialize(v, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
            Option::<Repr>::deserialize(d)?
                .map(parse::<D::Error>)
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Holder(#[serde(with = "any_f64")] f64);

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct MaybeHolder(#[serde(with = "any_f64::option")] Option<f64>);

    #[test]
    fn non_finite_values_round_trip_through_json() {
        for v in [
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.1,
            -3.5e-300,
            0.1 * 0.1,
            1.0 / 3.0,
        ] {
            let json = serde_json::to_string(&Holder(v)).unwrap();
            let back: Holder = serde_json::from_str(&json).unwrap();
            assert_eq!(back.0.to_bits(), v.to_bits(), "{json}");
        }
        let json = serde_json::to_string(&Holder(f64::NAN)).unwrap();
        assert!(serde_json::from_str::<Holder>(&json).unwrap().0.is_nan());
        assert!(serde_json::from_str::<Holder>("\"big\"").is_err());
        assert_eq!(serde_json::from_str::<Holder>("0.25").unwrap().0, 0.25);
        for v in [None, Some(0.1 * 0.1)] {
            let json = serde_json::to_string(&MaybeHolder(v)).unwrap();
            assert_eq!(
                serde_json::from_str::<MaybeHolder>(&json).unwrap(),
                MaybeHolder(v)
            );
        }
        assert_eq!(Goal::Min.worst(), f64::INFINITY);
        assert_eq!(Goal::Max.worst(), f64::NEG_INFINITY);
    }
}
