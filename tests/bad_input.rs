//! Bad input never panics: each case exits with code 2 and one line on
//! stderr naming the file (and line, where there is one) and what was expected.

mod common;

use std::path::Path;

use common::cli::{Run, attend, one_line_error};

fn stats(path: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["data", "stats", "--data", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    attend(&args)
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn missing_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.tsv");
    let run = stats(&path, &["--format", "pairs"]);
    one_line_error(
        &run,
        &[&format!("{}: no such file", path.display()), "expected"],
    );
}

#[test]
fn a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let want = format!(
        "{}: is a directory, expected a data file",
        dir.path().display()
    );
    // With and without a format: a directory is never mistaken for a name.
    for extra in [&["--format", "pairs"][..], &[]] {
        let run = stats(dir.path(), extra);
        one_line_error(&run, &[&want]);
    }
}

#[test]
fn an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "empty.tsv", b"");
    let run = stats(&path, &["--format", "pairs"]);
    let want = format!("{}: file is empty, expected sentence pairs", path.display());
    one_line_error(&run, &[&want]);
}

#[test]
fn binary_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..512u32).map(|i| (i * 7919 % 251) as u8).collect();
    let path = write(&dir, "garbage.bin", &garbage);
    for format in ["pairs", "corpus"] {
        let run = stats(&path, &["--format", format]);
        one_line_error(&run, &[&format!("{}:1: ", path.display()), "expected"]);
    }
}

#[test]
fn a_pair_line_without_a_tab() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "pairs.tsv",
        b"Go.\tVa !\nHi.\tSalut !\nRun! Cours !\n",
    );
    let run = stats(&path, &["--format", "pairs"]);
    let want = format!("{}:3: expected two tab-separated columns", path.display());
    one_line_error(&run, &[&want]);
}

#[test]
fn a_csv_row_with_a_missing_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "news.csv", b"y,X\nWorld,\"Quoted, title\"\nSports\n");
    let run = stats(
        &path,
        &[
            "--format",
            "labelled",
            "--header",
            "--text-col",
            "X",
            "--label-col",
            "y",
        ],
    );
    let want = format!("{}:3: expected at least 2 columns, found 1", path.display());
    one_line_error(&run, &[&want]);
}

#[test]
fn invalid_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "latin1.tsv", b"Go.\tVa !\nCaf\xe9.\tCaf\xe9 !\n");
    let run = stats(&path, &["--format", "pairs"]);
    let want = format!("{}:2: invalid UTF-8", path.display());
    one_line_error(&run, &[&want, "expected"]);
}

#[test]
fn an_unknown_dataset_name() {
    let run = attend(&["data", "stats", "--data", "eng-deu"]);
    one_line_error(&run, &["unknown dataset `eng-deu`", "eng-fra", "text8"]);
}
