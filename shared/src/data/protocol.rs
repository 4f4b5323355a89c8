//! The ALRO evaluation protocol (METHOD.md §1): per-user time split into training, validation
//! and test windows, history of `L` ratings, `P` rated candidates plus `m − P` never-rated ones.
//!
//! Windows, for a user with `n` ratings in time order (ties by item id) and `P` positives:
//! - test = ratings `[n−P, n)`, validation = `[n−2P, n−P)`;
//! - training windows end at or before `n−2P` and slide back from there with stride `s`
//!   (default `P`): starts `n−3P, n−3P−s, …`;
//! - a window starting at `t` needs `t ≥ min_history` (default `L`); its history is the `L`
//!   ratings `[t−L, t)` (fewer only if `min_history < L`).
//!
//! Negatives: `m − P` items drawn without replacement from the items that have at least one
//! rating in the dataset (the pool), excluding every item the user ever rated (at any time),
//! every item whose title equals the title of an item the user rated (ML-100K lists 18 films
//! under two ids), and — so that nothing of a later window reaches an earlier one — the test
//! candidates when sampling validation and training negatives, and the validation candidates
//! when sampling training negatives. How they are drawn ([`NegativeSampling`]):
//! - `uniform` (default): every allowed item equally likely. Rejection sampling over the pool
//!   while at least half of the pool is allowed; otherwise a partial Fisher–Yates shuffle of the
//!   explicit allowed list.
//! - `popular`: one item after another, each with probability proportional to its rating count
//!   in the whole dataset (all ratings, as the pool is defined) among the allowed items not yet
//!   chosen (successive weighted sampling without replacement). A draw is `r = below(W)` over the
//!   pool's total count `W`, mapped to an item by binary search in the cumulative counts (pool
//!   order), and rejected if that item is excluded or already chosen — used while
//!   `2·(A − k·c_max) ≥ W`, where `A` is the allowed items' total count, `k = m − P` and `c_max`
//!   the largest count, so that every draw is accepted with probability at least ½. Otherwise an
//!   explicit draw: `r = below(R)` over the remaining allowed count `R`, the item found by
//!   walking the allowed list in pool order, then removed from it. Both give the same
//!   distribution, not the same lists. Negatives are then known films, and ranking by popularity
//!   helps little (the demo page's situation).
//!
//! Which method runs depends only on the data, so the lists are deterministic either way, and
//! with `uniform` they are exactly those of earlier versions.
//!
//! Determinism: every example has its own ChaCha8 stream keyed by (seed, user, split, window
//! start) (see [`super::rng`]); users and items are iterated in sorted order, never in hash
//! order. The test lists therefore do not depend on the training parameters (stride), nor on
//! which splits are generated.
//!
//! Popularity notes (off by default; `popularity_tiers = N` turns them on): every candidate gets
//! the note `popularity T/N`, where `T = N` for items rated at least half as often as the most
//! rated item, `N − 1` for at least a quarter, and so on down to `1` (halving once per tier).
//! Counts come from the same cut the baselines are fitted on (below): ratings before the test
//! windows for test lists, before the validation windows for validation and training lists. The
//! LLM then sees the signal the popularity baseline ranks by, and nothing later than it may.
//!
//! Similarity notes (off by default; `similarity_tiers = N` turns them on): every candidate gets
//! `similarity T/N`, the mean item-kNN cosine of the candidate with the list's history items in
//! `S = similarity_steps` per unit, tenths by default (`T = 1 + ⌊S·s⌋`, capped at `N`; see
//! [`super::similarity`]), over the same cut of the
//! ratings as popularity notes and without the list's own user. It tells the model which
//! candidates other users rated together with this history: collaborative signal a title does not
//! carry. With both kinds on, the note reads `popularity P/N, similarity S/N`.
//!
//! Match notes (off by default; `match_tiers = N` turns them on): `match T/N` after the other
//! parts, the fold-in of a BPR model's item factors over the list's history in `N`
//! equal-frequency tiers ([`super::match_note`]). The model is fitted on the same cut as the
//! other notes; for training lists, whose answers lie before the validation cut, on the cut
//! without the list's own user: the users are split into [`MATCH_FOLDS`] folds (user index mod
//! 5) and a training list reads the model fitted without its user's fold.
//!
//! Baselines are fitted on [`Protocol::fit_ratings`]: every user's ratings strictly before the
//! evaluated window. For that cut, the last `P` ratings of every user are the test window and the
//! `P` before them the validation window, whether or not the user has enough history for an
//! example there.

use super::dataset::{Dataset, Rating};
use super::example::{RankingExample, Split};
use super::match_note::MatchModel;
use super::rng::ExampleRng;
use super::similarity::{similarity_tier, CoRatingIndex, TENTHS};
use super::TrainData;
use crate::request::{Candidate, HistoryEntry};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The protocol's parameters. Every field is an [ours] choice of METHOD.md §1 with its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProtocolConfig {
    /// `L`: ratings shown as history.
    pub history_len: usize,
    /// `m`: candidates per list.
    pub candidates: usize,
    /// `P`: rated candidates per list (the window size).
    pub positives: usize,
    /// Stride between training windows; `None` = `P` (non-overlapping windows).
    pub stride: Option<usize>,
    /// Fewest history ratings a window needs; `None` = `L` (full history only).
    pub min_history: Option<usize>,
    /// Global seed of every random choice (negatives, presentation order, target tie order).
    pub seed: u64,
    /// Number of popularity tiers shown as a note on every candidate (module docs); 0 = none.
    pub popularity_tiers: usize,
    /// Number of similarity tiers shown as a note on every candidate (module docs); 0 = none.
    pub similarity_tiers: usize,
    /// Similarity tiers per unit cosine (module docs); 10 = tenths. Left out of a manifest when
    /// 10, so manifests written before it existed read and compare the same.
    #[serde(skip_serializing_if = "is_tenths")]
    pub similarity_steps: usize,
    /// Number of match tiers shown as a note on every candidate (module docs); 0 = none. Left out
    /// of a manifest when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub match_tiers: usize,
    /// How the `m − P` negatives are drawn (module docs).
    pub negatives: NegativeSampling,
}

/// How a list's negatives are drawn from the allowed items (module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NegativeSampling {
    /// Every allowed item equally likely.
    #[default]
    Uniform,
    /// Proportionally to each item's rating count in the whole dataset.
    Popular,
}

impl NegativeSampling {
    pub fn as_str(self) -> &'static str {
        match self {
            NegativeSampling::Uniform => "uniform",
            NegativeSampling::Popular => "popular",
        }
    }
}

/// Most tiers a note may have: below 2^-15 of the top count every item is tier 1 anyway.
pub const MAX_POPULARITY_TIERS: usize = 16;
/// Most similarity steps per unit cosine: finer than 1% of a cosine tells apart nothing a
/// 20-candidate list needs, and costs prompt tokens.
pub const MAX_SIMILARITY_STEPS: usize = 100;

fn is_tenths(steps: &usize) -> bool {
    *steps == TENTHS
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Most match tiers: finer than 1% of the films tells apart nothing a list needs.
pub const MAX_MATCH_TIERS: usize = 100;
/// Folds of users for the match notes of training lists (module docs).
pub const MATCH_FOLDS: usize = 5;

impl Default for ProtocolConfig {
    fn default() -> Self {
        ProtocolConfig {
            history_len: 10,
            candidates: 20,
            positives: 5,
            stride: None,
            min_history: None,
            seed: 2024,
            popularity_tiers: 0,
            similarity_tiers: 0,
            similarity_steps: TENTHS,
            match_tiers: 0,
            negatives: NegativeSampling::Uniform,
        }
    }
}

impl ProtocolConfig {
    pub fn stride(&self) -> usize {
        self.stride.unwrap_or(self.positives)
    }
    pub fn min_history(&self) -> usize {
        self.min_history.unwrap_or(self.history_len)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(format!("protocol: {m}")));
        if self.positives == 0 {
            return bad("positives (P) must be at least 1".into());
        }
        if self.candidates <= self.positives {
            return bad(format!(
                "candidates (m = {}) must exceed positives (P = {})",
                self.candidates, self.positives
            ));
        }
        if self.stride() == 0 {
            return bad("stride must be at least 1".into());
        }
        if self.popularity_tiers > MAX_POPULARITY_TIERS {
            return bad(format!(
                "popularity_tiers = {} (at most {MAX_POPULARITY_TIERS}; 0 turns notes off)",
                self.popularity_tiers
            ));
        }
        if !(1..=MAX_SIMILARITY_STEPS).contains(&self.similarity_steps) {
            return bad(format!(
                "similarity_steps = {} (tiers per unit cosine: 1 to {MAX_SIMILARITY_STEPS}; 10 = tenths)",
                self.similarity_steps
            ));
        }
        // A cosine is at most 1, which is tier `steps + 1`: more tiers would never be shown.
        let most = self.similarity_steps + 1;
        if self.similarity_tiers > most {
            return bad(format!(
                "similarity_tiers = {} (at most {most} with similarity_steps = {}; 0 turns notes off)",
                self.similarity_tiers, self.similarity_steps
            ));
        }
        if self.match_tiers > MAX_MATCH_TIERS {
            return bad(format!(
                "match_tiers = {} (at most {MAX_MATCH_TIERS}; 0 turns notes off)",
                self.match_tiers
            ));
        }
        if self.min_history() > self.history_len {
            return bad(format!(
                "min_history ({}) cannot exceed history_len (L = {})",
                self.min_history(),
                self.history_len
            ));
        }
        Ok(())
    }
}

/// Which splits to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Splits {
    pub train: bool,
    pub validation: bool,
    pub test: bool,
}

impl Splits {
    pub const ALL: Splits = Splits {
        train: true,
        validation: true,
        test: true,
    };
    pub fn only(split: Split) -> Splits {
        Splits {
            train: split == Split::Train,
            validation: split == Split::Validation,
            test: split == Split::Test,
        }
    }
    fn wants(&self, s: Split) -> bool {
        match s {
            Split::Train => self.train,
            Split::Validation => self.validation,
            Split::Test => self.test,
        }
    }
}

/// Examples of one user, each split in time order (oldest window first).
#[derive(Debug, Default)]
pub struct UserExamples {
    pub train: Vec<RankingExample>,
    pub validation: Vec<RankingExample>,
    pub test: Vec<RankingExample>,
    /// Windows dropped because the user had too few never-rated items for the negatives.
    pub dropped_windows: usize,
}

impl UserExamples {
    pub fn get(&self, s: Split) -> &[RankingExample] {
        match s {
            Split::Train => &self.train,
            Split::Validation => &self.validation,
            Split::Test => &self.test,
        }
    }
}

/// The protocol bound to one dataset.
pub struct Protocol<'a> {
    ds: &'a Dataset,
    cfg: ProtocolConfig,
    /// Items with at least one rating, in catalog (natural id) order: the negative pool.
    pool: Vec<u32>,
    /// `popular` negatives only (else empty): each pool item's rating count in the whole dataset,
    /// and their inclusive prefix sums (`cumulative[j] = counts[0] + … + counts[j]`).
    pool_counts: Vec<u32>,
    pool_cumulative: Vec<u32>,
    /// `title_group[item]` = index into `groups` of the items sharing its title.
    title_group: Vec<u32>,
    groups: Vec<Vec<u32>>,
    /// Per-item rating counts for popularity notes: `[0]` at the test cut, `[1]` at the
    /// validation cut. Empty when notes are off.
    popularity: [Vec<u32>; 2],
    /// Co-rating indexes for similarity notes, at the same two cuts. Empty when notes are off.
    similarity: Vec<CoRatingIndex>,
    /// Match models: `[0]` at the test cut, `[1]` at the validation cut, then one per fold of
    /// users at the validation cut without that fold. Empty when notes are off.
    matching: Vec<MatchModel>,
}

/// The tier (1..=`tiers`) of an item rated `count` times when the most rated item has `max`:
/// one tier down per halving of the count (module docs).
pub fn popularity_tier(count: u32, max: u32, tiers: usize) -> usize {
    let halvings_within = (1..tiers as u32)
        .filter(|&k| (count as u64) << k >= max as u64)
        .count();
    1 + halvings_within
}

impl<'a> Protocol<'a> {
    pub fn new(ds: &'a Dataset, cfg: ProtocolConfig) -> Result<Self> {
        cfg.validate()?;
        let mut count = vec![0u64; ds.items.len()];
        ds.ratings.iter().for_each(|r| count[r.item as usize] += 1);
        let pool: Vec<u32> = (0..ds.items.len() as u32)
            .filter(|&i| count[i as usize] > 0)
            .collect();
        let (mut pool_counts, mut pool_cumulative) = (Vec::new(), Vec::new());
        if cfg.negatives == NegativeSampling::Popular {
            // `ExampleRng::below` draws below a u32, so the total must fit one.
            let total: u64 = count.iter().sum();
            if total > u32::MAX as u64 {
                return Err(Error::Invalid(format!(
                    "protocol: negatives = popular needs at most {} ratings in all (the dataset \
                     has {total})",
                    u32::MAX
                )));
            }
            pool_counts = pool.iter().map(|&i| count[i as usize] as u32).collect();
            pool_cumulative = pool_counts
                .iter()
                .scan(0u32, |acc, &c| {
                    *acc += c;
                    Some(*acc)
                })
                .collect();
        }
        let mut by_title: HashMap<&str, u32> = HashMap::new();
        let mut groups: Vec<Vec<u32>> = Vec::new();
        let mut title_group = Vec::with_capacity(ds.items.len());
        for (i, item) in ds.items.iter().enumerate() {
            let g = *by_title.entry(item.title.as_str()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() as u32 - 1
            });
            groups[g as usize].push(i as u32);
            title_group.push(g);
        }
        let mut p = Protocol {
            ds,
            cfg,
            pool,
            pool_counts,
            pool_cumulative,
            title_group,
            groups,
            popularity: [Vec::new(), Vec::new()],
            similarity: Vec::new(),
            matching: Vec::new(),
        };
        if p.cfg.popularity_tiers > 0 {
            p.popularity = [
                p.rating_counts(Split::Test),
                p.rating_counts(Split::Validation),
            ];
        }
        if p.cfg.similarity_tiers > 0 {
            p.similarity = [Split::Test, Split::Validation]
                .map(|split| {
                    let cut = (0..p.users()).flat_map(|u| p.fit_ratings(u, split));
                    CoRatingIndex::new(ds.items.len(), cut.map(|r| (r.user, r.item)))
                })
                .into();
        }
        if p.cfg.match_tiers > 0 {
            let (l, n) = (p.cfg.history_len, p.cfg.match_tiers);
            let mut models = vec![
                MatchModel::fit(&p.fit_data(Split::Test, None), l, n)?,
                MatchModel::fit(&p.fit_data(Split::Validation, None), l, n)?,
            ];
            for fold in 0..MATCH_FOLDS {
                models.push(MatchModel::fit(
                    &p.fit_data(Split::Validation, Some(fold)),
                    l,
                    n,
                )?);
            }
            p.matching = models;
        }
        Ok(p)
    }

    /// The ratings of [`Protocol::fit_ratings`] for `split` as training data, without the users
    /// of fold `leave_out` (user index mod [`MATCH_FOLDS`]) when given.
    pub fn fit_data(&self, split: Split, leave_out: Option<usize>) -> TrainData {
        let mut interactions = Vec::new();
        let mut user_items = vec![Vec::new(); self.users()];
        for (u, items) in user_items.iter_mut().enumerate() {
            if leave_out == Some(u % MATCH_FOLDS) {
                continue;
            }
            for r in self.fit_ratings(u, split) {
                interactions.push((r.user, r.item, r.rating));
                items.push(r.item);
            }
            items.sort_unstable();
        }
        TrainData::new(self.users(), self.ds.items.len(), interactions, user_items)
    }

    /// How often each item is rated in the ratings baselines may be fitted on for `split`.
    fn rating_counts(&self, split: Split) -> Vec<u32> {
        let mut counts = vec![0u32; self.ds.items.len()];
        for u in 0..self.users() {
            for r in self.fit_ratings(u, split) {
                counts[r.item as usize] += 1;
            }
        }
        counts
    }

    /// The note shown with `item` in user `u`'s list of `split` with history `history`, if
    /// notes are on.
    fn note(&self, item: u32, split: Split, u: usize, history: &[Rating]) -> Option<String> {
        let cut = (split != Split::Test) as usize;
        let mut parts = Vec::new();
        let tiers = self.cfg.popularity_tiers;
        let counts = &self.popularity[cut];
        if let Some(max) = counts.iter().copied().max() {
            let tier = popularity_tier(counts[item as usize], max, tiers);
            parts.push(format!("popularity {tier}/{tiers}"));
        }
        if let Some(index) = self.similarity.get(cut) {
            let tiers = self.cfg.similarity_tiers;
            let hist: Vec<u32> = history.iter().map(|r| r.item).collect();
            let s = index.mean_cosine(item, &hist, u as u32);
            let tier = similarity_tier(s, tiers, self.cfg.similarity_steps);
            parts.push(format!("similarity {tier}/{tiers}"));
        }
        let model = match split {
            Split::Test => self.matching.first(),
            Split::Validation => self.matching.get(1),
            Split::Train => self.matching.get(2 + u % MATCH_FOLDS),
        };
        if let Some(model) = model {
            let hist: Vec<u32> = history.iter().map(|r| r.item).collect();
            let tier = model.tier(item, &hist);
            parts.push(format!("match {tier}/{}", model.tiers()));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    pub fn config(&self) -> &ProtocolConfig {
        &self.cfg
    }
    pub fn dataset(&self) -> &Dataset {
        self.ds
    }

    /// Number of users (iterate `0..users()` with [`Protocol::user_examples`]).
    pub fn users(&self) -> usize {
        self.ds.users.len()
    }

    /// Start index of `split`'s window for a user with `n` ratings (training: the latest one).
    fn window_start(&self, n: usize, split: Split) -> Option<usize> {
        let p = self.cfg.positives;
        let back = match split {
            Split::Test => p,
            Split::Validation => 2 * p,
            Split::Train => 3 * p,
        };
        n.checked_sub(back)
    }

    /// The ratings of user `u` a model may be fitted on when evaluating `split`: all ratings
    /// strictly before that split's window (for `Train`, before the validation window).
    pub fn fit_ratings(&self, u: usize, split: Split) -> &'a [Rating] {
        let rs = self.ds.user_ratings(u);
        let cut = match split {
            Split::Test => self.window_start(rs.len(), Split::Test),
            Split::Validation | Split::Train => self.window_start(rs.len(), Split::Validation),
        };
        &rs[..cut.unwrap_or(0)]
    }

    /// All examples of user `u` for the chosen splits. Test and validation windows are sampled
    /// first whenever any later split needs their candidates excluded.
    pub fn user_examples(&self, u: usize, splits: Splits) -> UserExamples {
        let rs = self.ds.user_ratings(u);
        let n = rs.len();
        let cfg = &self.cfg;
        let mut out = UserExamples::default();

        // Exclusion marks: every item the user rated, and every item sharing a title with one.
        let mut excluded = vec![false; self.ds.items.len()];
        for r in rs {
            for &i in &self.groups[self.title_group[r.item as usize] as usize] {
                excluded[i as usize] = true;
            }
        }
        let fits = |t: usize| t >= cfg.min_history();

        // Test, then validation, then training (latest first), each excluding the candidates of
        // the later windows already drawn.
        let mut order: Vec<(Split, usize)> = Vec::new();
        for split in [Split::Test, Split::Validation] {
            if let Some(t) = self.window_start(n, split).filter(|&t| fits(t)) {
                order.push((split, t));
            }
        }
        if splits.train {
            if let Some(mut t) = self.window_start(n, Split::Train) {
                while fits(t) {
                    order.push((Split::Train, t));
                    match t.checked_sub(cfg.stride()) {
                        Some(next) => t = next,
                        None => break,
                    }
                }
            }
        }
        let needs_later_lists = |s: Split| match s {
            Split::Test => splits.validation || splits.train,
            Split::Validation => splits.train,
            Split::Train => false,
        };
        for (split, t) in order {
            if !splits.wants(split) && !needs_later_lists(split) {
                continue;
            }
            match self.example(u, split, t, &excluded) {
                Some(ex) => {
                    if split != Split::Train {
                        for c in &ex.candidates {
                            excluded[self.ds.item_index(&c.id).expect("candidate from catalog")] =
                                true;
                        }
                    }
                    if splits.wants(split) {
                        match split {
                            Split::Train => out.train.push(ex),
                            Split::Validation => out.validation.push(ex),
                            Split::Test => out.test.push(ex),
                        }
                    }
                }
                None => out.dropped_windows += splits.wants(split) as usize,
            }
        }
        out.train.reverse(); // generated latest first; stored oldest first
        out
    }

    /// Build one example for the window starting at `t`, or `None` if there are not enough
    /// allowed negatives.
    fn example(
        &self,
        u: usize,
        split: Split,
        t: usize,
        excluded: &[bool],
    ) -> Option<RankingExample> {
        let cfg = &self.cfg;
        let ds = self.ds;
        let rs = ds.user_ratings(u);
        let user = &ds.users[u];
        let mut rng = ExampleRng::new(cfg.seed, user, split.as_str(), t);

        let negatives =
            self.sample_negatives(&mut rng, excluded, cfg.candidates - cfg.positives)?;
        let window = &rs[t..t + cfg.positives];
        let mut cands: Vec<(u32, f32)> = window
            .iter()
            .map(|r| (r.item, r.rating))
            .chain(negatives.into_iter().map(|i| (i, 0.0)))
            .collect();
        rng.shuffle(&mut cands);

        let tie = rng.permutation(cands.len());
        let mut target: Vec<usize> = (0..cands.len()).collect();
        target.sort_by(|&a, &b| cands[b].1.total_cmp(&cands[a].1).then(tie[a].cmp(&tie[b])));

        let h0 = t.saturating_sub(cfg.history_len);
        let hist = &rs[h0..t];
        Some(RankingExample {
            user: user.clone(),
            split,
            window_start: t,
            history: hist
                .iter()
                .map(|r| HistoryEntry {
                    title: ds.items[r.item as usize].title.clone(),
                    rating: r.rating,
                })
                .collect(),
            history_items: hist
                .iter()
                .map(|r| ds.items[r.item as usize].id.clone())
                .collect(),
            candidates: cands
                .iter()
                .map(|&(i, _)| Candidate {
                    id: ds.items[i as usize].id.clone(),
                    title: ds.items[i as usize].title.clone(),
                    note: self.note(i, split, u, hist),
                })
                .collect(),
            relevance: cands.iter().map(|&(_, r)| r).collect(),
            target,
        })
    }

    /// Draw `k` distinct pool items not marked in `excluded` the configured way (module docs),
    /// or `None` if fewer than `k` are allowed.
    fn sample_negatives(
        &self,
        rng: &mut ExampleRng,
        excluded: &[bool],
        k: usize,
    ) -> Option<Vec<u32>> {
        match self.cfg.negatives {
            NegativeSampling::Uniform => self.uniform_negatives(rng, excluded, k),
            NegativeSampling::Popular => self.popular_negatives(rng, excluded, k),
        }
    }

    /// Draw `k` distinct pool items not marked in `excluded`, uniformly. Rejection sampling while
    /// most of the pool is allowed; an explicit list otherwise (a user who rated most items).
    /// Which method runs depends only on the data, so the result is deterministic either way.
    fn uniform_negatives(
        &self,
        rng: &mut ExampleRng,
        excluded: &[bool],
        k: usize,
    ) -> Option<Vec<u32>> {
        let pool = &self.pool;
        let allowed = pool.iter().filter(|&&i| !excluded[i as usize]).count();
        if allowed < k {
            return None;
        }
        if allowed * 2 >= pool.len() {
            let mut chosen: Vec<u32> = Vec::with_capacity(k);
            while chosen.len() < k {
                let i = pool[rng.below(pool.len() as u32) as usize];
                if !excluded[i as usize] && !chosen.contains(&i) {
                    chosen.push(i);
                }
            }
            Some(chosen)
        } else {
            let mut list: Vec<u32> = pool
                .iter()
                .copied()
                .filter(|&i| !excluded[i as usize])
                .collect();
            // Partial Fisher–Yates: the first k slots become a uniform sample.
            for j in 0..k {
                let r = j + rng.below((list.len() - j) as u32) as usize;
                list.swap(j, r);
            }
            list.truncate(k);
            Some(list)
        }
    }

    /// Draw `k` distinct pool items not marked in `excluded`, each in turn with probability
    /// proportional to its rating count among the allowed items not yet chosen. Rejection over
    /// the cumulative counts while every draw is accepted with probability at least ½ (module
    /// docs); an explicit weighted draw over the allowed list otherwise. Which method runs depends
    /// only on the data.
    fn popular_negatives(
        &self,
        rng: &mut ExampleRng,
        excluded: &[bool],
        k: usize,
    ) -> Option<Vec<u32>> {
        let (pool, counts, cumulative) = (&self.pool, &self.pool_counts, &self.pool_cumulative);
        let (mut allowed, mut allowed_count) = (0usize, 0u64);
        for (&i, &c) in pool.iter().zip(counts) {
            if !excluded[i as usize] {
                allowed += 1;
                allowed_count += c as u64;
            }
        }
        if allowed < k {
            return None;
        }
        let total = cumulative.last().copied().unwrap_or(0);
        let max_count = counts.iter().copied().max().unwrap_or(0) as u64;
        let mut chosen: Vec<u32> = Vec::with_capacity(k);
        // Even after k − 1 picks of the most rated item, half of every draw lands on an allowed,
        // not yet chosen item.
        if allowed_count.saturating_sub(k as u64 * max_count) * 2 >= total as u64 {
            while chosen.len() < k {
                let r = rng.below(total);
                let i = pool[cumulative.partition_point(|&c| c <= r)];
                if !excluded[i as usize] && !chosen.contains(&i) {
                    chosen.push(i);
                }
            }
        } else {
            let mut list: Vec<(u32, u32)> = pool
                .iter()
                .zip(counts)
                .filter(|&(&i, _)| !excluded[i as usize])
                .map(|(&i, &c)| (i, c))
                .collect();
            let mut remaining = allowed_count as u32; // ≤ total, which fits a u32
            while chosen.len() < k {
                // r < remaining = the sum of the list's counts, so the walk stops inside it.
                let (mut r, mut j) = (rng.below(remaining), 0);
                while r >= list[j].1 {
                    r -= list[j].1;
                    j += 1;
                }
                let (i, c) = list.remove(j);
                chosen.push(i);
                remaining -= c;
            }
        }
        Some(chosen)
    }
}

/// Counts of a protocol run, for `stats` and the manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProtocolCounts {
    pub train: usize,
    pub validation: usize,
    pub test: usize,
    /// Users with no test example (fewer than `min_history + P` ratings).
    pub users_without_test: usize,
    /// Windows dropped for lack of never-rated items.
    pub dropped_windows: usize,
}

impl ProtocolCounts {
    pub fn add(&mut self, ex: &UserExamples, splits: Splits) {
        self.train += ex.train.len();
        self.validation += ex.validation.len();
        self.test += ex.test.len();
        if splits.test && ex.test.is_empty() {
            self.users_without_test += 1;
        }
        self.dropped_windows += ex.dropped_windows;
    }
}

/// Convenience for tests and small datasets: every example of every user, in user order.
pub fn build_all(
    ds: &Dataset,
    cfg: &ProtocolConfig,
    splits: Splits,
) -> Result<(Vec<RankingExample>, ProtocolCounts)> {
    let p = Protocol::new(ds, cfg.clone())?;
    let mut all = Vec::new();
    let mut counts = ProtocolCounts::default();
    for u in 0..p.users() {
        let ex = p.user_examples(u, splits);
        counts.add(&ex, splits);
        all.extend(ex.train);
        all.extend(ex.validation);
        all.extend(ex.test);
    }
    Ok((all, counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{Item, LoadOptions, LoadReport, RawRating};
    use std::collections::HashSet;

    /// User `u` (id `"u"`) rates `per_user[u]` distinct items at times 0, 1, 2, ... with ratings
    /// 1..=5; a background user `"bg"` rates all 200 catalog items so every item is in the pool.
    fn synthetic(per_user: &[usize]) -> Dataset {
        let items: Vec<Item> = (0..200)
            .map(|i| Item {
                id: i.to_string(),
                title: format!("Film {i}"),
            })
            .collect();
        let mut raw = Vec::new();
        for (u, &n) in per_user.iter().enumerate() {
            for k in 0..n {
                let item = (u * 7 + k) % 200;
                raw.push(RawRating {
                    user: u.to_string(),
                    item: item.to_string(),
                    rating: (1 + (u + k) % 5) as f32,
                    timestamp: k as i64,
                });
            }
        }
        raw.extend((0..200).map(|i| RawRating {
            user: "bg".into(),
            item: i.to_string(),
            rating: 3.0,
            timestamp: 0,
        }));
        Dataset::from_raw(
            "synthetic",
            items,
            raw,
            &LoadOptions::default(),
            LoadReport::default(),
        )
        .unwrap()
    }

    #[test]
    fn windows_follow_the_spec() {
        // n = 33, P = 5, L = 10: test [28,33), validation [23,28), training starts 18, 13 (8 < L).
        let ds = synthetic(&[33]);
        let p = Protocol::new(&ds, ProtocolConfig::default()).unwrap();
        let u = ds.user_index("0").unwrap();
        let ex = p.user_examples(u, Splits::ALL);
        assert_eq!(
            ex.test.iter().map(|e| e.window_start).collect::<Vec<_>>(),
            vec![28]
        );
        assert_eq!(
            ex.validation
                .iter()
                .map(|e| e.window_start)
                .collect::<Vec<_>>(),
            vec![23]
        );
        assert_eq!(
            ex.train.iter().map(|e| e.window_start).collect::<Vec<_>>(),
            vec![13, 18]
        );
        let t = &ex.test[0];
        assert_eq!(t.history.len(), 10);
        assert_eq!(t.candidates.len(), 20);
        assert_eq!(t.relevance.iter().filter(|&&r| r > 0.0).count(), 5);
        // History = ratings [18, 28), oldest first.
        let rs = ds.user_ratings(u);
        let want: Vec<&str> = rs[18..28]
            .iter()
            .map(|r| ds.items[r.item as usize].id.as_str())
            .collect();
        assert_eq!(t.history_items, want);
        // Target: relevance descending, a permutation.
        let mut seen = t.target.clone();
        seen.sort();
        assert_eq!(seen, (0..20).collect::<Vec<_>>());
        assert!(t
            .target
            .windows(2)
            .all(|w| t.relevance[w[0]] >= t.relevance[w[1]]));
        // Fit data for test = the first 28 ratings; for validation the first 23.
        assert_eq!(p.fit_ratings(u, Split::Test).len(), 28);
        assert_eq!(p.fit_ratings(u, Split::Validation).len(), 23);
    }

    #[test]
    fn short_users_get_fewer_or_no_examples() {
        let ds = synthetic(&[14, 19, 20]);
        let p = Protocol::new(&ds, ProtocolConfig::default()).unwrap();
        let mut counts = ProtocolCounts::default();
        for u in ["0", "1", "2"] {
            counts.add(
                &p.user_examples(ds.user_index(u).unwrap(), Splits::ALL),
                Splits::ALL,
            );
        }
        // 14 < L + P: nothing; 19: test only (val start 9 < 10); 20: test + validation.
        assert_eq!(
            (
                counts.test,
                counts.validation,
                counts.train,
                counts.users_without_test
            ),
            (2, 1, 0, 1)
        );
    }

    #[test]
    fn no_leakage_and_negatives_never_rated() {
        check_no_leakage(NegativeSampling::Uniform);
    }

    #[test]
    fn popular_negatives_respect_every_exclusion() {
        check_no_leakage(NegativeSampling::Popular);
    }

    fn check_no_leakage(negatives: NegativeSampling) {
        let ds = synthetic(&[40, 52, 25, 31]);
        let cfg = ProtocolConfig {
            stride: Some(2),
            negatives,
            ..Default::default()
        };
        let p = Protocol::new(&ds, cfg).unwrap();
        for u in 0..p.users() {
            let ex = p.user_examples(u, Splits::ALL);
            let rated: HashSet<&str> = ds
                .user_ratings(u)
                .iter()
                .map(|r| ds.items[r.item as usize].id.as_str())
                .collect();
            let later: HashSet<&str> = ex
                .test
                .iter()
                .chain(&ex.validation)
                .flat_map(|e| e.candidates.iter().map(|c| c.id.as_str()))
                .collect();
            let test_c: HashSet<&str> = ex
                .test
                .iter()
                .flat_map(|e| e.candidates.iter().map(|c| c.id.as_str()))
                .collect();
            for e in ex.train.iter() {
                for id in e
                    .history_items
                    .iter()
                    .map(|s| s.as_str())
                    .chain(e.candidates.iter().map(|c| c.id.as_str()))
                {
                    assert!(
                        !later.contains(id),
                        "user {u}: validation/test item {id} in a training example"
                    );
                }
            }
            for e in ex.validation.iter() {
                assert!(e.candidates.iter().all(|c| !test_c.contains(c.id.as_str())));
            }
            for e in ex.train.iter().chain(&ex.validation).chain(&ex.test) {
                let cands: HashSet<&str> = e.candidates.iter().map(|c| c.id.as_str()).collect();
                assert_eq!(cands.len(), e.candidates.len(), "duplicate candidate");
                assert!(e.history_items.iter().all(|h| !cands.contains(h.as_str())));
                for (c, &r) in e.candidates.iter().zip(&e.relevance) {
                    assert_eq!(r == 0.0, !rated.contains(c.id.as_str()));
                }
            }
        }
    }

    #[test]
    fn deterministic_and_test_lists_independent_of_other_splits() {
        let ds = synthetic(&[40, 52, 25]);
        let cfg = ProtocolConfig::default();
        let a = build_all(&ds, &cfg, Splits::ALL).unwrap().0;
        let b = build_all(&ds, &cfg, Splits::ALL).unwrap().0;
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        let only_test = build_all(&ds, &cfg, Splits::only(Split::Test)).unwrap().0;
        let from_all: Vec<_> = a.into_iter().filter(|e| e.split == Split::Test).collect();
        assert_eq!(only_test, from_all);
        let other_stride = build_all(
            &ds,
            &ProtocolConfig {
                stride: Some(1),
                ..cfg.clone()
            },
            Splits::only(Split::Test),
        )
        .unwrap()
        .0;
        assert_eq!(only_test, other_stride);
        let other_seed = build_all(
            &ds,
            &ProtocolConfig { seed: 1, ..cfg },
            Splits::only(Split::Test),
        )
        .unwrap()
        .0;
        assert_ne!(only_test, other_seed);
    }

    #[test]
    fn same_title_items_are_never_negatives() {
        // Items "0" and "1" share a title; the user rated "0" only.
        let mut items: Vec<Item> = (0..40)
            .map(|i| Item {
                id: i.to_string(),
                title: format!("F{i}"),
            })
            .collect();
        items[1].title = "F0".into();
        let mut raw: Vec<RawRating> = (0..20)
            .map(|k| RawRating {
                user: "u".into(),
                item: (k * 2).to_string(),
                rating: 4.0,
                timestamp: k as i64,
            })
            .collect();
        // Another user rates everything so every item is in the pool.
        raw.extend((0..40).map(|i| RawRating {
            user: "v".into(),
            item: i.to_string(),
            rating: 3.0,
            timestamp: 0,
        }));
        let ds = Dataset::from_raw(
            "t",
            items,
            raw,
            &LoadOptions::default(),
            LoadReport::default(),
        )
        .unwrap();
        for negatives in [NegativeSampling::Uniform, NegativeSampling::Popular] {
            let cfg = ProtocolConfig {
                candidates: 25,
                negatives,
                ..Default::default()
            }; // 20 negatives from 20 allowed minus "1"
            let p = Protocol::new(&ds, cfg).unwrap();
            let ex = p.user_examples(ds.user_index("u").unwrap(), Splits::only(Split::Test));
            // 19 odd items other than "1" are allowed; 20 negatives are needed: dropped.
            assert_eq!((ex.test.len(), ex.dropped_windows), (0, 1));
            let p = Protocol::new(
                &ds,
                ProtocolConfig {
                    candidates: 24,
                    negatives,
                    ..Default::default()
                },
            )
            .unwrap();
            let ex = p.user_examples(ds.user_index("u").unwrap(), Splits::only(Split::Test));
            // All 19 allowed items are negatives (every method must find the last ones).
            assert!(ex.test[0].candidates.iter().all(|c| c.id != "1"));
        }
    }

    #[test]
    fn bad_configs_are_rejected() {
        let ds = synthetic(&[20]);
        for cfg in [
            ProtocolConfig {
                positives: 0,
                ..Default::default()
            },
            ProtocolConfig {
                candidates: 5,
                ..Default::default()
            },
            ProtocolConfig {
                stride: Some(0),
                ..Default::default()
            },
            ProtocolConfig {
                min_history: Some(11),
                ..Default::default()
            },
            ProtocolConfig {
                popularity_tiers: MAX_POPULARITY_TIERS + 1,
                ..Default::default()
            },
        ] {
            assert!(Protocol::new(&ds, cfg).is_err());
        }
    }

    #[test]
    fn popularity_tiers_halve_from_the_top() {
        // Most rated item: 100 ratings, 7 tiers: 7 = [50, 100], 6 = [25, 50), … 1 = below 100/64.
        let tier = |c| popularity_tier(c, 100, 7);
        assert_eq!(
            [100, 50, 49, 25, 24, 13, 12, 7, 6, 4, 3, 2, 1, 0].map(tier),
            [7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
        );
        assert_eq!(
            popularity_tier(0, 0, 7),
            7,
            "an empty catalog ties everything at the top"
        );
        assert_eq!(popularity_tier(5, 100, 1), 1);
    }

    #[test]
    fn popularity_notes_count_only_ratings_before_the_window() {
        let ds = synthetic(&[40, 33, 25]);
        let cfg = ProtocolConfig {
            popularity_tiers: 4,
            ..Default::default()
        };
        let p = Protocol::new(&ds, cfg).unwrap();
        let plain = Protocol::new(&ds, ProtocolConfig::default()).unwrap();
        for u in 0..p.users() {
            let with = p.user_examples(u, Splits::ALL);
            let without = plain.user_examples(u, Splits::ALL);
            for split in [Split::Train, Split::Validation, Split::Test] {
                // Counts at the baselines' cut for this split, recomputed by hand.
                let mut counts = vec![0u32; ds.items.len()];
                for v in 0..p.users() {
                    for r in p.fit_ratings(v, split) {
                        counts[r.item as usize] += 1;
                    }
                }
                let max = *counts.iter().max().unwrap();
                for (a, b) in with.get(split).iter().zip(without.get(split)) {
                    // Notes change nothing but the notes.
                    assert_eq!(a.relevance, b.relevance);
                    assert_eq!(a.target, b.target);
                    for (ca, cb) in a.candidates.iter().zip(&b.candidates) {
                        assert_eq!((&ca.id, &ca.title, &cb.note), (&cb.id, &cb.title, &None));
                        let c = counts[ds.item_index(&ca.id).unwrap()];
                        let want = format!("popularity {}/4", popularity_tier(c, max, 4));
                        assert_eq!(ca.note.as_deref(), Some(want.as_str()));
                    }
                }
            }
        }
    }

    /// Checks every candidate of every list of `p` against the same candidate of `plain` (the
    /// same lists with one kind of note fewer): the lists are equal, and `p`'s note is `plain`'s
    /// followed by the part `part(user, split, history items, candidate item)` gives with its
    /// tier. The tiers must not all be equal.
    fn check_added_note_part(
        ds: &Dataset,
        p: &Protocol,
        plain: &Protocol,
        mut part: impl FnMut(usize, Split, &[u32], u32) -> (String, usize),
    ) {
        let mut seen_tiers = std::collections::BTreeSet::new();
        for u in 0..p.users() {
            let with = p.user_examples(u, Splits::ALL);
            let without = plain.user_examples(u, Splits::ALL);
            for split in [Split::Train, Split::Validation, Split::Test] {
                for (a, b) in with.get(split).iter().zip(without.get(split)) {
                    assert_eq!((&a.relevance, &a.target), (&b.relevance, &b.target));
                    let hist: Vec<u32> = a
                        .history_items
                        .iter()
                        .map(|h| ds.item_index(h).unwrap() as u32)
                        .collect();
                    for (ca, cb) in a.candidates.iter().zip(&b.candidates) {
                        let item = ds.item_index(&ca.id).unwrap() as u32;
                        let (added, tier) = part(u, split, &hist, item);
                        seen_tiers.insert(tier);
                        let want = format!("{}, {added}", cb.note.as_deref().unwrap());
                        assert_eq!(ca.note.as_deref(), Some(want.as_str()));
                    }
                }
            }
        }
        assert!(
            seen_tiers.len() > 1,
            "the synthetic data should give several tiers"
        );
    }

    #[test]
    fn similarity_notes_follow_popularity_and_leave_out_the_lists_user() {
        let ds = synthetic(&[40, 33, 25, 30]);
        let cfg = ProtocolConfig {
            popularity_tiers: 4,
            similarity_tiers: 7,
            ..Default::default()
        };
        let p = Protocol::new(&ds, cfg).unwrap();
        let popular = Protocol::new(
            &ds,
            ProtocolConfig {
                popularity_tiers: 4,
                ..Default::default()
            },
        )
        .unwrap();
        // The cut of the baselines for each split, indexed by hand.
        let index = |split| {
            let cut: Vec<Rating> = (0..p.users())
                .flat_map(|v| p.fit_ratings(v, split).iter().copied())
                .collect();
            CoRatingIndex::new(ds.items.len(), cut.iter().map(|r| (r.user, r.item)))
        };
        let [train, validation, test] = [Split::Train, Split::Validation, Split::Test].map(index);
        check_added_note_part(&ds, &p, &popular, |u, split, hist, item| {
            let index = match split {
                Split::Train => &train,
                Split::Validation => &validation,
                Split::Test => &test,
            };
            let tier = similarity_tier(index.mean_cosine(item, hist, u as u32), 7, TENTHS);
            (format!("similarity {tier}/7"), tier)
        });
        let only = Protocol::new(
            &ds,
            ProtocolConfig {
                similarity_tiers: 3,
                ..Default::default()
            },
        )
        .unwrap();
        let ex = only.user_examples(0, Splits::only(Split::Test));
        let note = ex.test[0].candidates[0].note.clone().unwrap();
        assert!(
            note.starts_with("similarity ") && note.ends_with("/3"),
            "{note}"
        );
        // A cosine of 1 is tier 11 in tenths, tier 41 in 40ths: more tiers could never show.
        for (tiers, steps, ok) in [(11, TENTHS, true), (12, TENTHS, false), (41, 40, true)] {
            let cfg = ProtocolConfig {
                similarity_tiers: tiers,
                similarity_steps: steps,
                ..Default::default()
            };
            assert_eq!(
                Protocol::new(&ds, cfg).is_ok(),
                ok,
                "{tiers} tiers, {steps} steps"
            );
        }
        let no_steps = ProtocolConfig {
            similarity_tiers: 3,
            similarity_steps: 0,
            ..Default::default()
        };
        assert!(Protocol::new(&ds, no_steps).is_err());
    }

    /// A dataset of `n` items where item `i` is rated by `i + 1` users (user `r{j}` rates items
    /// `j..n`), so item `i`'s count is `i + 1`.
    #[test]
    fn match_notes_come_from_the_cut_and_leave_out_a_training_lists_user() {
        let ds = synthetic(&[40, 33, 25, 30, 28, 36]);
        let cfg = ProtocolConfig {
            similarity_tiers: 7,
            match_tiers: 6,
            ..Default::default()
        };
        let p = Protocol::new(&ds, cfg).unwrap();
        let plain = Protocol::new(
            &ds,
            ProtocolConfig {
                similarity_tiers: 7,
                ..Default::default()
            },
        )
        .unwrap();
        // The fits each split reads, rebuilt by hand: a training list's without its user's fold.
        let fit = |split, leave_out| MatchModel::fit(&p.fit_data(split, leave_out), 10, 6).unwrap();
        let (test, validation) = (fit(Split::Test, None), fit(Split::Validation, None));
        let folds: Vec<MatchModel> = (0..MATCH_FOLDS)
            .map(|k| fit(Split::Validation, Some(k)))
            .collect();
        for u in 0..p.users() {
            let fold = p.fit_data(Split::Validation, Some(u % MATCH_FOLDS));
            assert!(
                fold.user_items[u].is_empty(),
                "user {u} is in its own fold's fit"
            );
        }
        check_added_note_part(&ds, &p, &plain, |u, split, hist, item| {
            let model = match split {
                Split::Test => &test,
                Split::Validation => &validation,
                Split::Train => &folds[u % MATCH_FOLDS],
            };
            let tier = model.tier(item, hist);
            (format!("match {tier}/6"), tier)
        });
        let refused = ProtocolConfig {
            match_tiers: MAX_MATCH_TIERS + 1,
            ..Default::default()
        };
        assert!(refused
            .validate()
            .unwrap_err()
            .to_string()
            .contains("match_tiers"));
    }

    fn counts_one_to_n(n: usize) -> Dataset {
        let items: Vec<Item> = (0..n)
            .map(|i| Item {
                id: i.to_string(),
                title: format!("Film {i}"),
            })
            .collect();
        let raw = (0..n)
            .flat_map(|j| {
                (j..n).map(move |i| RawRating {
                    user: format!("r{j}"),
                    item: i.to_string(),
                    rating: 3.0,
                    timestamp: i as i64,
                })
            })
            .collect();
        Dataset::from_raw(
            "counts",
            items,
            raw,
            &LoadOptions::default(),
            LoadReport::default(),
        )
        .unwrap()
    }

    #[test]
    fn popular_draws_are_proportional_to_rating_counts_with_both_methods() {
        let ds = counts_one_to_n(30); // counts 1..=30, total 465
        let cfg = ProtocolConfig {
            negatives: NegativeSampling::Popular,
            ..Default::default()
        };
        let p = Protocol::new(&ds, cfg).unwrap();
        let idx = |i: usize| ds.item_index(&i.to_string()).unwrap();
        let count = |i: usize| (i + 1) as f64;
        // Item 0 excluded: allowed count A = 464; for k ≤ 3 draws, (A − k·30)·2 ≥ 465, so
        // rejection sampling runs. Items 20..30 excluded: A = 210, (210 − 30)·2 < 465, so the
        // explicit draw runs.
        for excluded_items in [vec![0], (20..30).collect::<Vec<_>>()] {
            let mut excluded = vec![false; ds.items.len()];
            excluded_items.iter().for_each(|&i| excluded[idx(i)] = true);
            let allowed: Vec<usize> = (0..30).filter(|i| !excluded_items.contains(i)).collect();
            let allowed_count: f64 = allowed.iter().map(|&i| count(i)).sum();
            // First draw: exactly proportional to the count among the allowed items.
            let n = 20_000;
            let mut hits = vec![0usize; ds.items.len()];
            for t in 0..n {
                let mut rng = ExampleRng::new(7, "s", "test", t);
                let got = p.sample_negatives(&mut rng, &excluded, 1).unwrap();
                hits[got[0] as usize] += 1;
            }
            for i in 0..30 {
                let freq = hits[idx(i)] as f64 / n as f64;
                let want = if allowed.contains(&i) {
                    count(i) / allowed_count
                } else {
                    0.0
                };
                assert!(
                    (freq - want).abs() < 0.01,
                    "excluded {excluded_items:?}: item {i} drawn first {freq:.4}, want {want:.4}"
                );
            }
            // Several draws: distinct, allowed, and as many as asked (all allowed ones at most).
            for k in [1, 3, allowed.len()] {
                for t in 0..200 {
                    let mut rng = ExampleRng::new(7, "s", "validation", t);
                    let got = p.sample_negatives(&mut rng, &excluded, k).unwrap();
                    let set: HashSet<u32> = got.iter().copied().collect();
                    assert_eq!((got.len(), set.len()), (k, k));
                    assert!(got.iter().all(|&i| !excluded[i as usize]));
                }
            }
            let mut rng = ExampleRng::new(7, "s", "train", 0);
            assert_eq!(
                p.sample_negatives(&mut rng, &excluded, allowed.len() + 1),
                None
            );
        }
    }

    #[test]
    fn popular_negatives_follow_the_rating_count() {
        // 100 items. Item "0" has 100 fans and item "1" 10 (one rating each: no lists of their
        // own); a background user rates every item; 200 users rate 20 items of 10..100 each
        // (never "0" or "1", so both are allowed in every list). Counts: 101 vs 11.
        let items: Vec<Item> = (0..100)
            .map(|i| Item {
                id: i.to_string(),
                title: format!("Film {i}"),
            })
            .collect();
        let one = |user: String, item: usize, timestamp: i64| RawRating {
            user,
            item: item.to_string(),
            rating: 4.0,
            timestamp,
        };
        let mut raw: Vec<RawRating> = (0..100).map(|i| one("bg".into(), i, 0)).collect();
        raw.extend((0..100).map(|f| one(format!("hot{f}"), 0, 0)));
        raw.extend((0..10).map(|f| one(format!("cold{f}"), 1, 0)));
        for u in 0..200 {
            raw.extend((0..20).map(|k| one(format!("u{u}"), 10 + (u * 7 + k) % 90, k as i64)));
        }
        let ds = Dataset::from_raw(
            "hot-cold",
            items,
            raw,
            &LoadOptions::default(),
            LoadReport::default(),
        )
        .unwrap();
        let times_negative = |negatives| {
            let cfg = ProtocolConfig {
                negatives,
                ..Default::default()
            };
            let (examples, counts) = build_all(&ds, &cfg, Splits::ALL).unwrap();
            assert_eq!((counts.test, counts.validation), (200, 200));
            let n = |id: &str| {
                examples
                    .iter()
                    .filter(|e| e.candidates.iter().any(|c| c.id == id))
                    .count()
            };
            (n("0"), n("1"))
        };
        // Seed 2024: "0" is in 147 of the 400 lists and "1" in 25 (69 and 88 under `uniform`,
        // where each is expected in 15/80 of them).
        let (hot, cold) = times_negative(NegativeSampling::Popular);
        assert!(
            hot > 3 * cold && cold > 0,
            "popular: hot {hot}, cold {cold}"
        );
        let (hot_u, cold_u) = times_negative(NegativeSampling::Uniform);
        assert!(
            hot_u < 2 * cold_u && cold_u < 2 * hot_u,
            "uniform: hot {hot_u}, cold {cold_u}"
        );
        assert!(hot > hot_u && cold < cold_u);
    }

    #[test]
    fn uniform_is_the_default_and_popular_changes_only_the_negatives() {
        // The default lists themselves are pinned on ML-100K by `tests/data_protocol.rs` (and
        // byte for byte through the CLI by `trainer/tests/cli_data.rs`).
        let ds = synthetic(&[40, 52, 25, 31]);
        let default = build_all(&ds, &ProtocolConfig::default(), Splits::ALL)
            .unwrap()
            .0;
        let with = |negatives| ProtocolConfig {
            negatives,
            ..Default::default()
        };
        let uniform = build_all(&ds, &with(NegativeSampling::Uniform), Splits::ALL)
            .unwrap()
            .0;
        assert_eq!(
            serde_json::to_string(&default).unwrap(),
            serde_json::to_string(&uniform).unwrap()
        );
        let popular = build_all(&ds, &with(NegativeSampling::Popular), Splits::ALL);
        let popular = popular.unwrap().0;
        assert_eq!(
            popular,
            build_all(&ds, &with(NegativeSampling::Popular), Splits::ALL)
                .unwrap()
                .0,
            "deterministic"
        );
        assert_eq!(popular.len(), uniform.len());
        let positives = |e: &RankingExample| -> Vec<String> {
            let mut p: Vec<String> = e
                .candidates
                .iter()
                .zip(&e.relevance)
                .filter(|(_, &r)| r > 0.0)
                .map(|(c, _)| c.id.clone())
                .collect();
            p.sort();
            p
        };
        for (a, b) in popular.iter().zip(&uniform) {
            assert_eq!(
                (&a.user, a.split, a.window_start, &a.history_items),
                (&b.user, b.split, b.window_start, &b.history_items)
            );
            assert_eq!(positives(a), positives(b));
        }
        assert_ne!(popular, uniform);

        // Old configs (no field) read as uniform; the field is written in lower case.
        let old: ProtocolConfig = serde_json::from_str(r#"{"seed": 7}"#).unwrap();
        assert_eq!(old.negatives, NegativeSampling::Uniform);
        let cfg: ProtocolConfig = serde_json::from_str(r#"{"negatives": "popular"}"#).unwrap();
        assert_eq!(cfg, with(NegativeSampling::Popular));
        assert!(serde_json::to_string(&cfg)
            .unwrap()
            .contains(r#""negatives":"popular""#));
        assert!(serde_json::from_str::<ProtocolConfig>(r#"{"negatives": "zipf"}"#).is_err());
    }
}
