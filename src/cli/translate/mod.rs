//! `attend translate …`: train, evaluate and use translation models, and
//! import the PyTorch tutorial's. The work is `attend::seq2seq`; this file
//! turns flags into configs and results into text.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use attend::data::TextLines;
use attend::decode::SearchOverrides;
use attend::seq2seq;
use attend::seq2seq::{
    DecodeConfig, DecoderKind, TranslateConfig, Translation, Translator, import_tutorial,
};
use attend::text::WORD_START;
use attend::train::{ModelDir, Pick, average_into};
use attend::viz::{AttentionMap, HeatmapStyle, plot_attention, render_attention_text};
use clap::{Args, Subcommand};

use super::Globals;
use super::common::TrainRun;
use super::flags::{DataFlags, RnnFlags, TrainFlags, beam_width, table_values};
use corpus::CorpusFlags;
use eval::{EvalArgs, eval};

mod corpus;
mod eval;

/// Translation commands.
#[derive(Debug, Subcommand)]
pub enum TranslateCommand {
    /// Train a model (or resume one with --resume).
    Train(Box<TrainArgs>),
    /// Score a model: BLEU (sacreBLEU), exact match, speed.
    Eval(EvalArgs),
    /// Translate sentences given as arguments, or lines of standard input.
    Run(RunArgs),
    /// Average the weights of a run's last or best validations into a new
    /// model directory (checkpoint averaging).
    Average(AverageArgs),
    /// Turn the PyTorch tutorial's state dict + vocabulary into a model directory.
    ImportPytorch(ImportArgs),
}

/// `--recipe`'s values, from the library's [`TranslateConfig::RECIPES`].
fn recipe_name() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        TranslateConfig::RECIPES
            .iter()
            .map(|(name, help)| clap::builder::PossibleValue::new(*name).help(*help)),
    )
}

/// `attend translate train` flags; each overrides the config file.
#[derive(Debug, Args)]
#[command(
    mut_arg("data", |a| a.help("Dataset name (eng-fra, multi30k) or path of a TSV of sentence pairs")),
    mut_arg("cell", |a| a.help("Recurrent cell of encoder and decoder")),
    mut_arg("batch_size", |a| a.help("Pairs per batch")),
)]
pub struct TrainArgs {
    #[command(flatten)]
    run: TrainRun,
    /// Start from a named recipe instead of the defaults (the config file
    /// and flags go over it).
    #[arg(long, value_parser = recipe_name(), value_name = "NAME")]
    recipe: Option<String>,
    #[command(flatten)]
    data: DataFlags,
    #[command(flatten)]
    corpus: CorpusFlags,
    /// The lesson's pipeline: normalizeString, MAX_LENGTH, English prefixes.
    #[arg(long)]
    tutorial_filter: bool,
    /// Swap the columns (eng-fra → French to English, as the lesson does).
    #[arg(long)]
    reverse: bool,
    /// Longest training sentence kept, in words a side (default 100, at
    /// most 10,000; longer pairs are skipped and counted); with
    /// --tutorial-filter: fewer than N words (default 10).
    #[arg(long, value_name = "N")]
    max_len: Option<usize>,
    #[command(flatten)]
    rnn: RnnFlags,
    /// Decoder attention.
    #[arg(long, value_parser = table_values(&DecoderKind::ALL), value_name = "KIND")]
    attention: Option<DecoderKind>,
    /// Hidden size (and embedding size).
    #[arg(long, value_name = "N")]
    hidden: Option<usize>,
    /// Bidirectional encoder (the default recipe's).
    #[arg(long, conflicts_with = "unidirectional")]
    bidirectional: bool,
    /// Encoder reads left to right only (the tutorial's encoder).
    #[arg(long)]
    unidirectional: bool,
    /// Luong input feeding for `--attention dot|general` (Luong et al. 2015
    /// §3.3; slower to train: the decoder then runs step by step).
    #[arg(long)]
    input_feeding: bool,
    #[command(flatten)]
    train: TrainFlags,
    /// Probability of feeding the gold token (else the model's own) at each step.
    #[arg(long, value_name = "R")]
    teacher_forcing: Option<f64>,
}

/// How to search, shared by `eval` and `run`. Without a flag, each setting
/// is the model's own: the `decode` section of its `config.json` (beam 5,
/// α 0.6, batches of 64 unless its training config said otherwise).
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Beam search with N beams; without --beam, --greedy or --sample: the
    /// model's search (beam 5, the default of OpenNMT and JoeyNMT, unless its
    /// config says otherwise).
    #[arg(long, value_name = "N", value_parser = beam_width)]
    beam: Option<usize>,
    /// Greedy search: the most probable token at every step (fastest).
    #[arg(long, conflicts_with_all = ["beam", "sample"])]
    greedy: bool,
    /// Beam search length penalty α (GNMT) [default: the model's, 0.6].
    #[arg(long, value_name = "A")]
    alpha: Option<f64>,
    /// Sample instead of searching (seeded by --seed).
    #[arg(long, conflicts_with = "beam")]
    sample: bool,
    /// Sampling temperature [default: the model's, else 1].
    #[arg(long, value_name = "T", requires = "sample")]
    temperature: Option<f64>,
    /// Sample among the K most probable tokens.
    #[arg(long, value_name = "K", requires = "sample")]
    top_k: Option<usize>,
    /// Sample among the most probable tokens holding probability P.
    #[arg(long, value_name = "P", requires = "sample")]
    top_p: Option<f64>,
    /// Read at most N tokens of a source; the rest is cut with a warning
    /// (default: 4 × the longest source the model was trained on, or 400).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_src_len: Option<u64>,
    /// Sentences decoded together (1: one at a time, for latency). Results
    /// do not depend on it [default: the model's, 64].
    #[arg(long, value_name = "N")]
    batch_size: Option<usize>,
}

/// `attend translate run` flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Model directory; several (--model A --model B) decode as an
    /// ensemble (the decoding defaults are the first's).
    #[arg(long = "model", value_name = "DIR", required = true)]
    models: Vec<PathBuf>,
    /// Sentences to translate (default: each line of standard input).
    sentences: Vec<String>,
    #[command(flatten)]
    search: SearchArgs,
    /// Print the K best translations of each sentence (beam search only).
    #[arg(long, value_name = "K", conflicts_with_all = ["greedy", "sample"])]
    n_best: Option<usize>,
    /// Draw the attention of each translation to FILE.png or FILE.svg
    /// (several sentences: FILE-1.png, FILE-2.png, …).
    #[arg(long, value_name = "FILE")]
    heatmap: Option<PathBuf>,
    /// Print the attention matrix under each translation.
    #[arg(long)]
    show_attention: bool,
    /// Show attention over whole words instead of subword pieces (a source
    /// word gets the sum of its pieces' weights, an output word the mean of
    /// its pieces' rows).
    #[arg(long)]
    merge_subwords: bool,
}

/// `attend translate average` flags.
#[derive(Debug, Args)]
#[group(id = "pick", required = true, args = ["last", "best"])]
pub struct AverageArgs {
    /// Model directory of a training run (it keeps the weights of its last
    /// and best validations: train.keep_snapshots, 5 by default).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Average the N latest validations' weights.
    #[arg(long, value_name = "N", conflicts_with = "best")]
    last: Option<usize>,
    /// Average the N best validations' weights (by the run's selection metric).
    #[arg(long, value_name = "N")]
    best: Option<usize>,
    /// New model directory to write.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// `attend translate import-pytorch` flags.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The tutorial's state dict as safetensors (encoder.* and decoder.* names).
    #[arg(long, value_name = "FILE")]
    weights: PathBuf,
    /// The tutorial's vocabularies (input_lang, output_lang, hidden_size, max_length).
    #[arg(long, value_name = "FILE")]
    vocab: PathBuf,
    /// Model directory to write.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Runs a `translate` command.
pub fn run(cmd: TranslateCommand, globals: &Globals) -> Result<ExitCode> {
    match cmd {
        TranslateCommand::Train(args) => train(&args, globals),
        TranslateCommand::Eval(args) => eval(&args, globals),
        TranslateCommand::Run(args) => translate(&args, globals),
        TranslateCommand::Average(args) => average(&args),
        TranslateCommand::ImportPytorch(args) => import(&args),
    }
}

fn train(args: &TrainArgs, globals: &Globals) -> Result<ExitCode> {
    let recipe = args.recipe.as_deref().and_then(TranslateConfig::recipe);
    let cfg: TranslateConfig = args
        .run
        .config_from(recipe, RESUME_FLAGS, |cfg| apply_flags(cfg, args, globals))?;
    args.run.stop_gracefully_on_signals()?;
    let report = seq2seq::train(&cfg, &args.run.options(globals.threads))?;
    let (read, train, valid, test) = report.sizes;
    eprintln!(
        "{read} pairs read; train {train}, valid {valid}, test {test}; vocabularies {} / {}",
        report.vocab.0, report.vocab.1
    );
    Ok(args
        .run
        .finish(&report.summary, &cfg.train.select_metric, "translate"))
}

/// Config fields whose flag is not named after them (see [`TrainRun::config`]).
const RESUME_FLAGS: &[(&str, &str)] = &[
    ("model.decoder", "--attention"),
    ("model.embed", "--hidden"),
    ("model.bidirectional", "--bidirectional/--unidirectional"),
    ("task.batch.batch_size", "--batch-size"),
];

fn apply_flags(cfg: &mut TranslateConfig, a: &TrainArgs, g: &Globals) -> Result<()> {
    a.data.apply(cfg);
    a.corpus.apply(&mut cfg.data);
    let d = &mut cfg.data;
    d.tutorial_filter |= a.tutorial_filter;
    d.reverse |= a.reverse;
    if a.max_len.is_some() {
        d.max_len = a.max_len;
    }
    a.rnn.apply(cfg);
    let m = &mut cfg.model;
    if let Some(k) = a.attention {
        m.decoder = k;
        if m.decoder == DecoderKind::Tutorial && m.max_length.is_none() {
            m.max_length = Some(cfg.data.max_len.unwrap_or(10));
        }
    }
    if let Some(h) = a.hidden {
        m.hidden = h;
        m.embed = h;
    }
    if a.bidirectional || a.unidirectional {
        m.bidirectional = a.bidirectional;
    }
    m.input_feeding |= a.input_feeding;
    a.train.apply(cfg, g.seed_flag);
    if let Some(r) = a.teacher_forcing {
        cfg.task.teacher_forcing = r;
    }
    if a.input_feeding && cfg.model.decoder.luong_score().is_none() {
        bail!(
            "--input-feeding is Luong's, for --attention dot or general, not {:?}",
            cfg.model.decoder
        );
    }
    Ok(())
}

/// The model's `decode` section (`saved`) with the flags over it. `--greedy`,
/// `--sample` and `--beam` (or a beam knob: `--alpha`, `--n-best`) choose
/// the search, starting from the saved search's knobs when it is the same
/// kind and from the knobs' defaults when not; without them the saved search
/// stays. `--seed` overrides a saved sampling seed.
pub(super) fn decode_config(
    s: &SearchArgs,
    n_best: Option<usize>,
    saved: &DecodeConfig,
    g: &Globals,
) -> DecodeConfig {
    let overrides = SearchOverrides {
        greedy: s.greedy,
        sample: s.sample,
        beam: s.beam,
        alpha: s.alpha,
        n_best,
        temperature: s.temperature,
        top_k: s.top_k,
        top_p: s.top_p,
        seed: g.seed_flag,
    };
    let search = overrides.apply(saved.search, g.seed);
    DecodeConfig {
        search,
        batch_size: s.batch_size.unwrap_or(saved.batch_size),
        ..*saved
    }
}

/// Loads the models of `--model` (one, or an ensemble's members) with
/// `--max-src-len` applied; at least one, as clap requires.
pub(super) fn load_all(models: &[PathBuf], search: &SearchArgs) -> Result<Vec<Translator>> {
    if models.is_empty() {
        bail!("--model: no model directory given");
    }
    models
        .iter()
        .map(|m| {
            let tr = Translator::load(m)?;
            Ok(match search.max_src_len {
                Some(n) => tr.with_source_limit(usize::try_from(n).unwrap_or(usize::MAX)),
                None => tr,
            })
        })
        .collect()
}

/// One warning line for the sources the model reads only the start of.
pub(super) fn warn_long_sources<'a>(tr: &Translator, sources: impl IntoIterator<Item = &'a str>) {
    let limit = tr.source_limit();
    let long: Vec<(usize, usize)> = sources
        .into_iter()
        .enumerate()
        .map(|(i, s)| (i + 1, tr.text().src_tokens(s).map_or(0, |t| t.len())))
        .filter(|&(_, n)| n > limit)
        .collect();
    if let Some(&(first, n)) = long.first() {
        eprintln!(
            "warning: {} source(s) longer than {limit} tokens cut to their first {limit} (sentence {first} has {n}); --max-src-len sets the limit",
            long.len()
        );
    }
}

fn translate(args: &RunArgs, globals: &Globals) -> Result<ExitCode> {
    let members = load_all(&args.models, &args.search)?;
    let tr = &members[0];
    let sentences: Vec<String> = if args.sentences.is_empty() {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprintln!("reading sentences from standard input, one per line (Ctrl-D ends)");
        }
        match TextLines::new(stdin.lock(), "one sentence per line")
            .map(|r| r.map(|(_, line)| line))
            .collect::<attend::Result<_>>()
        {
            // The only error without a line: nothing came at all.
            Err(attend::Error::Format { line: None, .. }) => anyhow::bail!(
                "no sentences: give them as arguments or one per line on standard input"
            ),
            read => read.map_err(|e| e.at_path(Path::new("<stdin>")))?,
        }
    } else {
        args.sentences.clone()
    };
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    warn_long_sources(tr, refs.iter().copied());
    let cfg = decode_config(&args.search, args.n_best, tr.decode_config(), globals);
    let all = Translator::ensemble_n_best(&members.iter().collect::<Vec<_>>(), &refs, &cfg)?;
    let mut out = std::io::stdout().lock();
    for (i, alternatives) in all.iter().enumerate() {
        match args.n_best {
            Some(_) => {
                for (rank, t) in alternatives.iter().enumerate() {
                    writeln!(out, "{}\t{}\t{:.4}\t{}", i + 1, rank + 1, t.score, t.text)?;
                }
            }
            None => writeln!(out, "{}", alternatives.first().map_or("", |t| &t.text))?,
        }
        let Some(best) = alternatives.first() else {
            continue;
        };
        if args.show_attention || args.heatmap.is_some() {
            let mut map = attention_map(best)?;
            if args.merge_subwords {
                map = map.merge_pieces(WORD_START)?;
            }
            if args.show_attention {
                writeln!(out, "{}", render_attention_text(&map))?;
            }
            if let Some(path) = &args.heatmap {
                let path = numbered(path, i, all.len());
                plot_attention(&path, &map, &HeatmapStyle::default())?;
                eprintln!(
                    "attention of sentence {} drawn to {}",
                    i + 1,
                    path.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The attention of one translation: source tokens across (padding slots of
/// the tutorial decoder dropped), output tokens down, `<eos>` when emitted.
fn attention_map(t: &Translation) -> Result<AttentionMap> {
    let n = t.source_tokens.len();
    let mut output = t.tokens.clone();
    if t.finished {
        output.push("<eos>".into());
    }
    let weights = t
        .attention
        .iter()
        .map(|row| row.iter().take(n).copied().collect())
        .collect();
    if t.attention.is_empty() && !output.is_empty() {
        bail!("this model has no attention to show (it was trained without attention)");
    }
    Ok(AttentionMap::new(t.source_tokens.clone(), output, weights)?)
}

/// `dir/name.png` → `dir/name-3.png` when several sentences share one flag.
fn numbered(path: &Path, i: usize, total: usize) -> PathBuf {
    if total <= 1 {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(String::new, |e| e.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}-{}.{ext}", i + 1))
}

fn average(args: &AverageArgs) -> Result<ExitCode> {
    let pick = match (args.last, args.best) {
        (Some(n), _) => Pick::Last(n),
        (None, Some(n)) => Pick::Best(n),
        (None, None) => bail!("give --last N or --best N"),
    };
    let src = ModelDir::open(&args.model)?;
    let chosen = average_into(&src, pick, &args.out, "model.safetensors")?;
    // The new directory must load as a model (and a bad one is an error now).
    Translator::load(&args.out)
        .with_context(|| format!("loading the averaged model in {}", args.out.display()))?;
    let steps: Vec<String> = chosen
        .iter()
        .map(|s| format!("step {} ({:.4})", s.step, s.metric))
        .collect();
    eprintln!(
        "averaged {} snapshots into {}: {}",
        chosen.len(),
        args.out.display(),
        steps.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

fn import(args: &ImportArgs) -> Result<ExitCode> {
    let tr = import_tutorial(&args.weights, &args.vocab)?;
    let dir = ModelDir::create(&args.out)?;
    tr.save(&dir)?;
    eprintln!("imported the tutorial model into {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests;
