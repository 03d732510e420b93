//! Tests of `labelled` (kept beside it, in their own file).

use super::*;

fn fmt(delimiter: Delimiter, header: bool, text: &[Column], label: Column) -> LabelledFormat {
    LabelledFormat {
        delimiter,
        header,
        text: text.to_vec(),
        label,
    }
}

fn read(data: &str, f: &LabelledFormat) -> Result<Vec<Example>> {
    reader(data.as_bytes(), f)?.collect()
}

#[test]
fn csv_quoting_and_joined_columns() {
    let data = "\"3\",\"Fears, \"\"T N\"\"\",\"Unions\nsay\"\n\"4\",\"Race\",\"On\"\n";
    let f = fmt(
        Delimiter::Csv,
        false,
        &[Column::Index(1), Column::Index(2)],
        Column::Index(0),
    );
    let got = read(data, &f).unwrap();
    assert_eq!(got[0].text, "Fears, \"T N\" Unions\nsay");
    assert_eq!(got[0].label, "3");
    assert_eq!(
        got[1],
        Example {
            text: "Race On".into(),
            label: "4".into()
        }
    );
}

#[test]
fn columns_by_header_name_and_tsv_quotes_are_text() {
    let data = "split\tlabel\ttext\ntrain\tpos\tA \"great\" film\n";
    let f = fmt(
        Delimiter::Tsv,
        true,
        &["text".parse().unwrap()],
        "label".parse().unwrap(),
    );
    let got = read(data, &f).unwrap();
    assert_eq!(
        got,
        [Example {
            text: "A \"great\" film".into(),
            label: "pos".into()
        }]
    );
    let f = fmt(
        Delimiter::Tsv,
        true,
        &[Column::Name("review".into())],
        Column::Index(1),
    );
    let e = read(data, &f).err().unwrap().to_string();
    assert_eq!(
        e,
        "<input>:1: no column `review` in the header (columns: split, label, text)"
    );
    let f = fmt(
        Delimiter::Tsv,
        false,
        &[Column::Name("text".into())],
        Column::Index(1),
    );
    assert!(matches!(read(data, &f), Err(Error::Config(_))));
}

#[test]
fn missing_column_and_empty_files_are_errors() {
    let f = fmt(
        Delimiter::Csv,
        true,
        &[Column::Name("X".into())],
        Column::Name("y".into()),
    );
    let e = read("y,X\nWorld,Title\nSports\n", &f)
        .unwrap_err()
        .to_string();
    assert_eq!(e, "<input>:3: expected at least 2 columns, found 1");
    let e = read("", &f).unwrap_err().to_string();
    assert_eq!(e, "<input>: file is empty, expected labelled CSV rows");
    let e = read("y,X\n", &f).unwrap_err().to_string();
    assert_eq!(
        e,
        "<input>: no rows after the header, expected labelled text rows"
    );
    let nohead = fmt(Delimiter::Csv, false, &[Column::Index(1)], Column::Index(0));
    let e = read("", &nohead).unwrap_err().to_string();
    assert_eq!(e, "<input>: file is empty, expected labelled text rows");
}

#[test]
fn bad_rows_are_skipped_with_their_lines_or_stop_the_read() {
    let f = fmt(
        Delimiter::Csv,
        true,
        &[Column::Name("X".into())],
        Column::Name("y".into()),
    );
    let data = "y,X\nWorld,Title\nSports\nBusiness,  \n\"Sci\",\"two\nlines\"\nWorld,Last\n";
    let mut r = reader(data.as_bytes(), &f).unwrap().bad_rows(BadRows::Skip);
    let got: Vec<Example> = r.by_ref().collect::<Result<_>>().unwrap();
    let texts: Vec<&str> = got.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts, ["Title", "two\nlines", "Last"]);
    let skipped: Vec<String> = r.skipped().iter().map(|s| s.to_string()).collect();
    assert_eq!(
        skipped,
        [
            "line 3: expected at least 2 columns, found 1",
            "line 4: empty text"
        ]
    );
    assert_eq!(r.skipped()[1].index, 2);
    assert_eq!(kept_indices(3, r.skipped()), [0, 3, 4]);
    let e = read("y,X\nWorld,Title\nBusiness,\n", &f)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("<input>:3: empty text"), "{e}");
    // A file of bad rows only reads as no examples, not as an empty file.
    let mut r = reader("y,X\nSports\n".as_bytes(), &f)
        .unwrap()
        .bad_rows(BadRows::Skip);
    assert_eq!(r.by_ref().count(), 0);
    assert_eq!(r.skipped().len(), 1);
}

/// `n` rows `label,text i` under a header, with `bad` as data row `at`
/// (line `at + 2`).
fn rows_with(n: usize, at: usize, bad: &str) -> String {
    let mut s = String::from("label,text\n");
    for i in 0..n {
        if i == at {
            s.push_str(bad);
        } else {
            s.push_str(&format!("{},row {i}\n", ["pos", "neg"][i % 2]));
        }
    }
    s
}

#[test]
fn a_stray_quote_is_an_error_at_its_line_under_either_policy() {
    let f = fmt(
        Delimiter::Csv,
        true,
        &[Column::Name("text".into())],
        Column::Name("label".into()),
    );
    // Data row 59 is line 61: its quote never closes.
    let data = rows_with(120, 59, "neg,\"stray quote\n");
    for bad in [BadRows::Error, BadRows::Skip] {
        // The header read may already meet it (the CSV reader reads ahead).
        let e = reader(data.as_bytes(), &f)
            .and_then(|r| r.bad_rows(bad).collect::<Result<Vec<_>>>())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "<input>:61: a quoted field begins here and runs over more than 50 lines"
            ),
            "{bad:?}: {e}"
        );
    }
    // Near the end, the quote is still open when the file ends.
    let data = rows_with(20, 15, "neg,\"stray quote\n");
    let e = read(&data, &f).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "<input>:17: a quoted field begins here and is still open at the end of the file"
        ),
        "{e}"
    );
    // A second stray quote further on closes it: still an error once the
    // field runs over more than MAX_QUOTED_LINES lines.
    let mut data = rows_with(120, 10, "neg,\"opens\n");
    data.push_str("pos,closes\"\n");
    let e = read(&data, &f).unwrap_err().to_string();
    assert!(
        e.starts_with("<input>:12: a quoted field begins here and runs over more than 50 lines"),
        "{e}"
    );
    // Line breaks inside quotes are RFC 4180: a few lines read as one field.
    let data = rows_with(10, 3, "neg,\"three\nshort\r\nlines\"\n");
    let got = read(&data, &f).unwrap();
    assert_eq!(got.len(), 10);
    assert_eq!(got[3].text, "three\nshort\r\nlines");
    assert_eq!(got[4].text, "row 4");
    // Doubled quotes and a quote inside an unquoted field stay text.
    let data = rows_with(4, 1, "neg,\"say \"\"hi\"\"\"\npos,5\" tall\n");
    let got = read(&data, &f).unwrap();
    assert_eq!(got[1].text, "say \"hi\"");
    assert_eq!(got[2].text, "5\" tall");
    // A long quoted field on one line has no limit; across lines it has.
    let long = "x".repeat(MAX_QUOTED_BYTES + 10);
    let data = rows_with(3, 1, &format!("neg,\"{long}\"\n"));
    assert_eq!(read(&data, &f).unwrap()[1].text.len(), long.len());
    let data = rows_with(3, 1, &format!("neg,\"a\n{long}\"\n"));
    let e = read(&data, &f).unwrap_err().to_string();
    assert!(
        e.starts_with("<input>:3: a quoted field begins here and runs over 2 lines and more than"),
        "{e}"
    );
    // TSV has no quoting: the same quote is a character.
    let tsv = fmt(Delimiter::Tsv, false, &[Column::Index(1)], Column::Index(0));
    let got = read("neg\t\"open\npos\tb\n", &tsv).unwrap();
    assert_eq!(got.len(), 2);
}

#[test]
fn examples_keep_the_line_they_began_on() {
    let f = fmt(Delimiter::Csv, true, &[Column::Index(1)], Column::Index(0));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.csv");
    std::fs::write(&path, "y,x\na,\"two\nlines\"\nb,\nc,three\n").unwrap();
    let r = read_labelled_rows(&path, &f, BadRows::Skip).unwrap();
    assert_eq!(r.lines, [Some(2), Some(5)]);
    assert_eq!(r.skipped.len(), 1);
}

#[test]
fn invalid_utf8_names_the_line() {
    let f = fmt(Delimiter::Csv, false, &[Column::Index(1)], Column::Index(0));
    let e = reader(&b"1,ok\n2,b\xffd\n"[..], &f)
        .unwrap()
        .collect::<Result<Vec<_>>>()
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "<input>:2: invalid UTF-8, expected labelled rows as UTF-8 text"
    );
}
