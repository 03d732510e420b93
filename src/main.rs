//! The `attend` binary: parse the command line, run it, print errors as one line.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    attend::tune_allocator();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            // One line: the context chain joined, so bad input reads as
            // "reading pairs: data/x.tsv:12: expected ...".
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
