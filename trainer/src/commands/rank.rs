//! `alro rank`: rank every request of a JSONL file; one JSON response per line on stdout.

use super::mode::ModeArg;
use crate::model_path;
use alro_core::model::MatrixPrecision;
use alro_core::notes::{check_table, fill_notes, ItemTable};
use alro_core::prompt::PromptConfig;
use alro_core::rank::{
    driver, PreparedPrompt, RankBackend, RankMode, Ranker, DEFAULT_BOOTSTRAP_ORDERS,
};
use alro_core::request::RankRequest;
use alro_gpu::{GpuContext, GpuOptions, GpuRanker};
use anyhow::Context;
use candle_core::Device;
use clap::{Args, ValueEnum};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// The item table `alro rank` reads when the ranker needs notes and `--items` is not given
/// (`alro items build`, see models/ITEMS.md).
pub const DEFAULT_ITEMS: &str = "models/items-ml-latest-small.json";

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Jsonl,
    Text,
}

/// Where the forward passes run. Both rank by one rule (alro-core's driver); their logits agree
/// to float rounding, not bit for bit.
#[derive(Clone, Copy, ValueEnum)]
pub enum BackendArg {
    /// alro-core's CPU kernels (candle)
    Cpu,
    /// A GPU through wgpu (Vulkan, Metal or DX12): the browser's WebGPU kernels, run natively
    Wgpu,
}

#[derive(Args)]
pub struct RankArgs {
    /// A .gguf file or a Hugging Face directory [default: $ALRO_MODEL or the setup's backbone]
    #[arg(long)]
    model: Option<PathBuf>,
    /// JSONL requests: {"history": [{"title", "rating"}], "candidates": [{"id", "title"}]}; `-` = stdin
    #[arg(long)]
    input: PathBuf,
    /// How to rank (METHOD.md §7); `single` by default, what the release ranker is trained for
    #[arg(long, value_enum, default_value = "single")]
    mode: ModeArg,
    /// Where the model runs; `wgpu` reads GGUF files only
    #[arg(long, value_enum, default_value = "cpu")]
    backend: BackendArg,
    /// Presentation orders for --mode bootstrap
    #[arg(long, default_value_t = DEFAULT_BOOTSTRAP_ORDERS)]
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
    /// Item table (`alro items build`) to compute the notes of candidates without one, for a
    /// ranker trained with popularity/similarity notes [default: models/items-ml-latest-small.json
    /// when the ranker needs notes]
    #[arg(long, value_name = "FILE")]
    items: Option<PathBuf>,
}

/// Reads and validates every line before any model work, so a bad line 9,000 is reported at
/// once rather than after an hour. Each request comes with its line number; on bad lines, the
/// error says `nothing` (what the caller would have produced) is withheld.
pub(crate) fn read_requests(
    input: &Path,
    nothing: &str,
) -> anyhow::Result<Vec<(usize, RankRequest)>> {
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
            "{} bad line(s), {nothing}:\n{}",
            errors.len(),
            errors.join("\n")
        );
    }
    Ok(out)
}

/// The ranker `alro rank` ranks with: `model` (or the default ranker) on the CPU, with the
/// prompt settings of its card and `history` entries shown when given.
pub(crate) fn load_ranker(
    model: Option<PathBuf>,
    history: Option<usize>,
) -> anyhow::Result<Ranker> {
    let backbone = model_path::load(
        &model_path::ranker(model),
        MatrixPrecision::AsStored,
        &Device::Cpu,
    )?;
    let trained = backbone.prompt_config();
    let prompt = PromptConfig {
        max_history: history.unwrap_or(trained.max_history),
        ..trained
    };
    Ok(Ranker::new(backbone, prompt)?)
}

/// The ranker `alro rank --backend wgpu` ranks with: `model` (or the default ranker), a GGUF
/// file, on the first GPU adapter wgpu finds; the same prompt settings as [`load_ranker`].
fn load_gpu_ranker(model: Option<PathBuf>, history: Option<usize>) -> anyhow::Result<GpuRanker> {
    let path = model_path::ranker(model);
    if path.is_dir() {
        anyhow::bail!(
            "--backend wgpu reads GGUF files, and {} is a folder: export it to GGUF with \
             `alro export`, or rank it with --backend cpu",
            path.display()
        );
    }
    let name = path.display().to_string();
    let bytes = std::fs::read(&path).with_context(|| {
        format!("cannot read model {name} (pass --model FILE.gguf, or run scripts/setup.sh)")
    })?;
    let ctx = pollster::block_on(GpuContext::new(GpuOptions::default()))
        .context("--backend wgpu (or rank on the CPU: --backend cpu)")?;
    let adapter = ctx.info();
    eprintln!("wgpu: {} ({})", adapter.label(), adapter.backend);
    if adapter.is_software() {
        eprintln!(
            "note: a software adapter is correct but far slower than --backend cpu on this machine"
        );
    }
    let mut ranker = pollster::block_on(GpuRanker::load(ctx, &bytes, &name))?;
    ranker.prompt.max_history = history.unwrap_or(ranker.prompt.max_history);
    Ok(ranker)
}

/// The requests `read_requests` read from `input`, made ready for `ranker`: the notes it needs
/// filled in from the item table (see [`with_notes`]), then every request checked against the
/// model (identifiers, context) — all problems reported at once, each naming `file:line`, and
/// `nothing` (what the caller would have produced) said to be withheld.
pub(crate) fn ready_for(
    ranker: &impl RankBackend,
    prompt: &PromptConfig,
    requests: Vec<(usize, RankRequest)>,
    input: &Path,
    items: Option<&Path>,
    nothing: &str,
) -> anyhow::Result<Vec<Ready>> {
    let name = input.display().to_string();
    let requests = with_notes(requests, prompt, items)?;
    let mut ready = Vec::with_capacity(requests.len());
    let mut problems = Vec::new();
    for (line, request) in requests {
        match ranker.prepare(&request) {
            Ok(prompt) => ready.push(Ready {
                line,
                request,
                prompt,
            }),
            Err(e) => problems.push(format!("{name}:{line}: {e}")),
        }
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "{} bad request(s), {nothing}:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    Ok(ready)
}

/// A request checked against the model: its input line, notes filled, prompt prepared.
pub(crate) struct Ready {
    pub line: usize,
    pub request: RankRequest,
    pub prompt: PreparedPrompt,
}

pub fn run(args: RankArgs) -> anyhow::Result<()> {
    let requests = read_requests(&args.input, "nothing ranked")?;
    match args.backend {
        BackendArg::Cpu => {
            let ranker = load_ranker(args.model.clone(), args.history)?;
            rank_all(&ranker, &ranker.prompt, requests, &args)
        }
        BackendArg::Wgpu => {
            let ranker = load_gpu_ranker(args.model.clone(), args.history)?;
            rank_all(&ranker, &ranker.prompt, requests, &args)
        }
    }
}

/// Validates every request against the model, then ranks them in order, one output per request.
fn rank_all(
    ranker: &impl RankBackend,
    prompt: &PromptConfig,
    requests: Vec<(usize, RankRequest)>,
    args: &RankArgs,
) -> anyhow::Result<()> {
    let name = args.input.display().to_string();
    // Validate every request against the model before ranking any.
    let requests = ready_for(
        ranker,
        prompt,
        requests,
        &args.input,
        args.items.as_deref(),
        "nothing ranked",
    )?;
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
    for Ready {
        line,
        request: req,
        prompt,
    } in &requests
    {
        let start = std::time::Instant::now();
        // The CPU backend's futures never wait; the GPU's wait for the device.
        let resp = pollster::block_on(driver::rank_prepared(ranker, req, prompt, mode))
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

/// Fills the notes a ranker trained with notes needs into candidates without one, from the item
/// table (`--items`, or [`DEFAULT_ITEMS`]); one stderr line names the titles the table lacks.
/// Requests whose candidates all carry notes are unchanged, and need no table.
fn with_notes(
    mut requests: Vec<(usize, RankRequest)>,
    prompt: &PromptConfig,
    items: Option<&Path>,
) -> anyhow::Result<Vec<(usize, RankRequest)>> {
    let needs_notes = prompt.needs_notes();
    let missing = requests.iter().any(|(_, r)| {
        r.candidates
            .iter()
            .any(|c| c.note.as_deref().is_none_or(|n| n.trim().is_empty()))
    });
    if !(needs_notes && missing) && items.is_none() {
        return Ok(requests);
    }
    let kinds: Vec<String> = [
        ("popularity", prompt.popularity_tiers),
        ("similarity", prompt.similarity_tiers),
        ("match", prompt.match_tiers),
    ]
    .iter()
    .filter(|k| k.1 > 0)
    .map(|(kind, n)| format!("{kind} T/{n}"))
    .collect();
    let path = items.unwrap_or(Path::new(DEFAULT_ITEMS));
    if items.is_none() && !path.exists() {
        anyhow::bail!(
            "this ranker was trained with notes ({}) and some candidates have none: pass --items \
             FILE, an item table built by `alro items build` (the default {DEFAULT_ITEMS} is not \
             here), to compute them, or give every candidate its note",
            kinds.join(", ")
        );
    }
    let bytes =
        std::fs::read(path).with_context(|| format!("reading item table {}", path.display()))?;
    let table = ItemTable::from_json(&bytes)
        .with_context(|| format!("item table {} (--items)", path.display()))?;
    if needs_notes {
        check_table(&table, prompt)
            .with_context(|| format!("item table {} (--items)", path.display()))?;
    }
    let mut unknown: Vec<String> = Vec::new();
    for (_, req) in &mut requests {
        for t in fill_notes(req, prompt, &table).unknown_titles() {
            if !unknown.iter().any(|u| u == t) {
                unknown.push(t.to_string());
            }
        }
    }
    if !unknown.is_empty() {
        let quoted: Vec<String> = unknown.iter().map(|t| format!("{t:?}")).collect();
        eprintln!(
            "notes: {} title(s) not in the item table {} (left out of similarity means and match tastes; as \
             candidates they get the lowest tier): {}",
            unknown.len(),
            path.display(),
            quoted.join(", ")
        );
    }
    Ok(requests)
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
