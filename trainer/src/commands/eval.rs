//! `alro eval`: score rankers on the ALRO candidate lists and report NDCG@1/5/10/20.
//!
//! The lists are built by the same protocol code, from the same `--dataset/--path` and protocol
//! parameters, as `alro data prepare` writes them: the same seed gives the same lists, so every
//! ranker (baselines now, the LLM via `--model` later) is scored on exactly the same lists.

pub mod llm;
pub mod report;

use super::data::source::DatasetArgs;
use super::data::{load, ProtocolArgs};
use super::mode::ModeArg;
use super::progress::bar;
use alro_core::data::protocol::NegativeSampling;
use alro_core::data::similarity::TENTHS;
use alro_core::data::{Protocol, ProtocolConfig, ProtocolCounts, RankingExample, Split, Splits};
use alro_trainer::baselines::{self, notes, BaselineKind, Hyper, TrainData};
use alro_trainer::eval::{
    evaluate, position_bias, BaselineLists, EvalResult, IdMaps, POSITION_BIAS_SEED,
};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use llm::CardNotes;
use std::path::PathBuf;
use std::time::Instant;

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
    /// The candidates ranked by their notes alone: one row per note kind the lists carry
    /// (`note:popularity`, `note:similarity`; in `all` only when the lists carry notes).
    Notes,
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
    pub model: Option<PathBuf>,
    /// How the LLM ranks: `single` (first-position distribution, one forward pass; the default,
    /// as for `alro rank`), `greedy` (the full list, METHOD.md §7) or `bootstrap` (greedy lists under --orders presentation
    /// orders combined by Borda count, as `alro rank --mode bootstrap`; --orders times the cost).
    #[arg(long, value_enum, default_value = "single")]
    pub mode: ModeArg,
    /// Presentation orders B of --mode bootstrap (the list's own, then B − 1 seeded shuffles)
    /// [default: 5]
    #[arg(long, value_name = "B")]
    pub orders: Option<usize>,
    /// Seed of the shuffles of --mode bootstrap, `alro rank --seed` (here --seed is the lists'
    /// seed) [default: 0]
    #[arg(long, value_name = "SEED")]
    pub bootstrap_seed: Option<u64>,
    /// Measure each LLM's position bias: rank every list (of the first --limit) under K
    /// presentation orders (its own and K − 1 shuffles, seeded by the list's index) in --mode,
    /// and report the mean pairwise Kendall τ of the K rankings and the spread (standard
    /// deviation) of NDCG@10 across them. K more rankings per list.
    #[arg(long, value_name = "K")]
    pub position_bias: Option<usize>,
    /// Score only the first N lists (every ranker gets the same N).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Which lists to score: `test` (fit on everything before the test window) or `validation`
    /// (fit on everything before the validation window; use it to tune).
    #[arg(long, default_value = "test")]
    pub split: Split,
    /// One JSON object per ranker: {"ndcg@1", "ndcg@5", "ndcg@10", "ndcg@20", "lists"} (with
    /// several rankers, one per line with a "ranker" key, and a "versus" object holding the
    /// --versus comparisons: {"popularity": {"mean", "lo", "hi", "verdict"}}; with
    /// --position-bias, an LLM's line has "position_bias": {"orders", "kendall_tau",
    /// "ndcg10_spread", "ndcg10_mean"}).
    #[arg(long)]
    pub json: bool,
    /// Print the table as markdown (and the --versus comparisons as a second table).
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
    /// Compare every other ranker with RANKER: the mean per-list difference in NDCG@10 with a
    /// 95% paired-bootstrap interval (1000 resamples of the lists, seed 2024) and a verdict
    /// (above, below or level: the interval excludes 0 or not). Comma-separated or repeated,
    /// e.g. `popularity,item-knn,note:similarity` [default: popularity, when it is evaluated]
    #[arg(long, value_delimiter = ',', value_name = "RANKER")]
    pub versus: Vec<String>,
    /// Write every list's NDCG@10 as JSON lines, one per list:
    /// `{"user": .., "ndcg@10": {"RANKER": value, ..}}` (null for a list without a positive).
    #[arg(long, value_name = "FILE")]
    pub per_list: Option<PathBuf>,
    /// Write every list's scores as JSON lines, one per list, for analyses outside `alro eval`
    /// (e.g. fusing two rankers): `{"user": .., "relevance": [..], "scores": {"RANKER": [..], ..}}`,
    /// candidates in presentation order, higher = ranked earlier.
    #[arg(long, value_name = "FILE")]
    pub scores: Option<PathBuf>,
    /// Print the first N lists as a person reads them (the user's last 3 ratings, the first
    /// LLM's top 10 — the first ranker's without an LLM — marked ★ rated ≥ 4 / ☆ rated < 4,
    /// every ranker's NDCG@10 on the list), then the table.
    #[arg(long, value_name = "N", conflicts_with = "json")]
    pub show: Option<usize>,
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
    let mut cfg = args.protocol.config()?;

    let mode = llm_mode(&args)?;
    if let Some(k) = args.position_bias {
        anyhow::ensure!(
            k >= 2,
            "--position-bias {k}: needs K ≥ 2 presentation orders to compare (e.g. --position-bias 5)"
        );
        anyhow::ensure!(
            args.llm || !args.adapter.is_empty(),
            "--position-bias measures how an LLM's ranking changes with the order the candidates \
             are shown in: pass --llm and/or --adapter (the baselines score each candidate on its \
             own, whatever the order)"
        );
    }
    let model = crate::model_path::backbone(args.model.clone());
    let mut llms: Vec<(String, Option<PathBuf>)> = Vec::new();
    if args.llm {
        llms.push(("zero-shot".into(), None));
    }
    for spec in &args.adapter {
        let (name, path) = spec.split_once('=').with_context(|| {
            format!("--adapter {spec:?}: expected NAME=PATH, e.g. alro=runs/alro/best.safetensors")
        })?;
        llms.push((name.to_string(), Some(path.into())));
    }
    // The model is loaded before the lists are built: its card says which notes the lists must
    // carry. Every LLM row shares the backbone of --model, hence its card.
    let mut first_llm = match llms.first() {
        Some((name, adapter)) => {
            let r = llm::load(name, &model, adapter.as_deref(), mode)?;
            if let Some(card) = r.card_notes {
                if let Some(line) = notes_for_card(&mut cfg, card)? {
                    eprintln!("{line}");
                }
            }
            Some(r)
        }
        None => None,
    };

    // An exported ranker (a file with a model card) is not zero-shot: its row is "trained".
    if let (Some(r), Some(first)) = (first_llm.as_mut(), llms.first_mut()) {
        if first.1.is_none() && r.card_notes.is_some() {
            r.name = "trained".into();
            first.0 = "trained".into();
        }
    }
    let note_kinds = notes::kinds_on(&cfg);
    let rows = rows(&args.baseline, &note_kinds)?;
    let names: Vec<String> = rows
        .iter()
        .map(Row::name)
        .chain(llms.iter().map(|(n, _)| n.clone()))
        .collect();
    for (i, n) in names.iter().enumerate() {
        anyhow::ensure!(
            !names[..i].contains(n),
            "two rankers are named {n:?}: give each --adapter its own NAME"
        );
    }
    let versus = versus_names(&args.versus, &names)?;

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
    // `--scores` writes every list's scores, so it keeps them all.
    let show = args.show.unwrap_or(0).min(examples.len());
    let keep = if args.scores.is_some() {
        examples.len()
    } else {
        show
    };

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
    for row in &rows {
        match *row {
            Row::Baseline(kind) => {
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
                results.push(evaluate(&mut r, &examples, fit_seconds, keep)?);
            }
            Row::Note(kind) => {
                let mut r = notes::NoteLists::new(kind);
                results.push(evaluate(&mut r, &examples, 0.0, keep)?);
            }
        }
    }
    let first_llm_row = results.len();
    for (name, adapter) in &llms {
        let mut r = match first_llm.take() {
            Some(r) => r,
            None => llm::load(name, &model, adapter.as_deref(), mode)?,
        };
        let mut result = evaluate(&mut r, &examples, 0.0, keep)?;
        if let Some(k) = args.position_bias {
            let pb = bar(
                (examples.len() * k) as u64,
                &format!("{name}: position bias"),
            );
            result.position_bias = Some(position_bias(&examples, k, POSITION_BIAS_SEED, |ex| {
                let order = r.rank_order(ex);
                pb.inc(1);
                order
            })?);
            pb.finish_and_clear();
        }
        results.push(result);
    }

    let comparisons = compare(&results, &versus);
    // One JSON line per list: its NDCG@10 per ranker (`--per-list`), its scores (`--scores`).
    let per_list: [(_, fn(&RankingExample, usize, &[EvalResult]) -> String); 2] = [
        (&args.per_list, report::per_list_line),
        (&args.scores, report::scores_line),
    ];
    for (path, line) in per_list {
        if let Some(path) = path {
            let text: String = examples
                .iter()
                .enumerate()
                .map(|(i, ex)| line(ex, i, &results) + "\n")
                .collect();
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }

    if args.json {
        for r in &results {
            println!("{}", report::json(r, results.len() > 1, &comparisons));
        }
        return Ok(());
    }
    // Uniform negatives are the protocol's default and go unnamed (the line as it always was).
    let negatives = match cfg.negatives {
        NegativeSampling::Uniform => String::new(),
        other => format!(", {} negatives", other.as_str()),
    };
    let notes_on: String = note_kinds
        .iter()
        .zip(
            [cfg.popularity_tiers, cfg.similarity_tiers, cfg.match_tiers]
                .iter()
                .filter(|&&n| n > 0),
        )
        .map(|(k, n)| {
            let steps = (*k == "similarity" && cfg.similarity_steps != TENTHS)
                .then(|| format!(" of 1/{} cosine", cfg.similarity_steps));
            format!(", {k} notes in {n} tiers{}", steps.unwrap_or_default())
        })
        .collect();
    println!(
        "{} — {} {} lists (m={}, P={}, L={}, seed {}{negatives}{notes_on}), fitted on {} ratings before each user's {} window",
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
    if !llms.is_empty() {
        println!("{}", report::mode_line(mode));
    }
    let skipped = results.first().map(|r| r.ndcg.skipped).unwrap_or(0);
    if skipped > 0 {
        println!("{skipped} list(s) without a positive skipped");
    }
    if show > 0 {
        // The first LLM's rankings, or the first ranker's when no LLM ran.
        let lead = if first_llm_row < results.len() {
            first_llm_row
        } else {
            0
        };
        println!();
        print!(
            "{}",
            report::show_legend(&results[lead].name, cfg.candidates)
        );
        for (i, ex) in examples.iter().take(show).enumerate() {
            println!();
            print!("{}", report::show_list(ex, i, &results, lead));
        }
    }
    println!();
    if args.markdown {
        print!("{}", report::markdown(&results));
        if !comparisons.is_empty() {
            println!();
            print!("{}", report::versus_markdown(&comparisons));
        }
        let bias = report::position_bias_markdown(&results, mode);
        if !bias.is_empty() {
            println!();
            print!("{bias}");
        }
    } else {
        print!("{}", report::terminal(&results));
        if !comparisons.is_empty() {
            println!();
            print!("{}", report::versus_terminal(&comparisons));
        }
        let bias = report::position_bias_terminal(&results, mode);
        if !bias.is_empty() {
            println!();
            print!("{bias}");
        }
    }
    Ok(())
}

/// The engine's mode for `--mode` (with `--orders`/`--bootstrap-seed`, which only bootstrap
/// takes: given with another mode they are refused rather than ignored).
fn llm_mode(args: &EvalArgs) -> Result<alro_core::rank::RankMode> {
    use alro_core::rank::{RankMode, DEFAULT_BOOTSTRAP_ORDERS};
    if args.mode != ModeArg::Bootstrap {
        for (flag, given) in [
            ("--orders", args.orders.is_some()),
            ("--bootstrap-seed", args.bootstrap_seed.is_some()),
        ] {
            anyhow::ensure!(
                !given,
                "{flag} sets the presentation orders of --mode bootstrap: add --mode bootstrap or \
                 leave {flag} out"
            );
        }
    }
    Ok(match args.mode {
        ModeArg::Greedy => RankMode::Greedy,
        ModeArg::Single => RankMode::Single,
        ModeArg::Bootstrap => {
            let orders = args.orders.unwrap_or(DEFAULT_BOOTSTRAP_ORDERS);
            anyhow::ensure!(
                orders >= 1,
                "--orders 0: bootstrap needs at least one presentation order"
            );
            RankMode::Bootstrap {
                orders,
                seed: args.bootstrap_seed.unwrap_or(0),
            }
        }
    })
}

/// One row of the table that is not an LLM: a fitted baseline, or the notes of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    Baseline(BaselineKind),
    Note(&'static str),
}

impl Row {
    fn name(&self) -> String {
        match self {
            Row::Baseline(k) => k.name().to_string(),
            Row::Note(kind) => format!("note:{kind}"),
        }
    }
}

/// The `--baseline` choices as table rows, in the order given (`all`: every baseline, then one
/// `note:` row per note kind the lists carry), each once.
fn rows(choices: &[BaselineChoice], note_kinds: &[&'static str]) -> Result<Vec<Row>> {
    let mut rows: Vec<Row> = Vec::new();
    let mut push = |r: Row| {
        if !rows.contains(&r) {
            rows.push(r);
        }
    };
    for &c in choices {
        match c {
            BaselineChoice::All => {
                BaselineKind::ALL
                    .into_iter()
                    .for_each(|k| push(Row::Baseline(k)));
                note_kinds.iter().for_each(|&k| push(Row::Note(k)));
            }
            BaselineChoice::Notes => {
                anyhow::ensure!(
                    !note_kinds.is_empty(),
                    "--baseline notes ranks the candidates by their notes, but these lists carry \
                     none: build them with --similarity-tiers N and/or --popularity-tiers N"
                );
                note_kinds.iter().for_each(|&k| push(Row::Note(k)));
            }
            other => push(Row::Baseline(to_kind(other))),
        }
    }
    Ok(rows)
}

/// The rankers every other one is compared with: `--versus` as given (each must be evaluated),
/// or `popularity` when it is.
fn versus_names(asked: &[String], names: &[String]) -> Result<Vec<String>> {
    if asked.is_empty() {
        return Ok(names
            .iter()
            .filter(|n| n.as_str() == "popularity")
            .cloned()
            .collect());
    }
    let mut out: Vec<String> = Vec::new();
    for v in asked.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        anyhow::ensure!(
            names.iter().any(|n| n == v),
            "--versus {v}: no such ranker in this evaluation (rankers: {})",
            names.join(", ")
        );
        if !out.iter().any(|o| o == v) {
            out.push(v.to_string());
        }
    }
    Ok(out)
}

/// Every ranker against every `--versus` ranker other than itself, grouped by the latter; a pair
/// already compared the other way round is left out (its difference is the negation).
fn compare(results: &[EvalResult], versus: &[String]) -> Vec<report::Versus> {
    let mut out: Vec<report::Versus> = Vec::new();
    for against in versus {
        let Some(b) = results.iter().find(|r| &r.name == against) else {
            continue;
        };
        for a in results.iter().filter(|r| &r.name != against) {
            if out
                .iter()
                .any(|v| v.ranker == *against && v.against == a.name)
            {
                continue;
            }
            if let Some(d) = a.versus(b) {
                out.push(report::Versus {
                    ranker: a.name.clone(),
                    against: against.clone(),
                    d,
                });
            }
        }
    }
    out
}

/// Notes follow the model: tiers its card requires that the protocol left at 0 are set from the
/// card (the returned line says so); tiers that differ from the card's are refused, since the
/// ranker was trained on the card's notes and no others. Likewise the similarity steps: the
/// card's replace the default tenths, other steps are refused.
fn notes_for_card(cfg: &mut ProtocolConfig, card: CardNotes) -> Result<Option<String>> {
    let mut read = Vec::new();
    let mut flags = Vec::new();
    for (kind, have, want) in [
        (
            "popularity",
            &mut cfg.popularity_tiers,
            card.popularity_tiers,
        ),
        (
            "similarity",
            &mut cfg.similarity_tiers,
            card.similarity_tiers,
        ),
        ("match", &mut cfg.match_tiers, card.match_tiers),
    ] {
        if *have == want {
            continue;
        }
        if *have == 0 {
            *have = want;
            read.push(format!("{kind} notes in {want} tiers"));
            flags.push(format!("--{kind}-tiers {want}"));
            continue;
        }
        if want == 0 {
            bail!(
                "the ranker was trained without {kind} notes (its model card), but --{kind}-tiers \
                 {have} asks for them: leave --{kind}-tiers out"
            );
        }
        bail!(
            "the ranker reads {kind} notes in {want} tiers (its model card), but --{kind}-tiers \
             {have} asks for {have}: pass --{kind}-tiers {want} or leave it out"
        );
    }
    let (have, want) = (cfg.similarity_steps, card.similarity_steps);
    if cfg.similarity_tiers > 0 && have != want {
        if have != TENTHS {
            bail!(
                "the ranker reads similarity notes in {want} steps per unit cosine (its model \
                 card), but --similarity-steps {have} asks for {have}: pass --similarity-steps \
                 {want} or leave it out"
            );
        }
        cfg.similarity_steps = want;
        read.push(format!("similarity steps of 1/{want} cosine"));
        flags.push(format!("--similarity-steps {want}"));
    }
    Ok((!read.is_empty()).then(|| {
        format!(
            "the ranker reads {}: lists built with {}",
            read.join(" and "),
            flags.join(" ")
        )
    }))
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
        BaselineChoice::All | BaselineChoice::Notes => unreachable!("expanded by the caller"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_follow_the_card() {
        let mut cfg = ProtocolConfig::default();
        let line = notes_for_card(&mut cfg, sim7()).unwrap();
        assert_eq!(
            line.as_deref(),
            Some("the ranker reads similarity notes in 7 tiers: lists built with --similarity-tiers 7")
        );
        assert_eq!((cfg.popularity_tiers, cfg.similarity_tiers), (0, 7));
        // Asked as the card says: nothing to say.
        assert_eq!(notes_for_card(&mut cfg, sim7()).unwrap(), None);
        let mut both = ProtocolConfig::default();
        let line = notes_for_card(
            &mut both,
            CardNotes {
                popularity_tiers: 5,
                ..sim7()
            },
        )
        .unwrap()
        .unwrap();
        assert!(
            line.ends_with("popularity notes in 5 tiers and similarity notes in 7 tiers: lists built with --popularity-tiers 5 --similarity-tiers 7"),
            "{line}"
        );
        // Other tiers than the card's are refused, naming the flag and the card's value.
        cfg.similarity_tiers = 5;
        let err = notes_for_card(&mut cfg, sim7()).unwrap_err().to_string();
        assert!(
            err.contains("--similarity-tiers 5") && err.contains("--similarity-tiers 7"),
            "{err}"
        );
        cfg.similarity_tiers = 0;
        cfg.popularity_tiers = 3;
        let err = notes_for_card(&mut cfg, sim7()).unwrap_err().to_string();
        assert!(err.contains("without popularity notes"), "{err}");

        // A card with finer similarity steps: adopted over the default tenths, others refused.
        let fine = CardNotes {
            similarity_tiers: 20,
            similarity_steps: 40,
            ..sim7()
        };
        let mut cfg = ProtocolConfig::default();
        let line = notes_for_card(&mut cfg, fine).unwrap().unwrap();
        assert!(
            line.ends_with("--similarity-tiers 20 --similarity-steps 40"),
            "{line}"
        );
        assert_eq!((cfg.similarity_tiers, cfg.similarity_steps), (20, 40));
        assert_eq!(notes_for_card(&mut cfg, fine).unwrap(), None);
        cfg.similarity_steps = 30;
        let err = notes_for_card(&mut cfg, fine).unwrap_err().to_string();
        assert!(err.contains("--similarity-steps 40"), "{err}");
    }

    fn sim7() -> CardNotes {
        CardNotes {
            popularity_tiers: 0,
            similarity_tiers: 7,
            similarity_steps: TENTHS,
            match_tiers: 0,
        }
    }

    #[test]
    fn rows_and_versus() {
        use BaselineChoice as C;
        let r = rows(&[C::Notes, C::Popularity, C::Notes], &["similarity"]).unwrap();
        assert_eq!(
            r,
            [
                Row::Note("similarity"),
                Row::Baseline(BaselineKind::Popularity)
            ]
        );
        let all = rows(&[C::All], &[]).unwrap();
        assert_eq!(all.len(), BaselineKind::ALL.len());
        let all = rows(&[C::All], &["popularity", "similarity"]).unwrap();
        assert_eq!(all.last().unwrap().name(), "note:similarity");
        let err = rows(&[C::Notes], &[]).unwrap_err().to_string();
        assert!(
            err.contains("--similarity-tiers") && err.contains("--popularity-tiers"),
            "{err}"
        );
        let names: Vec<String> = ["random", "popularity", "item-knn"]
            .map(String::from)
            .to_vec();
        assert_eq!(versus_names(&[], &names).unwrap(), ["popularity"]);
        assert!(versus_names(&[], &names[..1]).unwrap().is_empty());
        let asked = ["item-knn", "random", "item-knn"].map(String::from);
        assert_eq!(
            versus_names(&asked, &names).unwrap(),
            ["item-knn", "random"]
        );
        let err = versus_names(&["mf".into()], &names)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--versus mf") && err.contains("random, popularity, item-knn"),
            "{err}"
        );
    }
}
