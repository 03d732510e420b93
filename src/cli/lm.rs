//! `attend lm …`: train, evaluate and sample RNN language models. The work is
//! `attend::lm`; this file turns flags into configs and results into text.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use attend::decode::SearchOverrides;
use attend::lm::{self, LmRunConfig};
use attend::lm::{GenerateConfig, Generator, MAX_LENGTH};
use attend::text::Level;
use attend::train::EarlyStoppingConfig;
use clap::{Args, Subcommand};

use super::Globals;
use super::common::TrainRun;
use super::flags::{DataFlags, LevelArg, ModelFlags, TrainFlags, beam_width};

/// Language-model commands.
#[derive(Debug, Subcommand)]
pub enum LmCommand {
    /// Train a language model (or resume one with --resume).
    Train(Box<TrainArgs>),
    /// Perplexity and bits per character of held-out text.
    Eval(EvalArgs),
    /// Generate text: greedy, sampling (temperature, top-k, top-p) or beam search.
    Generate(GenerateArgs),
}

/// `attend lm train` flags; each overrides the config file.
#[derive(Debug, Args)]
#[command(
    mut_arg("data", |a| a.help(
        "Dataset name (text8, names) or path of a text file (or of a CSV/TSV with --text-col)"
    )),
    mut_arg("batch_size", |a| a.help("Parallel streams, or lines, per batch")),
)]
pub struct TrainArgs {
    #[command(flatten)]
    run: TrainRun,
    #[command(flatten)]
    data: DataFlags,
    /// Tokens are characters or words.
    #[arg(long, value_enum)]
    level: Option<LevelArg>,
    /// Read a text file as one sequence per line (names, titles) instead of one stream.
    #[arg(long)]
    lines: bool,
    /// Text column of a CSV/TSV given by path.
    #[arg(long, value_name = "C")]
    text_col: Option<String>,
    /// Condition the model on this column (e.g. `language` for names).
    #[arg(long, value_name = "C")]
    condition_col: Option<String>,
    /// Streams: test on the last N characters, validate on the N before them.
    #[arg(long, value_name = "N")]
    holdout_chars: Option<usize>,
    /// Tokens seen fewer times become <unk>.
    #[arg(long, value_name = "N")]
    min_freq: Option<u64>,
    /// Keep at most this many tokens.
    #[arg(long, value_name = "N")]
    max_vocab: Option<usize>,
    /// Lines: keep at most N tokens of a line (default 1,000, at most
    /// 100,000; longer lines are cut, with a count).
    #[arg(long, value_name = "N")]
    max_len: Option<usize>,
    /// Hidden units.
    #[arg(long, value_name = "N")]
    hidden: Option<usize>,
    #[command(flatten)]
    model: ModelFlags,
    /// Share the embedding table with the output layer (embed = hidden).
    #[arg(long)]
    tie_weights: bool,
    #[command(flatten)]
    train: TrainFlags,
    /// Steps of truncated backpropagation through time (streams).
    #[arg(long, value_name = "N")]
    bptt: Option<usize>,
    /// Feed the model's own samples with a rising probability (Bengio et al. 2015).
    #[arg(long)]
    scheduled_sampling: bool,
    /// The highest probability of feeding a sample (with --scheduled-sampling).
    #[arg(long, value_name = "P", requires = "scheduled_sampling")]
    sampling_max: Option<f64>,
    /// Validate during training on the first N tokens of the validation part.
    #[arg(long, value_name = "N")]
    valid_tokens: Option<usize>,
    /// Clip the gradient norm to this value.
    #[arg(long, value_name = "NORM")]
    clip: Option<f64>,
    /// Stop after this many validations without improvement.
    #[arg(long, value_name = "N")]
    patience: Option<u64>,
}

/// `attend lm eval` flags.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model directory.
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Score this dataset or file instead of the held-out test part saved with the model.
    #[arg(long, value_name = "NAME|PATH")]
    data: Option<String>,
    /// Print JSON (keys perplexity, bits_per_char, loss, tokens, data).
    #[arg(long)]
    json: bool,
}

/// `attend lm generate` flags.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Model directory.
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Text to continue.
    #[arg(long, value_name = "TEXT", default_value = "")]
    prime: String,
    /// The condition of a conditioned model (e.g. a language of the names model).
    #[arg(long, value_name = "LABEL")]
    condition: Option<String>,
    /// The most probable token at every step.
    #[arg(long, conflicts_with_all = ["beam", "temperature", "top_k", "top_p"])]
    greedy: bool,
    /// Sampling temperature (sampling is the default search, unless the
    /// model's saved `decode` section says otherwise).
    #[arg(long, value_name = "T")]
    temperature: Option<f64>,
    /// Sample from the K most probable tokens.
    #[arg(long, value_name = "K")]
    top_k: Option<usize>,
    /// Sample from the smallest set of tokens with probability ≥ P.
    #[arg(long, value_name = "P")]
    top_p: Option<f64>,
    /// Beam search with N beams, ranked by log-probability (no length penalty).
    #[arg(long, value_name = "N", conflicts_with_all = ["temperature", "top_k", "top_p"], value_parser = beam_width)]
    beam: Option<usize>,
    /// Tokens to generate at most (default: the model's `decode.length`,
    /// else 30 for a line model, 200 for a stream), at most 1,000,000. Greedy decoding and sampling print each
    /// token as it comes when one text is generated without --json; beam
    /// search prints its texts at the end.
    #[arg(long, value_name = "N")]
    length: Option<usize>,
    /// Texts to generate (beam: the best N, N ≤ beams).
    #[arg(long, value_name = "N", default_value_t = 1)]
    count: usize,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
}

/// Runs an `attend lm` command.
pub fn run(cmd: LmCommand, g: &Globals) -> Result<ExitCode> {
    match cmd {
        LmCommand::Train(a) => train(*a, g),
        LmCommand::Eval(a) => eval(a),
        LmCommand::Generate(a) => generate(a, g),
    }
}

/// Config fields whose flag is not named after them (see [`TrainRun::config`]).
const RESUME_FLAGS: &[(&str, &str)] = &[
    ("task.scheduled_sampling", "--scheduled-sampling"),
    ("train.clip_norm", "--clip"),
    ("train.early_stopping", "--patience"),
];

fn config(a: &TrainArgs, g: &Globals) -> Result<LmRunConfig> {
    a.run.config(RESUME_FLAGS, |cfg| apply_flags(cfg, a, g))
}

fn apply_flags(cfg: &mut LmRunConfig, a: &TrainArgs, g: &Globals) -> Result<()> {
    a.data.apply(cfg);
    let d = &mut cfg.data;
    if let Some(l) = a.level {
        d.level = l.into();
    }
    d.lines |= a.lines;
    if a.text_col.is_some() {
        d.text_col = a.text_col.clone();
    }
    if a.condition_col.is_some() {
        d.condition_col = a.condition_col.clone();
    }
    if a.holdout_chars.is_some() {
        d.holdout_chars = a.holdout_chars;
    }
    if let Some(n) = a.min_freq {
        d.min_freq = n;
    }
    if a.max_vocab.is_some() {
        d.max_vocab = a.max_vocab;
    }
    if a.max_len.is_some() {
        d.max_len = a.max_len;
    }
    a.model.apply(cfg);
    let m = &mut cfg.model;
    if let Some(n) = a.hidden {
        m.hidden = n;
    }
    if a.tie_weights {
        m.tie_weights = true;
        // Tying needs equal widths; the hidden size decides, unless the
        // flags ask for two.
        if let Some(e) = a.model.embed.filter(|&e| e != m.hidden) {
            anyhow::bail!(
                "--tie-weights shares one table between input and output, so --embed {e} must equal --hidden {} (or leave --embed out)",
                m.hidden
            );
        }
        m.embed = m.hidden;
    }
    a.train.apply(cfg, g.seed_flag);
    let t = &mut cfg.task;
    if let Some(n) = a.bptt {
        t.bptt = n;
    }
    if a.valid_tokens.is_some() {
        t.valid_tokens = a.valid_tokens;
    }
    if a.scheduled_sampling {
        let mut s = t.scheduled_sampling.unwrap_or_default();
        if let Some(p) = a.sampling_max {
            s.max = p;
        }
        t.scheduled_sampling = Some(s);
    }
    let tr = &mut cfg.train;
    if let Some(c) = a.clip {
        tr.clip_norm = Some(c);
    }
    if let Some(p) = a.patience {
        tr.early_stopping = Some(EarlyStoppingConfig {
            patience: p,
            metric: "loss".into(),
            mode: attend::train::Goal::Min,
            ..EarlyStoppingConfig::default()
        });
    }
    Ok(())
}

fn train(a: TrainArgs, g: &Globals) -> Result<ExitCode> {
    let cfg = config(&a, g)?;
    a.run.stop_gracefully_on_signals()?;
    let report = lm::train(&cfg, &a.run.options(g.threads))
        .with_context(|| format!("training a language model into {}", a.run.out.display()))?;
    let (tr, va, te) = report.sizes;
    eprintln!(
        "{} tokens in the vocabulary{}; {tr} training, {va} validation, {te} test tokens",
        report.vocab,
        if report.conditions.is_empty() {
            String::new()
        } else {
            format!(", {} conditions", report.conditions.len())
        }
    );
    let metric = if cfg.data.level == Level::Char {
        "loss (nats/char)"
    } else {
        "loss (nats/token)"
    };
    Ok(a.run.finish(&report.summary, metric, "lm"))
}

fn eval(a: EvalArgs) -> Result<ExitCode> {
    let r = lm::evaluate(&a.model, a.data.as_deref())
        .with_context(|| format!("evaluating {}", a.model.display()))?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        let bpc = r
            .bits_per_char
            .map_or(String::new(), |b| format!("  bits/char {b:.4}"));
        println!(
            "{}: {} tokens  loss {:.4}  perplexity {:.3}{bpc}",
            r.data, r.tokens, r.loss, r.perplexity
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn generate(a: GenerateArgs, g: &Globals) -> Result<ExitCode> {
    let model =
        Generator::load(&a.model).with_context(|| format!("loading {}", a.model.display()))?;
    let unknown = model.unknown(&a.prime);
    if !unknown.is_empty() {
        eprintln!(
            "warning: the prime has tokens the model does not know, read as <unk>: {}",
            unknown.join(" ")
        );
    }
    // The model's saved defaults, each flag overriding what it names.
    let saved = model.decode_config()?;
    let overrides = SearchOverrides {
        greedy: a.greedy,
        beam: a.beam,
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        seed: g.seed_flag,
        ..SearchOverrides::default()
    };
    let search = saved.search_for(&overrides, a.count, g.seed);
    if let Some(n) = a.length
        && n > MAX_LENGTH
    {
        anyhow::bail!(
            "--length {n}: expected at most {MAX_LENGTH} tokens (the ceiling of `lm generate`)"
        );
    }
    let cfg = GenerateConfig {
        prime: a.prime.clone(),
        condition: a.condition.clone(),
        search,
        length: a.length.unwrap_or(saved.length_for(model.is_stream())),
        count: a.count,
    };
    // One text by greedy decoding or sampling: printed token by token, so a
    // long generation shows progress and can be cut short.
    if !a.json && a.count == 1 && a.beam.is_none() {
        let mut out = std::io::stdout().lock();
        write!(out, "{}", model.prefix(&a.prime))?;
        out.flush()?;
        let mut failed = None;
        model
            .generate_each(&cfg, &mut |_, piece| {
                if failed.is_none()
                    && let Err(e) = out.write_all(piece.as_bytes()).and_then(|()| out.flush())
                {
                    failed = Some(e);
                }
            })
            .context("generating")?;
        if let Some(e) = failed {
            return Err(e).context("writing to standard output");
        }
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let out = model.generate(&cfg).context("generating")?;
    for o in out {
        if a.json {
            println!("{}", serde_json::to_string(&o)?);
        } else {
            println!("{}", o.text);
        }
    }
    Ok(ExitCode::SUCCESS)
}
