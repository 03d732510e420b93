//! The `attend` binary: parse the command line, run it, print errors as one line.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    attend::tune_allocator();
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
            // One line: the context chain joined, so bad input reads as
            // "reading pairs: data/x.tsv:12: expected ...".
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
