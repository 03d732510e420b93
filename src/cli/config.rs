//! Layered configuration: built-in defaults, then a TOML file, then flags.
//!
//! The file is merged onto the *serialised defaults* table by table, so a
//! file that sets only `[model] hidden = 128` keeps every other default,
//! including the other fields of `[model]`; unknown keys are still rejected
//! by the config types' `deny_unknown_fields`. A table that names another
//! `type` than the default's (an enum variant: `schedule = { type = "cosine" }`
//! over the recipe's exponential decay) replaces it whole, since the default's
//! other fields belong to the variant it leaves.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `T::default()` overlaid with the TOML file at `path`, if any.
pub fn load<T: Serialize + DeserializeOwned + Default>(path: Option<&Path>) -> Result<T> {
    match path {
        Some(path) => load_onto(T::default(), path),
        None => Ok(T::default()),
    }
}

/// `base` overlaid with the TOML file at `path`, as [`load`] does the defaults.
pub fn load_onto<T: Serialize + DeserializeOwned>(base: T, path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the config file", path.display()))?;
    let file: toml::Table = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not valid TOML: {}", path.display(), one_line(&e)))?;
    let mut base = toml::Table::try_from(base).context("serialising the base config")?;
    merge(&mut base, file);
    base.try_into::<T>()
        .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), one_line(&e)))
}

/// TOML errors span several lines with a source excerpt; the CLI prints one.
fn one_line(e: &impl std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && !l.chars().all(|c| c == '^'))
        .collect::<Vec<_>>()
        .join(" ")
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o))
                if o.get("type").is_none_or(|t| b.get("type") == Some(t)) =>
            {
                merge(b, o)
            }
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Inner {
        a: u32,
        b: String,
    }
    impl Default for Inner {
        fn default() -> Self {
            Inner {
                a: 1,
                b: "x".into(),
            }
        }
    }
    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
    enum Shape {
        Decay { gamma: f64, every: u32 },
        Cosine { warmup: u32 },
    }
    impl Default for Shape {
        fn default() -> Self {
            Shape::Decay {
                gamma: 0.5,
                every: 2,
            }
        }
    }
    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Outer {
        inner: Inner,
        c: Option<f64>,
        shape: Shape,
    }

    #[test]
    fn a_table_naming_another_variant_replaces_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        let decay = |gamma, every| Shape::Decay { gamma, every };
        // Another variant replaces the default's table; the same variant
        // (named or not) still merges field by field.
        for (text, want) in [
            (
                "shape = { type = \"cosine\", warmup = 3 }\n",
                Shape::Cosine { warmup: 3 },
            ),
            ("[shape]\ngamma = 0.9\n", decay(0.9, 2)),
            ("shape = { type = \"decay\", every = 5 }\n", decay(0.5, 5)),
        ] {
            std::fs::write(&p, text).unwrap();
            let got: Outer = load(Some(&p)).unwrap();
            assert_eq!(got.shape, want, "{text}");
        }
        // A variant missing a field it needs is an error naming the file.
        std::fs::write(&p, "shape = { type = \"cosine\" }\n").unwrap();
        let err = load::<Outer>(Some(&p)).unwrap_err().to_string();
        assert!(err.contains("c.toml") && err.contains("warmup"), "{err}");
    }

    #[test]
    fn file_overrides_only_what_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "c = 2.5\n[inner]\na = 7\n").unwrap();
        let got: Outer = load(Some(&p)).unwrap();
        assert_eq!(
            got.inner,
            Inner {
                a: 7,
                b: "x".into()
            }
        );
        assert_eq!(got.c, Some(2.5));
        std::fs::write(&p, "[inner]\nz = 1\n").unwrap();
        let err = load::<Outer>(Some(&p)).unwrap_err().to_string();
        assert!(err.contains("c.toml") && err.contains("z"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}
