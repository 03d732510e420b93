//! `attend data …`: look at a dataset before training on it. The counting is
//! `attend::data::stats`; this file parses flags and prints.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use attend::data::{
    Column, DataFormat, Delimiter, Histogram, LabelledFormat, Resolver, Stats, StatsConfig,
    stats_path,
};
use clap::{Args, Subcommand, ValueEnum};

use super::Globals;

/// Dataset commands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Counts, vocabulary sizes and a length histogram of a dataset.
    Stats(StatsArgs),
}

/// File formats `--format` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// `source<TAB>target` sentence pairs.
    Pairs,
    /// Labelled text in CSV or TSV.
    Labelled,
    /// Plain text, counted as words.
    Corpus,
}

/// Field separators `--delimiter` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DelimiterArg {
    /// Comma-separated, RFC 4180 quoting.
    Csv,
    /// Tab-separated, no quoting.
    Tsv,
}

/// `attend data stats` flags.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// A dataset name (eng-fra, names, imdb, ag-news-titles, ag-news-test,
    /// text8, questions-words, wordsim353, simlex999, men3000) or a path.
    #[arg(long, value_name = "NAME|PATH")]
    data: String,
    /// Pairs: the PyTorch seq2seq lesson's pipeline (normalizeString, MAX_LENGTH,
    /// English prefixes; vocabularies count SOS and EOS).
    #[arg(long)]
    tutorial_filter: bool,
    /// Pairs: swap the columns (eng-fra becomes fra→eng, as the lesson trains).
    #[arg(long)]
    reverse: bool,
    /// Keep examples of at most N tokens per side (with --tutorial-filter: the
    /// lesson's MAX_LENGTH, fewer than N words).
    #[arg(long, value_name = "N")]
    max_len: Option<usize>,
    /// How to read a file that is not a named dataset.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Labelled: text column, by header name or 0-based index (repeat to join columns).
    #[arg(long, value_name = "COL")]
    text_col: Vec<String>,
    /// Labelled: label column, by header name or 0-based index.
    #[arg(long, value_name = "COL")]
    label_col: Option<String>,
    /// Labelled: the first row is a header.
    #[arg(long)]
    header: bool,
    /// Labelled: field separator (default: from the file name, .csv or .tsv).
    #[arg(long, value_enum)]
    delimiter: Option<DelimiterArg>,
}

/// Runs a `data` command.
pub fn run(cmd: DataCommand, _globals: &Globals) -> Result<ExitCode> {
    match cmd {
        DataCommand::Stats(args) => stats(&args),
    }
}

fn stats(args: &StatsArgs) -> Result<ExitCode> {
    let resolved = Resolver::from_env().resolve(&args.data)?;
    let format = match (args.format, resolved.dataset) {
        (Some(f), _) => format_from_flags(f, args, &resolved.path)?,
        (None, Some(d)) => (d.format)(),
        (None, None) => bail!(
            "{}: not a named dataset: say how to read it with --format pairs|labelled|corpus",
            resolved.path.display()
        ),
    };
    let cfg = StatsConfig {
        tutorial: args.tutorial_filter,
        reverse: args.reverse,
        max_len: args.max_len,
    };
    let stats = stats_path(&resolved.path, &format, &cfg)?;
    match resolved.dataset {
        Some(d) => println!("{} ({})", d.name, resolved.path.display()),
        None => println!("{}", resolved.path.display()),
    }
    print!("{}", render(&stats, cfg.tutorial));
    Ok(ExitCode::SUCCESS)
}

fn format_from_flags(f: FormatArg, args: &StatsArgs, path: &Path) -> Result<DataFormat> {
    Ok(match f {
        FormatArg::Pairs => DataFormat::Pairs(["src".into(), "tgt".into()]),
        FormatArg::Corpus => DataFormat::Corpus,
        FormatArg::Labelled => {
            let Some(label) = &args.label_col else {
                bail!("--format labelled needs --label-col (and --text-col)");
            };
            if args.text_col.is_empty() {
                bail!("--format labelled needs --text-col (and --label-col)");
            }
            let name = path.to_string_lossy();
            let name = name.strip_suffix(".gz").unwrap_or(&name);
            let delimiter = match args.delimiter {
                Some(DelimiterArg::Csv) => Delimiter::Csv,
                Some(DelimiterArg::Tsv) => Delimiter::Tsv,
                None if name.ends_with(".csv") => Delimiter::Csv,
                None if name.ends_with(".tsv") => Delimiter::Tsv,
                None => bail!("{}: say --delimiter csv or tsv", path.display()),
            };
            let col = |s: &String| s.parse::<Column>().unwrap_or_else(|never| match never {});
            DataFormat::Labelled(LabelledFormat {
                delimiter,
                header: args.header,
                text: args.text_col.iter().map(col).collect(),
                label: col(label),
            })
        }
    })
}

/// The report: counts, vocabularies, labels, one histogram per side.
fn render(s: &Stats, tutorial: bool) -> String {
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    line(format!("read {} {}", thousands(s.read), s.unit));
    line(format!("kept {} {}", thousands(s.kept), s.unit));
    if let Some(first) = s.sides.first()
        && first.specials > 0
    {
        let which = if tutorial {
            "SOS, EOS"
        } else {
            "<pad>, <unk>, <sos>, <eos>"
        };
        line(format!(
            "vocabulary (incl. {} specials: {which}):",
            first.specials
        ));
    } else {
        line("vocabulary:".to_string());
    }
    for side in &s.sides {
        line(format!(
            "  {} {} words, {} tokens",
            side.name,
            thousands(side.vocab as u64),
            thousands(side.tokens)
        ));
    }
    if !s.labels.is_empty() {
        line(format!("labels ({}):", s.labels.len()));
        for (label, n) in &s.labels {
            line(format!("  {label} {}", thousands(*n)));
        }
    }
    for side in &s.sides {
        if let Some(h) = &side.lengths {
            line(format!(
                "lengths of {} (tokens): min {}, mean {:.1}, max {}",
                side.name, h.min, h.mean, h.max
            ));
            for l in histogram_lines(h) {
                line(l);
            }
        }
    }
    out
}

fn histogram_lines(h: &Histogram) -> Vec<String> {
    const BAR: u64 = 40;
    let top = h.counts.iter().copied().max().unwrap_or(0).max(1);
    let rows: Vec<(String, u64)> = h
        .counts
        .iter()
        .enumerate()
        .skip(h.min / h.bin_width)
        .map(|(k, &n)| {
            let lo = k * h.bin_width;
            let range = if h.bin_width == 1 {
                lo.to_string()
            } else {
                format!("{lo}-{}", lo + h.bin_width - 1)
            };
            (range, n)
        })
        .collect();
    let width = rows.iter().map(|(r, _)| r.len()).max().unwrap_or(0);
    let count_width = thousands(top).len();
    rows.into_iter()
        .map(|(range, n)| {
            let bar = "#".repeat((n * BAR).div_ceil(top) as usize);
            format!("  {range:>width$} | {:>count_width$} {bar}", thousands(n))
        })
        .collect()
}

/// 135842 → "135,842".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(135842), "135,842");
        assert_eq!(thousands(16912368), "16,912,368");
    }
}
