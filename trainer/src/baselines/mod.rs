//! Classical recommenders scored on exactly the ALRO candidate lists (METHOD.md §9): the numbers
//! the LLM ranker must beat.
//!
//! Every baseline is fitted on [`TrainData`]: each user's ratings strictly before the evaluated
//! window (test: before the test window, so validation ratings are training data; validation:
//! before the validation window). See `alro_core::data::protocol` for the exact cut. Fitted,
//! it scores (user, item) pairs; the evaluator ranks each candidate list by those scores, ties
//! scored by their expected NDCG.

pub mod bpr;
pub mod item_knn;
pub mod item_mean;
pub mod lightgcn;
pub mod linalg;
pub mod mf;
pub mod notes;
pub mod popularity;
pub mod random;

pub use alro_core::data::TrainData;
use clap::ValueEnum;
use indicatif::ProgressBar;

/// A fitted model's opinion of how much `user` would like `item`; higher = preferred.
pub trait Scorer: Send + Sync {
    fn score(&self, user: u32, item: u32) -> f64;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BaselineKind {
    /// Uniformly random order: the analytic expected NDCG (all candidates tied).
    Random,
    /// Training interaction counts.
    Popularity,
    /// Bayesian-smoothed mean rating of the item.
    ItemMean,
    /// Item-kNN: summed cosine (co-rating) similarity to the user's training items.
    ItemKnn,
    /// Biased matrix factorisation of the ratings, SGD (Funk / Koren).
    Mf,
    /// BPR-MF: pairwise ranking of rated over unrated items, SGD.
    Bpr,
    /// LightGCN: BPR on embeddings propagated over the normalised user–item graph.
    Lightgcn,
}

impl BaselineKind {
    pub const ALL: [BaselineKind; 7] = [
        BaselineKind::Random,
        BaselineKind::Popularity,
        BaselineKind::ItemMean,
        BaselineKind::ItemKnn,
        BaselineKind::Mf,
        BaselineKind::Bpr,
        BaselineKind::Lightgcn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BaselineKind::Random => "random",
            BaselineKind::Popularity => "popularity",
            BaselineKind::ItemMean => "item-mean",
            BaselineKind::ItemKnn => "item-knn",
            BaselineKind::Mf => "mf",
            BaselineKind::Bpr => "bpr",
            BaselineKind::Lightgcn => "lightgcn",
        }
    }
}

/// Hyper-parameters; `None` = the baseline's own default (see each module).
#[derive(Debug, Clone, Default)]
pub struct Hyper {
    pub dim: Option<usize>,
    pub epochs: Option<usize>,
    pub lr: Option<f32>,
    pub reg: Option<f32>,
    pub layers: Option<usize>,
    pub smoothing: Option<f64>,
    pub seed: u64,
}

/// Fit one baseline. `pb` shows training progress (epochs) where there is any.
pub fn fit(
    kind: BaselineKind,
    data: &TrainData,
    hyper: &Hyper,
    pb: &ProgressBar,
) -> Box<dyn Scorer> {
    match kind {
        BaselineKind::Random => Box::new(random::Random),
        BaselineKind::Popularity => Box::new(popularity::Popularity::fit(data)),
        BaselineKind::ItemMean => Box::new(item_mean::ItemMean::fit(
            data,
            hyper.smoothing.unwrap_or(item_mean::DEFAULT_SMOOTHING),
        )),
        BaselineKind::ItemKnn => Box::new(item_knn::ItemKnn::fit(data)),
        BaselineKind::Mf => Box::new(mf::BiasedMf::fit(
            data,
            &mf::MfConfig::from_hyper(hyper),
            pb,
        )),
        BaselineKind::Bpr => Box::new(bpr::fit(data, &bpr::config(hyper), pb)),
        BaselineKind::Lightgcn => Box::new(lightgcn::LightGcn::fit(
            data,
            &lightgcn::LightGcnConfig::from_hyper(hyper),
            pb,
        )),
    }
}
