//! `attend data …`: look at a dataset before training on it.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use super::Globals;

/// Dataset commands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Counts, vocabulary sizes and a length histogram of a dataset.
    Stats,
}

/// Runs a `data` command.
pub fn run(cmd: DataCommand, _globals: &Globals) -> Result<ExitCode> {
    match cmd {
        DataCommand::Stats => anyhow::bail!("`attend data stats` is not available yet"),
    }
}
