//! The `attend` binary: parse the command line, run it, print errors as one line.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tune_allocator();
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

/// Keeps freed tensor memory in the heap instead of returning it to the OS.
///
/// glibc serves blocks over 128 KiB with `mmap` and unmaps them on free, so
/// every training step page-faults its activations in again, and page faults
/// from two threads serialise on the process's memory-map lock. Measured on the
/// 2-core reference machine (one seq2seq step, hidden 256, batch 64, two batch
/// shards): 1.55 s → 0.87 s per 10 steps with these settings, against 1.53 s
/// without. Memory returns to the OS at exit; the heap keeps at most what one
/// step needs.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
    }
}
