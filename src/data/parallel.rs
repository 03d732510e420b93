//! Parallel text as two files, one sentence a line, line `n` of one the
//! translation of line `n` of the other (`train.de` + `train.en`), the way
//! Moses, OpenNMT, fairseq and Marian read corpora. `.gz` is transparent.
//! Lines are kept as they are (only the line ending goes), so a pair's line
//! number is its place in both files; whatever filters the pairs (empty or
//! long sides) runs after reading.

use std::io::BufRead;
use std::path::Path;

use super::pairs::Pair;
use super::source::{TextLines, open};
use crate::error::{Error, Result};

/// Reads the pairs of two aligned files: line `n` of `src` with line `n` of
/// `tgt`. Files of different lengths are an error naming the one that runs
/// short, and where.
pub fn read_parallel(src: &Path, tgt: &Path) -> Result<Vec<Pair>> {
    let expected = "one sentence per line, aligned with its translation file";
    let s = TextLines::new(open(src)?, expected);
    let t = TextLines::new(open(tgt)?, expected);
    zip_lines(s, t)
        .map_err(|e| match e {
            Side::Src(e) => e.at_path(src),
            Side::Tgt(e) => e.at_path(tgt),
            Side::Short { short, lines } => {
                let (short, long) = match short {
                    Which::Src => (src, tgt),
                    Which::Tgt => (tgt, src),
                };
                Error::format(
                    short,
                    Some(lines + 1),
                    format!(
                        "ends after {lines} lines, but {} goes on: the two files of a parallel corpus need one line per sentence each",
                        long.display()
                    ),
                )
            }
        })
}

/// Which of the two files.
enum Which {
    Src,
    Tgt,
}

/// An error of one side, or one side ending first after `lines` lines.
enum Side {
    Src(Error),
    Tgt(Error),
    Short { short: Which, lines: usize },
}

fn zip_lines<A: BufRead, B: BufRead>(
    mut src: TextLines<A>,
    mut tgt: TextLines<B>,
) -> std::result::Result<Vec<Pair>, Side> {
    let mut pairs = Vec::new();
    loop {
        let s = src.next().transpose().map_err(Side::Src)?;
        let t = tgt.next().transpose().map_err(Side::Tgt)?;
        match (s, t) {
            (Some((_, s)), Some((_, t))) => pairs.push(Pair::new(s, t)),
            (None, None) => return Ok(pairs),
            (None, Some(_)) => {
                return Err(Side::Short {
                    short: Which::Src,
                    lines: pairs.len(),
                });
            }
            (Some(_), None) => {
                return Err(Side::Short {
                    short: Which::Tgt,
                    lines: pairs.len(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn pairs_line_n_with_line_n_keeping_text_as_it_is() {
        let tmp = tempfile::tempdir().unwrap();
        let de = write(
            tmp.path(),
            "a.de",
            "Ein Hund läuft.\r\nZwei Männer  \n\nEnde\n",
        );
        let en = write(
            tmp.path(),
            "a.en",
            "A dog runs.\nTwo men\nblank opposite\nEnd",
        );
        let pairs = read_parallel(&de, &en).unwrap();
        assert_eq!(
            pairs,
            [
                Pair::new("Ein Hund läuft.", "A dog runs."),
                Pair::new("Zwei Männer  ", "Two men"),
                Pair::new("", "blank opposite"),
                Pair::new("Ende", "End"),
            ]
        );
    }

    #[test]
    fn the_shorter_file_is_named_with_where_it_ends() {
        let tmp = tempfile::tempdir().unwrap();
        let de = write(tmp.path(), "b.de", "eins\nzwei\ndrei\n");
        let en = write(tmp.path(), "b.en", "one\ntwo\n");
        for (a, b) in [(&de, &en), (&en, &de)] {
            let e = read_parallel(a, b).unwrap_err().to_string();
            assert!(e.contains("b.en:3:"), "{e}");
            assert!(
                e.contains("ends after 2 lines") && e.contains("b.de"),
                "{e}"
            );
        }
        // An error inside one file names that file and its line.
        let bad = tmp.path().join("c.en");
        std::fs::write(&bad, b"one\ntw\xffo\nthree\n").unwrap();
        let e = read_parallel(&de, &bad).unwrap_err().to_string();
        assert!(e.contains("c.en:2:"), "{e}");
    }

    #[test]
    fn reads_the_official_multi30k_splits() {
        // `.cargo/config.toml` points ATTEND_DATA_DIR at ../shared/data.
        let data = crate::data::Resolver::from_env().data_dir;
        let dir = data.expect("ATTEND_DATA_DIR").join("multi30k");
        let pairs = read_parallel(&dir.join("val.de.gz"), &dir.join("val.en.gz")).unwrap();
        assert_eq!(pairs.len(), 1014);
        assert!(pairs.iter().all(|p| !p.src.is_empty() && !p.tgt.is_empty()));
    }
}
