//! `alro eval`: score rankers on the ALRO candidate lists and report NDCG@1/5/10/20.
//!
//! The lists are built by the same protocol code, from the same `--dataset/--path` and protocol
//! parameters, as `alro data prepare` writes them: the same seed gives the same lists, so every
//! ranker (baselines now, the LLM via `--model` later) is scored on exactly the same lists.

pub mod llm;
pub mod ranker;
pub mod report;

use super::data::source::DatasetArgs;
use super::data::{bar, load, ProtocolArgs};
use crate::baselines::{self, BaselineKind, Hyper, TrainData};
use alro_core::data::protocol::NegativeSampling;
use alro_core::data::{Protocol, ProtocolCounts, Split, Splits};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use ranker::{evaluate, BaselineLists, EvalResult, IdMaps};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LlmMode {
    Greedy,
    Single,
}

/// `--baseline` values: one baseline, or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BaselineChoice {
    All,
    Random,
    Popularity,
    ItemMean,
    ItemKnn,
    Mf,
    Bpr,
    Lightgcn,
}

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// Classical baseline(s), comma-separated, or `all`.
    #[arg(long, value_enum, value_delimiter = ',', required_unless_present_any = ["llm", "adapter"])]
    pub baseline: Vec<BaselineChoice>,
    /// Also evaluate the backbone zero-shot (the model of --model).
    #[arg(long)]
    pub llm: bool,
    /// Also evaluate the backbone with a trained adapter: NAME=CHECKPOINT (repeatable), e.g.
    /// `--adapter alro=runs/alro/best.safetensors`.
    #[arg(long, value_name = "NAME=PATH")]
    pub adapter: Vec<String>,
    /// The backbone for --llm and --adapter [default: $ALRO_MODEL or the setup's backbone]
    #[arg(long)]
    pub model: Option<std::path::PathBuf>,
    /// How the LLM ranks: `greedy` (full list, ALRO.md §7 default) or `single` (first-position
    /// distribution, one forward pass).
    #[arg(long, value_enum, default_value = "greedy")]
    pub mode: LlmMode,
    /// Score only the first N lists (every ranker gets the same N).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Which lists to score: `test` (fit on everything before the test window) or `validation`
    /// (fit on everything before the validation window; use it to tune).
    #[arg(long, default_value = "test")]
    pub split: Split,
    /// One JSON object per ranker: {"ndcg@1", "ndcg@5", "ndcg@10", "ndcg@20", "lists"} (with
    /// several rankers, one per line with a "ranker" key).
    #[arg(long)]
    pub json: bool,
    /// Print the table as markdown.
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
    /// Embedding size (mf: 100, bpr: 64, lightgcn: 64).
    #[arg(long)]
    pub dim: Option<usize>,
    /// Training epochs (mf: 20, bpr: 30, lightgcn: 40).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Learning rate (mf: 0.005, bpr: 0.05, lightgcn (Adam): 0.05).
    #[arg(long)]
    pub lr: Option<f32>,
    /// L2 regularisation (mf: 0.02, bpr: 0.01, lightgcn: 1e-4).
    #[arg(long)]
    pub reg: Option<f32>,
    /// LightGCN propagation layers [default: 3].
    #[arg(long)]
    pub layers: Option<usize>,
    /// Item-mean prior weight C, in pseudo-ratings [default: 10].
    #[arg(long)]
    pub smoothing: Option<f64>,
    /// Seed of the baselines' training (initialisation, sampling order).
    #[arg(long, default_value_t = 0)]
    pub train_seed: u64,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let cfg = args.protocol.config()?;
    let kinds: Vec<BaselineKind> = if args.baseline.contains(&BaselineChoice::All) {
        BaselineKind::ALL.to_vec()
    } else {
        let mut k: Vec<BaselineKind> = Vec::new();
        for kind in args.baseline.iter().map(|&c| to_kind(c)) {
            if !k.contains(&kind) {
                k.push(kind);
            }
        }
        k
    };
    let loaded = load(&args.data)?;
    let ds = &loaded.dataset;
    let protocol = Protocol::new(ds, cfg.clone())?;

    let pb = bar(protocol.users() as u64, "lists");
    let mut examples = Vec::new();
    let mut counts = ProtocolCounts::default();
    let splits = Splits::only(args.split);
    for u in 0..protocol.users() {
        let ex = protocol.user_examples(u, splits);
        counts.add(&ex, splits);
        examples.extend(ex.get(args.split).iter().cloned());
        pb.inc(1);
    }
    pb.finish_and_clear();
    if let Some(n) = args.limit {
        examples.truncate(n);
    }
    anyhow::ensure!(
        !examples.is_empty(),
        "no {} lists: every user has fewer than min_history + P ratings",
        args.split
    );

    let train = TrainData::from_protocol(&protocol, args.split);
    let ids = IdMaps::new(ds);
    let hyper = Hyper {
        dim: args.dim,
        epochs: args.epochs,
        lr: args.lr,
        reg: args.reg,
        layers: args.layers,
        smoothing: args.smoothing,
        seed: args.train_seed,
    };
    let mut results: Vec<EvalResult> = Vec::new();
    for kind in kinds {
        let pb = bar(0, kind.name());
        let t = Instant::now();
        let scorer = baselines::fit(kind, &train, &hyper, &pb);
        let fit_seconds = t.elapsed().as_secs_f64();
        pb.finish_and_clear();
        let mut r = BaselineLists {
            name: kind.name().to_string(),
            scorer,
            ids: &ids,
        };
        results.push(evaluate(&mut r, &examples, fit_seconds)?);
    }

    let mode = match args.mode {
        LlmMode::Greedy => alro_core::rank::RankMode::Greedy,
        LlmMode::Single => alro_core::rank::RankMode::Single,
    };
    let model = crate::model_path::backbone(args.model.clone());
    let mut llms: Vec<(String, Option<std::path::PathBuf>)> = Vec::new();
    if args.llm {
        llms.push(("zero-shot".into(), None));
    }
    for spec in &args.adapter {
        let (name, path) = spec.split_once('=').with_context(|| {
            format!("--adapter {spec:?}: expected NAME=PATH, e.g. alro=runs/alro/best.safetensors")
        })?;
        llms.push((name.to_string(), Some(path.into())));
    }
    for (name, adapter) in llms {
        let mut r = llm::load(&name, &model, adapter.as_deref(), mode)?;
        results.push(evaluate(&mut r, &examples, 0.0)?);
    }

    if args.json {
        for r in &results {
            println!("{}", report::json(r, results.len() > 1));
        }
        return Ok(());
    }
    // Uniform negatives are the protocol's default and go unnamed (the line as it always was).
    let negatives = match cfg.negatives {
        NegativeSampling::Uniform => String::new(),
        other => format!(", {} negatives", other.as_str()),
    };
    println!(
        "{} — {} {} lists (m={}, P={}, L={}, seed {}{negatives}), fitted on {} ratings before each user's {} window",
        ds.name,
        examples.len(),
        args.split,
        cfg.candidates,
        cfg.positives,
        cfg.history_len,
        cfg.seed,
        train.interactions.len(),
        args.split
    );
    let skipped = results.first().map(|r| r.ndcg.skipped).unwrap_or(0);
    if skipped > 0 {
        println!("{skipped} list(s) without a positive skipped");
    }
    println!();
    if args.markdown {
        print!("{}", report::markdown(&results));
    } else {
        print!("{}", report::terminal(&results));
    }
    Ok(())
}

fn to_kind(c: BaselineChoice) -> BaselineKind {
    match c {
        BaselineChoice::Random => BaselineKind::Random,
        BaselineChoice::Popularity => BaselineKind::Popularity,
        BaselineChoice::ItemMean => BaselineKind::ItemMean,
        BaselineChoice::ItemKnn => BaselineKind::ItemKnn,
        BaselineChoice::Mf => BaselineKind::Mf,
        BaselineChoice::Bpr => BaselineKind::Bpr,
        BaselineChoice::Lightgcn => BaselineKind::Lightgcn,
        BaselineChoice::All => unreachable!("expanded by the caller"),
    }
}
