//! The JSON form of a [`Vocab`]: `{"specials": [...], "tokens": [...], "counts": [...]}`,
//! tokens in id order. Reading checks what building guarantees: tokens unique,
//! specials first.

use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::vocab::{Specials, Vocab};
use crate::error::{Error, Result, Source};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabFile {
    specials: Specials,
    tokens: Vec<String>,
    counts: Vec<u64>,
}

impl Vocab {
    /// Writes the JSON form.
    pub fn write_json(&self, w: impl Write) -> Result<()> {
        let file = VocabFile {
            specials: self.specials().clone(),
            tokens: self.tokens().to_vec(),
            counts: self.counts().to_vec(),
        };
        serde_json::to_writer(w, &file).map_err(|e| Error::Vocab(format!("writing JSON: {e}")))
    }

    /// Reads the JSON form and checks it: tokens unique, specials first.
    pub fn read_json(r: impl Read) -> Result<Self> {
        let file: VocabFile = serde_json::from_reader(r).map_err(|e| {
            let line = (e.line() > 0).then_some(e.line());
            Error::format(
                Source::stream(),
                line,
                format!(
                    "invalid vocabulary JSON: {}",
                    crate::error::first_chars(&e.to_string(), 300)
                ),
            )
        })?;
        Vocab::from_parts(file.specials, file.tokens, file.counts)
    }

    /// Reads the JSON form from `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        Vocab::read_json(std::io::BufReader::new(f)).map_err(|e| match e {
            Error::Vocab(msg) => Error::Vocab(format!("{}: {msg}", path.display())),
            other => other.at_path(path),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::VocabConfig;

    fn toks(s: &str) -> Vec<&str> {
        s.split(' ').collect()
    }

    #[test]
    fn json_round_trip() {
        let v = Vocab::build(toks("le chat le chien"), &VocabConfig::default()).unwrap();
        let mut buf = Vec::new();
        v.write_json(&mut buf).unwrap();
        let back = Vocab::read_json(buf.as_slice()).unwrap();
        assert_eq!(back, v);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vocab.json");
        std::fs::write(&path, &buf).unwrap();
        assert_eq!(Vocab::load(&path).unwrap(), v);
    }

    #[test]
    fn load_validates() {
        let dup = r#"{"specials":["<pad>"],"tokens":["<pad>","a","a"],"counts":[0,1,1]}"#;
        let e = Vocab::read_json(dup.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("`a` appears twice"), "{e}");
        let missing = r#"{"specials":["<pad>","<unk>"],"tokens":["<pad>","a"],"counts":[0,1]}"#;
        let e = Vocab::read_json(missing.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`<unk>` must have id 1"), "{e}");
        let e = Vocab::read_json("{\n\"tokens\": [".as_bytes()).unwrap_err();
        assert!(matches!(e, Error::Format { line: Some(2), .. }), "{e}");
    }
}
