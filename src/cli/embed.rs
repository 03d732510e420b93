//! `attend embed …`: train word2vec vectors, query them, evaluate them,
//! convert between formats. The work is `attend::embed`; this file turns
//! flags into configs and results into text.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use attend::data::Resolver;
use attend::data::vectors::{self, AnalogyMethod, Embeddings, Neighbour, VectorFormat};
use attend::embed::eval::{self, ANALOGY_RESTRICT, SIMILARITY_RESTRICT};
use attend::embed::{Architecture, Corpus, CorpusConfig, TrainConfig};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::Globals;

/// Embedding commands.
#[derive(Debug, Subcommand)]
pub enum EmbedCommand {
    /// Train word2vec vectors on a corpus.
    Train(TrainArgs),
    /// The words nearest to a word (cosine).
    Similar(SimilarArgs),
    /// A is to B as C is to ?
    Analogy(AnalogyArgs),
    /// Analogy accuracy (questions-words) and similarity correlations
    /// (WordSim-353, SimLex-999, MEN-3000) in one table.
    Eval(EvalArgs),
    /// Rewrite a vector file in another format.
    Convert(ConvertArgs),
}

/// `--model` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModelArg {
    /// Continuous skip-gram.
    Skipgram,
    /// Continuous bag of words (the C tool's default).
    Cbow,
}

/// Vector file formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    /// word2vec text.
    Text,
    /// word2vec binary.
    Binary,
    /// GloVe text (no header).
    Glove,
}

impl From<FormatArg> for VectorFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Text => VectorFormat::Text,
            FormatArg::Binary => VectorFormat::Binary,
            FormatArg::Glove => VectorFormat::Glove,
        }
    }
}

/// `attend embed train` flags; defaults are the word2vec C tool's.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Corpus: `text8` or a path (plain or .gz); a line is a sentence, cut
    /// every 10,000 words.
    #[arg(long, value_name = "text8|PATH")]
    corpus: String,
    /// Architecture.
    #[arg(long, value_enum, default_value_t = ModelArg::Cbow)]
    model: ModelArg,
    /// Vector dimensions.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Largest context distance.
    #[arg(long, default_value_t = 5)]
    window: usize,
    /// Negative samples (0: off).
    #[arg(long, default_value_t = 5)]
    negative: usize,
    /// Hierarchical softmax.
    #[arg(long)]
    hs: bool,
    /// Subsampling threshold of frequent words (0: off).
    #[arg(long, default_value_t = 1e-3)]
    sample: f64,
    /// Drop words seen fewer times.
    #[arg(long, default_value_t = 5)]
    min_count: u64,
    /// Keep at most the N most frequent words.
    #[arg(long, value_name = "N")]
    max_vocab: Option<usize>,
    /// Passes over the corpus.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Starting learning rate (default 0.05 for CBOW, 0.025 for skip-gram).
    #[arg(long)]
    alpha: Option<f32>,
    /// Final learning rate (default alpha × 1e-4).
    #[arg(long)]
    min_alpha: Option<f32>,
    /// Output vector file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Write word2vec binary instead of text.
    #[arg(long)]
    binary: bool,
    /// Print the run's numbers as one JSON object.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// `attend embed similar` flags.
#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// Vector file (word2vec text or binary, or GloVe; detected).
    #[arg(long, value_name = "FILE")]
    vectors: PathBuf,
    /// The query word.
    word: String,
    /// How many neighbours (at least 1).
    #[arg(short = 'n', long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    n: u32,
    /// Search only the N most frequent words.
    #[arg(long, value_name = "N")]
    restrict_vocab: Option<usize>,
}

/// `attend embed analogy` flags.
#[derive(Debug, Args)]
pub struct AnalogyArgs {
    /// Vector file.
    #[arg(long, value_name = "FILE")]
    vectors: PathBuf,
    /// A (is to B as C is to ?).
    a: String,
    /// B.
    b: String,
    /// C.
    c: String,
    /// How many answers (at least 1).
    #[arg(short = 'n', long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    n: u32,
    /// 3CosMul (Levy & Goldberg) instead of 3CosAdd.
    #[arg(long)]
    cosmul: bool,
    /// Search only the N most frequent words.
    #[arg(long, value_name = "N")]
    restrict_vocab: Option<usize>,
}

/// `attend embed eval` flags.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Vector file.
    #[arg(long, value_name = "FILE")]
    vectors: PathBuf,
    /// Analogy questions are scored among the N most frequent words.
    #[arg(long, value_name = "N", default_value_t = ANALOGY_RESTRICT)]
    restrict_vocab: usize,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// `attend embed convert` flags.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Input vector file (format detected).
    input: PathBuf,
    /// Output vector file.
    output: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    to: FormatArg,
}

/// Runs an embed command.
pub fn run(cmd: EmbedCommand, globals: &Globals) -> Result<ExitCode> {
    match cmd {
        EmbedCommand::Train(args) => train(args, globals),
        EmbedCommand::Similar(args) => similar(args),
        EmbedCommand::Analogy(args) => analogy(args),
        EmbedCommand::Eval(args) => evaluate(args),
        EmbedCommand::Convert(args) => convert(args),
    }
}

/// Loads a vector file, with one `warning:` line on stderr when it repeats words.
fn load(path: &std::path::Path) -> Result<Embeddings> {
    let (vectors, report) = vectors::load_report(path, None)
        .with_context(|| format!("loading vectors {}", path.display()))?;
    if let Some(w) = report.warning(path) {
        eprintln!("{w}");
    }
    Ok(vectors)
}

fn train(args: TrainArgs, globals: &Globals) -> Result<ExitCode> {
    let cfg = TrainConfig {
        architecture: match args.model {
            ModelArg::Skipgram => Architecture::SkipGram,
            ModelArg::Cbow => Architecture::Cbow,
        },
        dim: args.size,
        window: args.window,
        negative: args.negative,
        hs: args.hs,
        sample: args.sample,
        epochs: args.epochs,
        alpha: args.alpha,
        min_alpha: args.min_alpha,
        threads: globals.threads,
        seed: globals.seed,
        ..TrainConfig::default()
    };
    cfg.validate()?;
    let resolved = Resolver::from_env().resolve(&args.corpus)?;
    let path = resolved.path;
    let started = Instant::now();
    let corpus = Corpus::load(
        &path,
        &CorpusConfig {
            min_count: args.min_count,
            max_vocab: args.max_vocab,
            ..CorpusConfig::default()
        },
    )
    .with_context(|| format!("reading the corpus {}", path.display()))?;
    let vocab_seconds = started.elapsed().as_secs_f64();
    if !args.json {
        eprintln!(
            "vocabulary: {} words seen ≥ {} times (of {} distinct; {} corpus words, {} kept) in {vocab_seconds:.1} s",
            corpus.vocab.len(),
            args.min_count,
            corpus.distinct_words,
            corpus.raw_words,
            corpus.ids.len(),
        );
    }
    let (vectors, report) = attend::embed::train(&corpus, &cfg, args.quiet || args.json)?;
    let format = if args.binary {
        VectorFormat::Binary
    } else {
        VectorFormat::Text
    };
    vectors::save(&vectors, &args.out, format)
        .with_context(|| format!("saving vectors to {}", args.out.display()))?;
    if args.json {
        let out = json!({
            "model": match cfg.architecture { Architecture::SkipGram => "skipgram", Architecture::Cbow => "cbow" },
            "size": cfg.dim, "window": cfg.window, "negative": cfg.negative, "hs": cfg.hs,
            "sample": cfg.sample, "min_count": args.min_count, "epochs": cfg.epochs,
            "alpha": cfg.start_alpha(), "threads": cfg.threads, "seed": cfg.seed,
            "vocab_size": corpus.vocab.len(), "corpus_words": corpus.raw_words,
            "vocab_seconds": vocab_seconds, "train_seconds": report.seconds,
            "words": report.words, "effective_words": report.effective_words,
            "words_per_second": report.words_per_second(),
            "effective_words_per_second": report.effective_words_per_second(),
            "epoch_losses": report.epoch_losses, "isa": format!("{:?}", report.isa),
            "out": args.out,
        });
        println!("{out}");
    } else {
        println!(
            "trained in {:.1} s: {:.0} words/s ({:.0} effective words/s after subsampling, {} threads, {:?})",
            report.seconds,
            report.words_per_second(),
            report.effective_words_per_second(),
            cfg.threads,
            report.isa,
        );
        println!(
            "saved {} vectors of {} dimensions to {}",
            vectors.len(),
            vectors.dim(),
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_neighbours(list: &[Neighbour]) {
    for n in list {
        println!("{}\t{:.4}", n.word, n.score);
    }
}

fn similar(args: SimilarArgs) -> Result<ExitCode> {
    let v = load(&args.vectors)?;
    let list = v.most_similar(
        &[args.word.as_str()],
        &[],
        args.n as usize,
        args.restrict_vocab,
    )?;
    print_neighbours(&list);
    Ok(ExitCode::SUCCESS)
}

fn analogy(args: AnalogyArgs) -> Result<ExitCode> {
    let v = load(&args.vectors)?;
    let method = if args.cosmul {
        AnalogyMethod::CosMul
    } else {
        AnalogyMethod::CosAdd
    };
    let list = v.analogy(
        [args.a.as_str(), args.b.as_str(), args.c.as_str()],
        method,
        args.n as usize,
        args.restrict_vocab,
    )?;
    print_neighbours(&list);
    Ok(ExitCode::SUCCESS)
}

const SIMILARITY_SETS: [&str; 3] = ["wordsim353", "simlex999", "men3000"];

fn evaluate(args: EvalArgs) -> Result<ExitCode> {
    let v = load(&args.vectors)?;
    let resolver = Resolver::from_env();
    let path = resolver.resolve("questions-words")?.path;
    let sections = eval::load_analogies(&path)?;
    let analogies = eval::analogies(&v, &sections, args.restrict_vocab)?;
    let mut sims = Vec::new();
    for name in SIMILARITY_SETS {
        let set = eval::load_similarity(&resolver.resolve(name)?.path)?;
        sims.push((name, eval::similarity(&v, &set, SIMILARITY_RESTRICT)));
    }
    if args.json {
        let sections: serde_json::Map<String, serde_json::Value> = analogies
            .sections
            .iter()
            .map(|(name, a)| (name.clone(), json!({"acc": a.accuracy, "n": a.questions})))
            .collect();
        let mut out = json!({
            "analogy_accuracy": analogies.overall.accuracy,
            "analogy_semantic": analogies.semantic.accuracy,
            "analogy_syntactic": analogies.syntactic.accuracy,
            "analogy_questions": analogies.overall.questions,
            "analogy_skipped": analogies.skipped,
            "analogy_sections": sections,
            "vocab_size": v.len(),
        });
        for (name, s) in &sims {
            out[*name] = serde_json::to_value(s)?;
        }
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} vectors of {} dimensions; analogies among the {} most frequent words (3CosAdd, case-insensitive)",
        v.len(),
        v.dim(),
        args.restrict_vocab.min(v.len())
    );
    println!("{:<30} {:>9} {:>9}", "set", "score", "questions");
    for (name, a) in &analogies.sections {
        println!(
            "{:<30} {:>8.2}% {:>9}",
            name,
            a.accuracy * 100.0,
            a.questions
        );
    }
    for (name, a) in [
        ("analogy: semantic", &analogies.semantic),
        ("analogy: syntactic", &analogies.syntactic),
        ("analogy: overall", &analogies.overall),
    ] {
        println!(
            "{:<30} {:>8.2}% {:>9}",
            name,
            a.accuracy * 100.0,
            a.questions
        );
    }
    println!(
        "({} questions skipped: a word outside the vocabulary)",
        analogies.skipped
    );
    println!(
        "{:<30} {:>9} {:>9} {:>7}",
        "similarity", "spearman", "pearson", "oov"
    );
    for (name, s) in &sims {
        println!(
            "{:<30} {:>9.4} {:>9.4} {:>6.2}%",
            format!("{name} ({} pairs)", s.pairs),
            s.spearman,
            s.pearson,
            s.oov_percent
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn convert(args: ConvertArgs) -> Result<ExitCode> {
    let v = load(&args.input)?;
    vectors::save(&v, &args.output, args.to.into())
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!(
        "wrote {} vectors of {} dimensions to {}",
        v.len(),
        v.dim(),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
