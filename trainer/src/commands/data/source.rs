//! Which dataset and which files: the `--dataset D --path P` pair shared by `alro data stats`,
//! `alro data prepare` and `alro eval`, resolved to input files and a loaded [`Dataset`].

use super::files::{find_in, require_in, InputFile};
use alro_core::data::manifest::FileDigest;
use alro_core::data::{amazon, movielens, Dataset, LoadOptions};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

/// The vendored default dataset (see `data/ml-latest-small/VENDORED.md`).
const EMBEDDED_RATINGS: &[u8] = include_bytes!("../../../../data/ml-latest-small/ratings.csv.xz");
const EMBEDDED_MOVIES: &[u8] = include_bytes!("../../../../data/ml-latest-small/movies.csv.xz");

/// Dataset formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetKind {
    /// MovieLens 100K: a folder with `u.data` and `u.item`.
    #[value(name = "ml-100k")]
    Ml100k,
    /// MovieLens 1M: a folder with `ratings.dat` and `movies.dat` (`::`-separated). Also accepts
    /// the shared copy's `ratings_users1-2999_with_timestamps.dat.xz` (timestamps exist only for
    /// users 1–2999 there, so the protocol runs on that subset).
    #[value(name = "ml-1m")]
    Ml1m,
    /// MovieLens latest-small: a folder with `ratings.csv` and `movies.csv`; without `--path`,
    /// the copy embedded in this binary.
    #[value(name = "ml-latest-small")]
    MlLatestSmall,
    /// MovieLens latest (full): same format as latest-small.
    #[value(name = "ml-latest")]
    MlLatest,
    /// Amazon reviews 2014 (JSON lines; reviewerID, asin, overall, unixReviewTime).
    #[value(name = "amazon-2014")]
    Amazon2014,
    /// Amazon reviews 2018 (same review fields; titles from a `meta_*.json` file).
    #[value(name = "amazon-2018")]
    Amazon2018,
}

impl DatasetKind {
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Ml100k => "ml-100k",
            DatasetKind::Ml1m => "ml-1m",
            DatasetKind::MlLatestSmall => "ml-latest-small",
            DatasetKind::MlLatest => "ml-latest",
            DatasetKind::Amazon2014 => "amazon-2014",
            DatasetKind::Amazon2018 => "amazon-2018",
        }
    }
}

/// `--dataset`, `--path` and the loader options.
#[derive(Debug, Clone, Args)]
pub struct DatasetArgs {
    /// Dataset format. Without it: detected from the files in `--path`, or the embedded
    /// ml-latest-small when `--path` is missing too.
    #[arg(long, value_enum)]
    pub dataset: Option<DatasetKind>,
    /// Folder holding the dataset's files (Amazon: the reviews file itself, or a folder with
    /// one reviews file and optionally one `meta_*` file). Files may be `.xz` or `.gz`.
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// Amazon only: metadata JSON lines (`asin`, `title`) giving item titles.
    #[arg(long)]
    pub meta: Option<PathBuf>,
    /// Skip malformed lines (and ratings of unknown items), counting them, instead of stopping
    /// at the first one.
    #[arg(long)]
    pub skip_bad_lines: bool,
    /// Keep only the k-core (users and items with at least K ratings, repeated until stable).
    #[arg(long, value_name = "K")]
    pub kcore: Option<usize>,
}

/// A loaded dataset with the digests of the files it came from.
pub struct Loaded {
    pub dataset: Dataset,
    pub inputs: Vec<FileDigest>,
}

impl DatasetArgs {
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            skip_bad_lines: self.skip_bad_lines,
            kcore: self.kcore,
        }
    }

    /// Resolve the files and load the dataset.
    pub fn load(&self) -> Result<Loaded> {
        let kind = match (self.dataset, &self.path) {
            (Some(k), _) => k,
            (None, None) => DatasetKind::MlLatestSmall,
            (None, Some(p)) => detect(p)?,
        };
        if self.meta.is_some() && !matches!(kind, DatasetKind::Amazon2014 | DatasetKind::Amazon2018)
        {
            bail!("--meta is only for the Amazon datasets");
        }
        let opts = self.load_options();
        let path = self.path.as_deref();
        let need_path = || path.with_context(|| missing_path(kind));
        let mut notes = Vec::new();
        let (dataset, files) = match kind {
            DatasetKind::Ml100k => {
                let dir = need_path()?;
                let r = InputFile::read(&require_in(
                    dir,
                    &["u.data"],
                    "MovieLens 100K ratings (u.data)",
                )?)?;
                let i = InputFile::read(&require_in(
                    dir,
                    &["u.item"],
                    "MovieLens 100K items (u.item)",
                )?)?;
                (
                    movielens::load_ml100k(r.input(), i.input(), &opts)?,
                    vec![r, i],
                )
            }
            DatasetKind::Ml1m => {
                let dir = need_path()?;
                let rp = match find_in(dir, &["ratings.dat"]) {
                    Some(p) => p,
                    None => {
                        let p = require_in(
                            dir,
                            &["ratings.dat", "ratings_users1-2999_with_timestamps.dat"],
                            "MovieLens 1M ratings with timestamps",
                        )?;
                        notes.push(format!(
                            "ml-1m: using {} — timestamps exist only for users 1-2999 in this copy, so the time-split protocol runs on that subset (see its PROVENANCE.md)",
                            p.file_name().unwrap_or_default().to_string_lossy()
                        ));
                        p
                    }
                };
                let r = InputFile::read(&rp)?;
                let i = InputFile::read(&require_in(
                    dir,
                    &["movies.dat"],
                    "MovieLens 1M items (movies.dat)",
                )?)?;
                (
                    movielens::load_ml1m(r.input(), i.input(), &opts)?,
                    vec![r, i],
                )
            }
            DatasetKind::MlLatestSmall | DatasetKind::MlLatest => {
                let (r, i) = match path {
                    Some(dir) => (
                        InputFile::read(&require_in(
                            dir,
                            &["ratings.csv"],
                            "MovieLens ratings (ratings.csv)",
                        )?)?,
                        InputFile::read(&require_in(
                            dir,
                            &["movies.csv"],
                            "MovieLens movies (movies.csv)",
                        )?)?,
                    ),
                    None if kind == DatasetKind::MlLatestSmall => (
                        InputFile::from_stored(
                            "embedded:ml-latest-small/ratings.csv.xz",
                            EMBEDDED_RATINGS.to_vec(),
                        )?,
                        InputFile::from_stored(
                            "embedded:ml-latest-small/movies.csv.xz",
                            EMBEDDED_MOVIES.to_vec(),
                        )?,
                    ),
                    None => bail!(missing_path(kind)),
                };
                (
                    movielens::load_ml_latest(kind.name(), r.input(), i.input(), &opts)?,
                    vec![r, i],
                )
            }
            DatasetKind::Amazon2014 | DatasetKind::Amazon2018 => {
                let p = need_path()?;
                let (reviews, meta) = amazon_files(p, self.meta.as_deref())?;
                let r = InputFile::read(&reviews)?;
                let m = meta.map(|m| InputFile::read(&m)).transpose()?;
                let ds = amazon::load_amazon(
                    kind.name(),
                    r.input(),
                    m.as_ref().map(|m| m.input()),
                    &opts,
                )?;
                (ds, std::iter::once(r).chain(m).collect())
            }
        };
        let mut dataset = dataset;
        dataset.report.notes.splice(0..0, notes);
        Ok(Loaded {
            dataset,
            inputs: files.into_iter().map(|f| f.digest).collect(),
        })
    }
}

fn missing_path(kind: DatasetKind) -> String {
    format!(
        "--dataset {} needs --path, the folder holding its files (only ml-latest-small is embedded; \
         MovieLens 100K/1M may not be redistributed)",
        kind.name()
    )
}

/// Tell the dataset from the files in a folder.
fn detect(dir: &Path) -> Result<DatasetKind> {
    if find_in(dir, &["u.data"]).is_some() {
        Ok(DatasetKind::Ml100k)
    } else if find_in(
        dir,
        &["ratings.dat", "ratings_users1-2999_with_timestamps.dat"],
    )
    .is_some()
    {
        Ok(DatasetKind::Ml1m)
    } else if find_in(dir, &["ratings.csv"]).is_some() {
        let small = dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("small"));
        Ok(if small {
            DatasetKind::MlLatestSmall
        } else {
            DatasetKind::MlLatest
        })
    } else {
        bail!("cannot tell which dataset {} holds (no u.data, ratings.dat or ratings.csv); pass --dataset", dir.display())
    }
}

/// Amazon: the reviews file and the optional metadata file.
fn amazon_files(path: &Path, meta: Option<&Path>) -> Result<(PathBuf, Option<PathBuf>)> {
    if path.is_file() {
        return Ok((path.to_path_buf(), meta.map(Path::to_path_buf)));
    }
    if !path.is_dir() {
        bail!("{} does not exist", path.display());
    }
    let is_json = |n: &str| {
        [
            ".json",
            ".jsonl",
            ".json.gz",
            ".jsonl.gz",
            ".json.xz",
            ".jsonl.xz",
        ]
        .iter()
        .any(|e| n.ends_with(e))
    };
    let mut reviews = Vec::new();
    let mut metas = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("listing {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if !p.is_file() || !is_json(&name) {
            continue;
        }
        if name.starts_with("meta_") {
            metas.push(p);
        } else {
            reviews.push(p);
        }
    }
    let reviews = match reviews.as_slice() {
        [one] => one.clone(),
        [] => bail!(
            "{}: no reviews file (*.json, *.jsonl, optionally .gz)",
            path.display()
        ),
        many => bail!(
            "{}: {} reviews files; pass the one you want as --path",
            path.display(),
            many.len()
        ),
    };
    let meta = match (meta, metas.as_slice()) {
        (Some(m), _) => Some(m.to_path_buf()),
        (None, []) => None,
        (None, [one]) => Some(one.clone()),
        (None, many) => bail!(
            "{}: {} meta_* files; choose one with --meta",
            path.display(),
            many.len()
        ),
    };
    Ok((reviews, meta))
}
