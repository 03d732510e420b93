//! `attend translate eval`: translate a held-out split or any file pair and
//! score it as sacreBLEU would, signature included.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use attend::data::read_parallel;
use attend::metrics::Tokenize;
use attend::seq2seq::{self, PairDataConfig, TranslateConfig, held_out};
use attend::train::ModelDir;
use clap::Args;

use super::{Globals, SearchArgs, decode_config, load_all, warn_long_sources};

/// `--tokenize`'s parser: sacreBLEU's names.
fn bleu_tokenize(name: &str) -> Result<Tokenize, String> {
    name.parse::<Tokenize>().map_err(|e| e.to_string())
}

/// `attend translate eval` flags.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model directory; several (--model A --model B) decode as an
    /// ensemble, averaging their log-probabilities (the held-out split and
    /// decoding defaults are the first's).
    #[arg(long = "model", value_name = "DIR", required = true)]
    models: Vec<PathBuf>,
    /// Pairs to score (prepared like the training data); default: the model's held-out split.
    #[arg(long, value_name = "NAME|PATH", conflicts_with = "test_src")]
    data: Option<String>,
    /// Score the pairs of two aligned files (sources, one per line, and
    /// their raw references), as they are.
    #[arg(long, value_name = "FILE", requires = "test_tgt")]
    test_src: Option<PathBuf>,
    /// The references of --test-src.
    #[arg(long, value_name = "FILE", requires = "test_src")]
    test_tgt: Option<PathBuf>,
    /// BLEU on lowercased text (sacreBLEU's -lc; the signature says case:lc).
    #[arg(long)]
    lowercase: bool,
    /// BLEU's tokenizer (sacreBLEU's --tokenize) [default: 13a for
    /// detokenized models, none for the lessons' tokenized text].
    #[arg(long, value_name = "TOK", value_parser = bleu_tokenize)]
    tokenize: Option<Tokenize>,
    /// Which held-out split of the model directory to score.
    #[arg(long, default_value = "test", value_parser = ["test", "valid"])]
    split: String,
    #[command(flatten)]
    search: SearchArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Write the translations, one per line, to FILE.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub(super) fn eval(args: &EvalArgs, globals: &Globals) -> Result<ExitCode> {
    let members = load_all(&args.models, &args.search)?;
    let (tr, model) = (&members[0], &args.models[0]);
    let pairs = match &args.data {
        Some(data) => {
            // The training run's data filters; an imported model has none.
            let saved: TranslateConfig = ModelDir::open(model)?.train_config()?.unwrap_or_default();
            let multi30k = data == seq2seq::MULTI30K;
            let data_cfg = PairDataConfig {
                dataset: data.clone(),
                src: None,
                tgt: None,
                src_lang: saved.data.src_lang.clone().filter(|_| multi30k),
                tgt_lang: saved.data.tgt_lang.clone().filter(|_| multi30k),
                ..saved.data
            };
            let (read, pairs) = seq2seq::load_pairs(&data_cfg, tr.text().config())?;
            if pairs.is_empty() {
                bail!(
                    "{data}: none of its {read} pairs is left to score after the model's data filters (pairs longer than {} tokens a side, or, with the lesson's filter, without an English prefix, are skipped)",
                    data_cfg.max_len.unwrap_or(attend::seq2seq::DEFAULT_MAX_LEN)
                );
            }
            pairs
        }
        None => match (&args.test_src, &args.test_tgt) {
            (Some(src), Some(tgt)) => read_parallel(src, tgt)?,
            _ => held_out(model, &args.split)
                .with_context(|| format!("reading the model's {} split", args.split))?,
        },
    };
    warn_long_sources(tr, pairs.iter().map(|p| p.src.as_str()));
    let cfg = decode_config(&args.search, None, tr.decode_config(), globals);
    let mut bleu = tr.text().bleu_config();
    bleu.lowercase |= args.lowercase;
    if let Some(t) = args.tokenize {
        bleu.tokenize = t;
    }
    let members: Vec<&_> = members.iter().collect();
    let report = seq2seq::evaluate(&members, &pairs, &cfg, &bleu)?;
    if let Some(path) = &args.output {
        let mut text = report.hypotheses.join("\n");
        text.push('\n');
        attend::data::atomic::write_atomic(path, |f| f.write_all(text.as_bytes()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", report.summary);
        println!("signature: {}", report.signature);
        println!("{}", report.chrf_summary);
        println!("signature: {}", report.chrf_signature);
        println!(
            "exact match {:.4} over {} sentences; {:.0} tokens/s",
            report.exact_match, report.sentences, report.tokens_per_second
        );
    }
    Ok(ExitCode::SUCCESS)
}
