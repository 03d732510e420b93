//! The `attend` binary: parse the command line, run it, print errors as one line.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    attend::nn::tune_allocator();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        // A reader that stopped early (`| head`) is not an error.
        Err(err)
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::from(2)
        }
    }
}

/// The context chain joined on one line, so bad input reads as "reading
/// pairs: data/x.tsv:12: expected ...". A cause that its wrapper's message
/// already quotes (a library error that displays its source) is not
/// repeated, and line breaks inside a message become spaces.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}
