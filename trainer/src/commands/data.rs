//! `alro data stats|prepare`: dataset statistics and ALRO example preparation. The loading and
//! the protocol live in `alro_core::data`; this module resolves files, prints, and writes.

pub mod files;
pub mod source;

use super::progress::bar;
use alro_core::data::manifest::{FileDigest, Manifest, FORMAT};
use alro_core::data::protocol::NegativeSampling;
use alro_core::data::{Dataset, DatasetStats, Protocol, ProtocolConfig, ProtocolCounts, Splits};
use alro_trainer::train::checkpoint::{write_atomic, AtomicFile};
use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use source::DatasetArgs;
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Users, items, ratings, rating histogram and ALRO example counts of a dataset.
    Stats(StatsArgs),
    /// Write the ALRO examples (train/validation/test JSONL) and a manifest to a folder.
    Prepare(PrepareArgs),
}

#[derive(Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct PrepareArgs {
    #[command(flatten)]
    pub data: DatasetArgs,
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// Output folder (created if missing; existing example files are overwritten).
    #[arg(long)]
    pub out: PathBuf,
}

/// The protocol's parameters (METHOD.md §1); each flag overrides the config file or default.
#[derive(Debug, Clone, Args)]
pub struct ProtocolArgs {
    /// JSON file with protocol parameters (missing fields take their defaults).
    #[arg(long, value_name = "FILE")]
    pub protocol: Option<PathBuf>,
    /// L: history length [default: 10].
    #[arg(long, value_name = "L")]
    pub history_len: Option<usize>,
    /// m: candidates per list [default: 20].
    #[arg(long, value_name = "M")]
    pub candidates: Option<usize>,
    /// P: rated candidates per list, the window size [default: 5].
    #[arg(long, value_name = "P")]
    pub positives: Option<usize>,
    /// Stride between training windows [default: P].
    #[arg(long)]
    pub stride: Option<usize>,
    /// Fewest history ratings a window needs [default: L].
    #[arg(long)]
    pub min_history: Option<usize>,
    /// Seed of the candidate lists [default: 2024].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Show every candidate's popularity as a note, `popularity T/N`, in N tiers (one per halving
    /// of the rating count; counts from the baselines' training cut) [default: 0 = no notes].
    #[arg(long, value_name = "N")]
    pub popularity_tiers: Option<usize>,
    /// Show how strongly other users co-rated every candidate with the history as a note,
    /// `similarity T/N`: 1 + the mean item-kNN cosine in steps of `--similarity-steps`, capped at
    /// N (counts from the baselines' training cut, without the list's own user) [default: 0 =
    /// no notes].
    #[arg(long, value_name = "N")]
    pub similarity_tiers: Option<usize>,
    /// Similarity tiers per unit cosine: 10 = tenths, 40 = steps of 0.025 (with 20 tiers, the
    /// release ranker's notes) [default: 10].
    #[arg(long, value_name = "S")]
    pub similarity_steps: Option<usize>,
    /// Show how well every candidate matches the taste of the history as a note, `match T/N`:
    /// BPR-MF item factors (fitted on the baselines' training cut; for training lists without
    /// the list's user's fold of users) folded in over the history, in N tiers narrowing
    /// towards the top (docs/DATA.md, "Match notes") [default: 0 = no notes].
    #[arg(long, value_name = "N")]
    pub match_tiers: Option<usize>,
    /// How the m − P negatives of a list are drawn from the items the user never rated
    /// [default: uniform].
    #[arg(long, value_enum, value_name = "HOW")]
    pub negatives: Option<NegativesArg>,
}

/// `--negatives` values (the protocol's `negatives` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NegativesArg {
    /// Every allowed item equally likely.
    Uniform,
    /// In proportion to each item's rating count in the whole dataset (known films).
    Popular,
}

impl From<NegativesArg> for NegativeSampling {
    fn from(a: NegativesArg) -> Self {
        match a {
            NegativesArg::Uniform => NegativeSampling::Uniform,
            NegativesArg::Popular => NegativeSampling::Popular,
        }
    }
}

impl ProtocolArgs {
    pub fn config(&self) -> Result<ProtocolConfig> {
        let mut cfg = match &self.protocol {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                serde_json::from_str(&text)
                    .with_context(|| format!("{}: not a protocol config", p.display()))?
            }
            None => ProtocolConfig::default(),
        };
        let set = |dst: &mut usize, v: Option<usize>| v.into_iter().for_each(|v| *dst = v);
        set(&mut cfg.history_len, self.history_len);
        set(&mut cfg.candidates, self.candidates);
        set(&mut cfg.positives, self.positives);
        cfg.stride = self.stride.or(cfg.stride);
        cfg.min_history = self.min_history.or(cfg.min_history);
        cfg.seed = self.seed.unwrap_or(cfg.seed);
        set(&mut cfg.popularity_tiers, self.popularity_tiers);
        set(&mut cfg.similarity_tiers, self.similarity_tiers);
        set(&mut cfg.similarity_steps, self.similarity_steps);
        set(&mut cfg.match_tiers, self.match_tiers);
        cfg.negatives = self.negatives.map_or(cfg.negatives, Into::into);
        cfg.validate()?;
        Ok(cfg)
    }
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Stats(args) => stats(args),
        DataCommand::Prepare(args) => prepare(args),
    }
}

/// Load with a spinner, and report skipped lines and notes on stderr.
pub fn load(args: &DatasetArgs) -> Result<source::Loaded> {
    let spinner = ProgressBar::new_spinner();
    spinner.set_message("loading");
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let loaded = args.load();
    spinner.finish_and_clear();
    let loaded = loaded.map_err(|e| {
        let malformed = matches!(
            e.downcast_ref::<alro_core::Error>(),
            Some(alro_core::Error::Data { .. })
        );
        if malformed && !args.skip_bad_lines {
            e.context(
                "loading the dataset (--skip-bad-lines skips and counts malformed lines instead)",
            )
        } else {
            e
        }
    })?;
    let r = &loaded.dataset.report;
    for note in &r.notes {
        eprintln!("note: {note}");
    }
    if r.skipped_lines > 0 {
        eprintln!(
            "skipped {} malformed line(s) (--skip-bad-lines); first ones:",
            r.skipped_lines
        );
        for m in &r.skipped_messages {
            eprintln!("  {m}");
        }
    }
    Ok(loaded)
}

/// Count the examples the protocol makes, with a progress bar.
fn count_examples(ds: &Dataset, cfg: &ProtocolConfig) -> Result<ProtocolCounts> {
    let protocol = Protocol::new(ds, cfg.clone())?;
    let pb = bar(protocol.users() as u64, "examples");
    let mut counts = ProtocolCounts::default();
    for u in 0..protocol.users() {
        counts.add(&protocol.user_examples(u, Splits::ALL), Splits::ALL);
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(counts)
}

fn stats(args: StatsArgs) -> Result<()> {
    let cfg = args.protocol.config()?;
    let loaded = load(&args.data)?;
    let ds = &loaded.dataset;
    let stats = DatasetStats::of(ds);
    let counts = count_examples(ds, &cfg)?;
    if args.json {
        let v = serde_json::json!({
            "stats": stats, "inputs": loaded.inputs, "load_report": ds.report, "protocol": cfg, "examples": counts,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("dataset        {}", stats.dataset);
    for f in &loaded.inputs {
        println!(
            "input          {} ({} bytes, sha256 {})",
            f.file, f.bytes, f.sha256
        );
    }
    println!("users          {}", stats.users);
    println!(
        "items          {} rated ({} in the catalog)",
        stats.items, stats.catalog_items
    );
    println!("ratings        {}", stats.ratings);
    println!(
        "ratings/user   {} to {}",
        stats.min_ratings_per_user, stats.max_ratings_per_user
    );
    if let (Some(a), Some(b)) = (stats.first_timestamp, stats.last_timestamp) {
        println!("time (UTC)     {} to {}", date(a), date(b));
    }
    let r = &ds.report;
    println!("load           {} malformed line(s) skipped, {} duplicate rating(s) dropped, {} removed by k-core", r.skipped_lines, r.duplicates_removed, r.kcore_removed);
    println!("rating histogram");
    for (value, n) in &stats.histogram {
        println!(
            "  {value:>5}  {n:>9}  {:>5.1}%",
            100.0 * *n as f64 / stats.ratings.max(1) as f64
        );
    }
    println!(
        "examples (L={}, m={}, P={}, stride {}, min history {}, seed {})",
        cfg.history_len,
        cfg.candidates,
        cfg.positives,
        cfg.stride(),
        cfg.min_history(),
        cfg.seed
    );
    println!("  train       {:>9}", counts.train);
    println!("  validation  {:>9}", counts.validation);
    println!("  test        {:>9}", counts.test);
    println!(
        "  users without a test example: {}; windows dropped for lack of unrated items: {}",
        counts.users_without_test, counts.dropped_windows
    );
    Ok(())
}

/// `YYYY-MM-DD` of a Unix timestamp (UTC), without a date library (Hinnant's civil_from_days).
pub fn date(ts: i64) -> String {
    let z = ts.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!("{y:04}-{m:02}-{d:02}")
}

/// A writer that hashes what passes through it.
struct Hashing<W: Write> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn prepare(args: PrepareArgs) -> Result<()> {
    let cfg = args.protocol.config()?;
    let loaded = load(&args.data)?;
    let ds = &loaded.dataset;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let protocol = Protocol::new(ds, cfg.clone())?;

    let names = ["train.jsonl", "validation.jsonl", "test.jsonl"];
    let mut writers = Vec::new();
    for name in names {
        // Each file appears under its name only once complete (temp file + fsync + rename);
        // an error drops the writers, which removes their temporary files.
        writers.push(Hashing {
            inner: AtomicFile::create(&args.out.join(name))?,
            hash: Sha256::new(),
            bytes: 0,
        });
    }
    let pb = bar(protocol.users() as u64, "users");
    let mut counts = ProtocolCounts::default();
    for u in 0..protocol.users() {
        let ex = protocol.user_examples(u, Splits::ALL);
        counts.add(&ex, Splits::ALL);
        for (w, list) in writers
            .iter_mut()
            .zip([&ex.train, &ex.validation, &ex.test])
        {
            for e in list {
                serde_json::to_writer(&mut *w, e)?;
                w.write_all(b"\n")?;
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut outputs = Vec::new();
    for (name, w) in names.into_iter().zip(writers) {
        let Hashing { inner, hash, bytes } = w;
        inner.commit()?;
        outputs.push(FileDigest {
            file: name.to_string(),
            bytes,
            sha256: hash.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        });
    }
    let manifest = Manifest {
        format: FORMAT.to_string(),
        dataset: ds.name.clone(),
        inputs: loaded.inputs.clone(),
        load: args.data.load_options(),
        load_report: ds.report.clone(),
        protocol: cfg,
        stats: DatasetStats::of(ds),
        examples: counts.clone(),
        outputs,
    };
    let text = serde_json::to_string_pretty(&manifest)? + "\n";
    let mpath = args.out.join("manifest.json");
    // Written last: a manifest describes complete data files.
    write_atomic(&mpath, text.as_bytes())?;
    println!(
        "wrote {} train, {} validation, {} test examples of {} to {} (manifest.json: inputs, protocol, counts)",
        counts.train,
        counts.validation,
        counts.test,
        ds.name,
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::date(0), "1970-01-01");
        assert_eq!(super::date(874724710), "1997-09-20");
        assert_eq!(super::date(1046388675), "2003-02-27");
    }
}
