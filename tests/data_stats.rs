//! `attend data stats` end to end on the real eng-fra file: the PyTorch
//! seq2seq lesson prints "Read 135842 sentence pairs", "Trimmed to 10599
//! sentence pairs", "fra 4345", "eng 2803"; the same pipeline here must too.

mod common;

use common::cli::attend;

#[test]
fn eng_fra_tutorial_numbers_match_the_lesson() {
    let run = attend(&[
        "data",
        "stats",
        "--data",
        "eng-fra",
        "--tutorial-filter",
        "--reverse",
    ]);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().map(str::trim).collect();
    for want in [
        "read 135,842 pairs",
        "kept 10,599 pairs",
        "vocabulary (incl. 2 specials: SOS, EOS):",
    ] {
        assert!(
            lines.contains(&want),
            "no line `{want}` in:\n{}",
            run.stdout
        );
    }
    // Reversed: French is the source side and comes first, as in the lesson.
    let fra = lines.iter().position(|l| l.starts_with("fra 4,345 words"));
    let eng = lines.iter().position(|l| l.starts_with("eng 2,803 words"));
    assert!(
        fra.is_some() && eng.is_some() && fra < eng,
        "{}",
        run.stdout
    );
}

#[test]
fn eng_fra_without_the_tutorial_filter_keeps_every_pair() {
    let run = attend(&["data", "stats", "--data", "eng-fra", "--max-len", "1000"]);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    assert!(run.stdout.contains("read 135,842 pairs"), "{}", run.stdout);
    assert!(run.stdout.contains("kept 135,842 pairs"), "{}", run.stdout);
    assert!(
        run.stdout.contains("lengths of eng (tokens): min "),
        "{}",
        run.stdout
    );
}

#[test]
fn ag_news_test_has_four_balanced_classes() {
    let run = attend(&["data", "stats", "--data", "ag-news-test"]);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    assert!(run.stdout.contains("read 7,600 rows"), "{}", run.stdout);
    assert!(run.stdout.contains("labels (4):"), "{}", run.stdout);
    for class in 1..=4 {
        assert!(
            run.stdout.contains(&format!("\n  {class} 1,900\n")),
            "{}",
            run.stdout
        );
    }
}
