//! `alro rank`: rank every request of a JSONL file; one JSON response per line on stdout.

use crate::model_path;
use alro_core::model::MatrixPrecision;
use alro_core::prompt::PromptConfig;
use alro_core::rank::{RankMode, Ranker};
use alro_core::request::RankRequest;
use anyhow::Context;
use candle_core::Device;
use clap::{Args, ValueEnum};
use std::io::{BufRead, Write};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Constrained greedy decoding of the whole list (default).
    Greedy,
    /// Rank by the first-position distribution (one forward pass).
    Single,
    /// Borda count over several presentation orders (costly).
    Bootstrap,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Jsonl,
    Text,
}

#[derive(Args)]
pub struct RankArgs {
    /// A .gguf file or a Hugging Face directory [default: $ALRO_MODEL or the setup's backbone]
    #[arg(long)]
    model: Option<PathBuf>,
    /// JSONL requests: {"history": [{"title", "rating"}], "candidates": [{"id", "title"}]}; `-` = stdin
    #[arg(long)]
    input: PathBuf,
    #[arg(long, value_enum, default_value = "greedy")]
    mode: ModeArg,
    /// Presentation orders for --mode bootstrap
    #[arg(long, default_value_t = 5)]
    orders: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// `jsonl`: one JSON response per line; `text`: a readable ranking of titles
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,
    /// History entries shown to the model, most recent kept [default: the exported model's
    /// `alro.L`, else 10]
    #[arg(long)]
    history: Option<usize>,
}

/// Reads and validates every line before any model work, so a bad line 9,000 is reported at
/// once rather than after an hour.
fn read_requests(input: &PathBuf) -> anyhow::Result<Vec<(usize, RankRequest)>> {
    let name = input.display().to_string();
    let reader: Box<dyn BufRead> = if name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(input).with_context(|| format!("cannot open {name}"))?,
        ))
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in reader.split(b'\n').enumerate() {
        let line_no = i + 1;
        let bytes = line.with_context(|| format!("reading {name}"))?;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            errors.push(format!("{name}:{line_no}: not valid UTF-8"));
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<RankRequest>(text) {
            Ok(r) => out.push((line_no, r)),
            Err(e) => errors.push(format!(
                "{name}:{line_no}: {e} (expected {{\"history\": [{{\"title\": ..., \"rating\": ...}}], \"candidates\": [{{\"id\": ..., \"title\": ...}}]}})"
            )),
        }
    }
    if !errors.is_empty() {
        anyhow::bail!(
            "{} bad line(s), nothing ranked:\n{}",
            errors.len(),
            errors.join("\n")
        );
    }
    Ok(out)
}

pub fn run(args: RankArgs) -> anyhow::Result<()> {
    let requests = read_requests(&args.input)?;
    let device = Device::Cpu;
    let backbone = model_path::load(
        &model_path::resolve(args.model),
        MatrixPrecision::AsStored,
        &device,
    )?;
    let trained = backbone.prompt_config();
    let prompt = PromptConfig {
        max_history: args.history.unwrap_or(trained.max_history),
        ..trained
    };
    let ranker = Ranker::new(backbone, prompt)?;
    let name = args.input.display().to_string();
    // Validate every request against the model (identifiers, context) before ranking any.
    let problems: Vec<String> = requests
        .iter()
        .filter_map(|(line, r)| {
            ranker
                .prepare(r)
                .err()
                .map(|e| format!("{name}:{line}: {e}"))
        })
        .collect();
    if !problems.is_empty() {
        anyhow::bail!(
            "{} bad request(s), nothing ranked:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    let mode = match args.mode {
        ModeArg::Greedy => RankMode::Greedy,
        ModeArg::Single => RankMode::Single,
        ModeArg::Bootstrap => RankMode::Bootstrap {
            orders: args.orders,
            seed: args.seed,
        },
    };
    let bar = indicatif::ProgressBar::new(requests.len() as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "ranking {bar:30} {pos}/{len} [{elapsed_precise} < {eta_precise}]",
        )
        .expect("static template"),
    );
    let mut stdout = std::io::stdout().lock();
    for (line, req) in &requests {
        let start = std::time::Instant::now();
        let resp = ranker
            .rank(req, mode)
            .with_context(|| format!("{name}:{line}"))?;
        let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
        match args.format {
            Format::Jsonl => {
                let mut value = serde_json::to_value(&resp)?;
                value["elapsed_ms"] = serde_json::json!(elapsed_ms);
                writeln!(stdout, "{value}")?;
            }
            Format::Text => {
                bar.suspend(|| print_text(&mut stdout, *line, req, &resp, elapsed_ms))?
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

fn print_text(
    out: &mut impl Write,
    line: usize,
    req: &RankRequest,
    resp: &alro_core::request::RankResponse,
    elapsed_ms: f64,
) -> std::io::Result<()> {
    writeln!(
        out,
        "request on line {line} ({} rated items, {} candidates, {elapsed_ms:.0} ms)",
        req.history.len(),
        req.candidates.len()
    )?;
    for h in req.history.iter().rev().take(3) {
        writeln!(out, "   rated {:>3}  {}", h.rating, h.title)?;
    }
    for (rank, id) in resp.ranking.iter().enumerate() {
        let title = req
            .candidates
            .iter()
            .find(|c| &c.id == id)
            .map_or("", |c| c.title.as_str());
        writeln!(out, "  {:>2}. {title}  [{id}]", rank + 1)?;
    }
    writeln!(out)
}
