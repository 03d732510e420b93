//! Tests of `format` (kept beside it, in their own file).

use super::*;

fn sample() -> Embeddings {
    let words = ["the", "é", "x1"].map(String::from).to_vec();
    let data = vec![
        0.1,
        -2.5e-7,
        3.0,
        1.0 / 3.0,
        0.0,
        -1e30,
        f32::MIN_POSITIVE,
        7.25,
        -0.0,
    ];
    Embeddings::new(words, 3, data).unwrap()
}

#[test]
fn every_format_round_trips_exactly() {
    let v = sample();
    for f in [
        VectorFormat::Text,
        VectorFormat::Binary,
        VectorFormat::Glove,
    ] {
        let mut buf = Vec::new();
        write(&v, &mut buf, f).unwrap();
        assert_eq!(VectorFormat::detect(&buf), f, "{f:?}");
        let back = read(&buf[..], f).unwrap();
        assert_eq!(back.words(), v.words());
        let same = back
            .data()
            .iter()
            .zip(v.data())
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{f:?}: {:?}", back.data());
    }
    // Malformed text is still text (so its error names the line).
    assert_eq!(
        VectorFormat::detect(b"1 2\nthe 0.1 abc\n"),
        VectorFormat::Text
    );
    // gensim's binary rows have no newline between vectors.
    let mut gensim = b"2 1\n".to_vec();
    for (w, x) in [("a", 1.5f32), ("b", -2.0)] {
        gensim.extend(w.as_bytes());
        gensim.push(b' ');
        gensim.extend(x.to_le_bytes());
    }
    let v = read(&gensim[..], VectorFormat::Binary).unwrap();
    assert_eq!(v.get("b"), Some(&[-2.0f32][..]));
}

#[test]
fn non_finite_components_name_the_word_and_line() {
    let err = |text: &str, f| read(text.as_bytes(), f).unwrap_err().to_string();
    for bad in ["NaN", "nan", "inf", "-infinity", "1e39"] {
        assert_eq!(
            err(&format!("2 2\na 1 2\nb {bad} 1\n"), VectorFormat::Text),
            format!(
                "<input>:3: `b`'s vector has `{bad}`, expected finite numbers (no NaN or infinity, at most ±3.4e38)"
            )
        );
    }
    assert!(
        err("a 1 2\nb 1 NaN\n", VectorFormat::Glove)
            .starts_with("<input>:2: `b`'s vector has `NaN`")
    );
    let mut bin = b"2 2\na ".to_vec();
    for x in [1.0f32, 2.0] {
        bin.extend(x.to_le_bytes());
    }
    bin.extend(b"\nb ");
    for x in [3.0f32, f32::NAN] {
        bin.extend(x.to_le_bytes());
    }
    assert_eq!(
        read(&bin[..], VectorFormat::Binary)
            .unwrap_err()
            .to_string(),
        "<input>: vector 2 of 2: `b`'s vector has NaN at component 2, expected finite numbers"
    );
}

#[test]
fn duplicate_words_keep_the_first_vector_and_are_counted() {
    let (v, report) =
        read_report("4 1\na 1\nb 2\na 3\nb 4\n".as_bytes(), VectorFormat::Text).unwrap();
    assert_eq!(v.words(), ["a", "b"]);
    assert_eq!(v.get("a"), Some(&[1.0f32][..]));
    assert_eq!(report.duplicates, 2);
    assert_eq!(report.first_duplicate, Some(("a".into(), "line 4".into())));
    let w = report.warning(Path::new("v.txt")).unwrap();
    assert!(
        w.starts_with("warning: v.txt: 2 duplicate words left out"),
        "{w}"
    );
    let mut bin = b"3 1\n".to_vec();
    for (w, x) in [("a", 1.0f32), ("a", 2.0), ("c", 3.0)] {
        bin.extend(w.as_bytes());
        bin.push(b' ');
        bin.extend(x.to_le_bytes());
    }
    let (v, report) = read_report(&bin[..], VectorFormat::Binary).unwrap();
    assert_eq!(v.words(), ["a", "c"]);
    assert_eq!(v.get("a"), Some(&[1.0f32][..]));
    assert_eq!(
        report.first_duplicate,
        Some(("a".into(), "vector 2 of 3".into()))
    );
    let (_, clean) = read_report("a 1\n".as_bytes(), VectorFormat::Glove).unwrap();
    assert_eq!(clean.warning(Path::new("v")), None);
}

#[test]
fn bad_headers_are_errors_at_line_one() {
    for (head, want) in [
        ("-5 20", "of two positive integers, found \"-5 20\""),
        ("0 20", "the header declares 0 words, expected at least 1"),
        ("99999999999999999999999 3", "of two positive integers"),
    ] {
        let text = format!("{head}\nthe 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20\n");
        assert_eq!(
            VectorFormat::detect(text.as_bytes()),
            VectorFormat::Text,
            "{head}"
        );
        let e = read(text.as_bytes(), VectorFormat::Text)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("<input>:1: ") && e.contains(want),
            "{head}: {e}"
        );
    }
    // Headers claiming far more than the file holds fail on the file,
    // without reserving what they claim.
    let e = read("1000000000000 65536\na 1\n".as_bytes(), VectorFormat::Text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("has 1 numbers, expected 65536"), "{e}");
    let e = read(
        &b"1000000000000 65536\na \x00\x00\x80\x3f"[..],
        VectorFormat::Binary,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("cut short"), "{e}");
    // A 5 MB word is quoted as an excerpt.
    let long = format!("{} 1 x\n", "w".repeat(5 << 20));
    let e = read(long.as_bytes(), VectorFormat::Glove)
        .unwrap_err()
        .to_string();
    assert!(e.len() < 300 && e.contains('…'), "{}", e.len());
}

#[test]
fn malformed_files_are_clear_errors() {
    let err = |text: &str, f| read(text.as_bytes(), f).unwrap_err().to_string();
    assert_eq!(
        err("3 2\na 1 2\nb 1\n", VectorFormat::Text),
        "<input>:3: `b` has 1 numbers, expected 2"
    );
    assert_eq!(
        err("1 2\na 1 x\n", VectorFormat::Text),
        "<input>:2: `x` is not a number (a component of `a`'s vector)"
    );
    assert_eq!(
        err("3 2\na 1 2\nb 1 2\n", VectorFormat::Text),
        "<input>: the header declares 3 vectors, the file has 2"
    );
    assert_eq!(
        err("1 2\na 1 2\nb 1 2\n", VectorFormat::Text),
        "<input>:3: more vectors than the 1 the header declares"
    );
    assert!(err("two words\n", VectorFormat::Text).starts_with("<input>:1: expected a header"));
    assert_eq!(
        err("1 0\n", VectorFormat::Text),
        "<input>:1: the header declares 0 dimensions, expected 1 to 65536"
    );
    assert_eq!(
        err("9 99999999999\n", VectorFormat::Binary),
        "<input>:1: the header declares 99999999999 dimensions, expected 1 to 65536"
    );
    assert_eq!(
        err("a 1 2\nb 3\n", VectorFormat::Glove),
        "<input>:2: `b` has 1 numbers, expected 2"
    );
    let mut bin = b"2 2\na ".to_vec();
    bin.extend(1f32.to_le_bytes());
    assert_eq!(
        read(&bin[..], VectorFormat::Binary)
            .unwrap_err()
            .to_string(),
        "<input>: vector 1 of 2: `a`'s vector is cut short, expected 2 floats"
    );
    let mut bin = b"2 1\na ".to_vec();
    bin.extend(1f32.to_le_bytes());
    bin.push(b'\n');
    assert_eq!(
        read(&bin[..], VectorFormat::Binary)
            .unwrap_err()
            .to_string(),
        "<input>: vector 2 of 2: the file ends, but the header declares 2 vectors"
    );
}
