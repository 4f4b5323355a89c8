//! The in-memory rating dataset every loader produces and every later stage reads.
//!
//! Loaders only parse; the rules that must be the same for every format live here, once:
//! unknown items are errors, duplicate (user, item) pairs are resolved by one documented rule,
//! optional k-core filtering, and users/items are interned in [`natural_cmp`] order so that
//! every later iteration is deterministic.

use super::ids::natural_cmp;
use super::kcore;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// How to load a dataset. These are options of the loaders, not of the ALRO protocol.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadOptions {
    /// Skip malformed lines (and ratings of unknown items), counting them, instead of failing on
    /// the first one.
    pub skip_bad_lines: bool,
    /// Keep only the k-core: repeatedly drop users and items with fewer than `k` ratings until
    /// none is left. `None` (the default) keeps everything.
    pub kcore: Option<usize>,
}

/// One catalog item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The dataset's own id (`"1"` .. `"1682"` for ML-100K, an ASIN for Amazon).
    pub id: String,
    /// Human-readable title, as Unicode. Items without one (Amazon without metadata) use the id.
    pub title: String,
}

/// One rating, with users and items as indices into [`Dataset::users`] / [`Dataset::items`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    pub user: u32,
    pub item: u32,
    pub rating: f32,
    /// Unix seconds (UTC).
    pub timestamp: i64,
}

/// A rating as a loader reads it, before interning.
#[derive(Debug, Clone)]
pub struct RawRating {
    pub user: String,
    pub item: String,
    pub rating: f32,
    pub timestamp: i64,
}

/// What loading dropped or changed, so that `stats` and the manifest can say so.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Malformed lines skipped under `skip_bad_lines`.
    pub skipped_lines: usize,
    /// The first few skipped lines' messages (`file:line: why`).
    pub skipped_messages: Vec<String>,
    /// Ratings dropped by the duplicate rule (see [`Dataset::from_raw`]).
    pub duplicates_removed: usize,
    /// Ratings dropped by k-core filtering.
    pub kcore_removed: usize,
    /// Free-text notes a loader wants the user to see (e.g. which ML-1M file was used).
    pub notes: Vec<String>,
}

/// How many skipped-line messages are kept for display.
const MAX_SKIPPED_MESSAGES: usize = 10;

/// Collects malformed lines: fails on the first one, or counts and skips them.
#[derive(Debug, Default)]
pub struct BadLines {
    skip: bool,
    count: usize,
    messages: Vec<String>,
}

impl BadLines {
    pub fn new(skip: bool) -> Self {
        BadLines {
            skip,
            ..Default::default()
        }
    }

    /// Report one malformed line: `Err` unless skipping, in which case it is counted.
    pub fn report(&mut self, err: Error) -> Result<()> {
        if !self.skip {
            return Err(err);
        }
        self.count += 1;
        if self.messages.len() < MAX_SKIPPED_MESSAGES {
            self.messages.push(err.to_string());
        }
        Ok(())
    }

    pub fn into_report(self) -> LoadReport {
        LoadReport {
            skipped_lines: self.count,
            skipped_messages: self.messages,
            ..Default::default()
        }
    }
}

/// A loaded dataset. Invariants: `users` and `items` are sorted by [`natural_cmp`] of their ids;
/// `ratings` are sorted by (user, timestamp, item) and hold at most one rating per (user, item);
/// every user has at least one rating.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Short name (`ml-100k`, `amazon-2018`, ...).
    pub name: String,
    pub users: Vec<String>,
    /// The whole catalog, rated or not.
    pub items: Vec<Item>,
    pub ratings: Vec<Rating>,
    /// `user_offsets[u]..user_offsets[u + 1]` is user `u`'s slice of `ratings`.
    user_offsets: Vec<usize>,
    pub report: LoadReport,
}

impl Dataset {
    /// Build a dataset from a catalog and raw ratings (in file order; every rating's item must
    /// be in the catalog — loaders check that, with the line number, while parsing).
    ///
    /// Duplicate rule: when a user rated the same item more than once, the rating with the
    /// latest timestamp is kept; on equal timestamps, the one read last (later in the file).
    /// Then k-core filtering, if asked for.
    pub fn from_raw(
        name: &str,
        mut catalog: Vec<Item>,
        raw: Vec<RawRating>,
        options: &LoadOptions,
        mut report: LoadReport,
    ) -> Result<Dataset> {
        catalog.sort_by(|a, b| natural_cmp(&a.id, &b.id));
        if let Some(w) = catalog.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(Error::Invalid(format!(
                "{name}: item id {:?} is listed twice in the catalog",
                w[0].id
            )));
        }
        let item_index: HashMap<&str, u32> = catalog
            .iter()
            .enumerate()
            .map(|(i, it)| (it.id.as_str(), i as u32))
            .collect();

        let mut user_ids: Vec<&str> = raw.iter().map(|r| r.user.as_str()).collect();
        user_ids.sort_by(|a, b| natural_cmp(a, b));
        user_ids.dedup();
        let user_index: HashMap<&str, u32> = user_ids
            .iter()
            .enumerate()
            .map(|(i, u)| (*u, i as u32))
            .collect();

        // Duplicate rule: later timestamp wins, then later line. `raw` is in file order.
        let mut latest: HashMap<(u32, u32), usize> = HashMap::with_capacity(raw.len());
        let mut ratings: Vec<Rating> = Vec::with_capacity(raw.len());
        for r in &raw {
            let item = *item_index.get(r.item.as_str()).ok_or_else(|| {
                Error::Invalid(format!(
                    "{name}: rating of item {:?}, which is not in the catalog",
                    r.item
                ))
            })?;
            let rating = Rating {
                user: user_index[r.user.as_str()],
                item,
                rating: r.rating,
                timestamp: r.timestamp,
            };
            match latest.get(&(rating.user, item)) {
                Some(&at) => {
                    report.duplicates_removed += 1;
                    if rating.timestamp >= ratings[at].timestamp {
                        ratings[at] = rating;
                    }
                }
                None => {
                    latest.insert((rating.user, item), ratings.len());
                    ratings.push(rating);
                }
            }
        }
        let users: Vec<String> = user_ids.iter().map(|s| s.to_string()).collect();
        drop(latest);

        let mut ds = Dataset::assemble(name, users, catalog, ratings, report);
        if let Some(k) = options.kcore {
            ds = kcore::filter(ds, k);
        }
        Ok(ds)
    }

    /// Sort ratings, drop users without ratings and compute offsets.
    pub(crate) fn assemble(
        name: &str,
        users: Vec<String>,
        items: Vec<Item>,
        mut ratings: Vec<Rating>,
        report: LoadReport,
    ) -> Dataset {
        // Re-index users so that every listed user has a rating (k-core may have emptied some).
        let mut has = vec![false; users.len()];
        for r in &ratings {
            has[r.user as usize] = true;
        }
        let mut remap = vec![u32::MAX; users.len()];
        let mut kept = Vec::new();
        for (u, id) in users.into_iter().enumerate() {
            if has[u] {
                remap[u] = kept.len() as u32;
                kept.push(id);
            }
        }
        for r in &mut ratings {
            r.user = remap[r.user as usize];
        }
        ratings.sort_by_key(|r| (r.user, r.timestamp, r.item));
        let mut user_offsets = vec![0; kept.len() + 1];
        for r in &ratings {
            user_offsets[r.user as usize + 1] += 1;
        }
        for u in 0..kept.len() {
            user_offsets[u + 1] += user_offsets[u];
        }
        Dataset {
            name: name.to_string(),
            users: kept,
            items,
            ratings,
            user_offsets,
            report,
        }
    }

    /// User `u`'s ratings, oldest first (ties by item order).
    pub fn user_ratings(&self, u: usize) -> &[Rating] {
        &self.ratings[self.user_offsets[u]..self.user_offsets[u + 1]]
    }

    /// Index of an item by id (binary search in the sorted catalog).
    pub fn item_index(&self, id: &str) -> Option<usize> {
        self.items
            .binary_search_by(|it| natural_cmp(&it.id, id))
            .ok()
    }

    /// Index of a user by id.
    pub fn user_index(&self, id: &str) -> Option<usize> {
        self.users.binary_search_by(|u| natural_cmp(u, id)).ok()
    }

    /// Number of distinct items with at least one rating.
    pub fn rated_items(&self) -> usize {
        let mut seen = vec![false; self.items.len()];
        self.ratings
            .iter()
            .for_each(|r| seen[r.item as usize] = true);
        seen.iter().filter(|&&s| s).count()
    }

    /// Rating histogram: rating value → count, in ascending rating order.
    pub fn histogram(&self) -> BTreeMap<RatingKey, usize> {
        let mut h = BTreeMap::new();
        for r in &self.ratings {
            *h.entry(RatingKey::new(r.rating)).or_insert(0) += 1;
        }
        h
    }
}

/// A rating value usable as an ordered map key (ratings are finite, checked by the loaders).
#[derive(Debug, Clone, Copy)]
pub struct RatingKey(pub f32);

impl RatingKey {
    pub fn new(r: f32) -> Self {
        RatingKey(r)
    }
}
impl PartialEq for RatingKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for RatingKey {}
impl PartialOrd for RatingKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for RatingKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl std::fmt::Display for RatingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(user: &str, item: &str, rating: f32, timestamp: i64) -> RawRating {
        RawRating {
            user: user.into(),
            item: item.into(),
            rating,
            timestamp,
        }
    }
    fn catalog(ids: &[&str]) -> Vec<Item> {
        ids.iter()
            .map(|id| Item {
                id: id.to_string(),
                title: format!("T{id}"),
            })
            .collect()
    }

    #[test]
    fn duplicates_keep_the_latest_timestamp_then_the_later_line() {
        let ratings = vec![
            raw("1", "a", 2.0, 100),
            raw("1", "a", 5.0, 50), // older: dropped
            raw("1", "b", 1.0, 10),
            raw("1", "b", 4.0, 10), // same time, later line: kept
        ];
        let ds = Dataset::from_raw(
            "t",
            catalog(&["a", "b"]),
            ratings,
            &LoadOptions::default(),
            LoadReport::default(),
        )
        .unwrap();
        assert_eq!(ds.report.duplicates_removed, 2);
        let got: Vec<(u32, f32)> = ds.ratings.iter().map(|r| (r.item, r.rating)).collect();
        assert_eq!(got, vec![(1, 4.0), (0, 2.0)]); // sorted by time: b@10, a@100
    }

    #[test]
    fn users_and_items_are_in_natural_order_and_ratings_by_time() {
        let ratings = vec![
            raw("10", "2", 3.0, 5),
            raw("2", "10", 4.0, 9),
            raw("2", "2", 1.0, 9),
            raw("2", "1", 5.0, 1),
        ];
        let ds = Dataset::from_raw(
            "t",
            catalog(&["10", "2", "1"]),
            ratings,
            &LoadOptions::default(),
            LoadReport::default(),
        )
        .unwrap();
        assert_eq!(ds.users, vec!["2", "10"]);
        let ids: Vec<&str> = ds.items.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, vec!["1", "2", "10"]);
        let u2: Vec<&str> = ds
            .user_ratings(0)
            .iter()
            .map(|r| ds.items[r.item as usize].id.as_str())
            .collect();
        assert_eq!(u2, vec!["1", "2", "10"]); // time 1, then time 9 ordered by item
        assert_eq!(ds.item_index("10"), Some(2));
        assert_eq!(ds.user_index("10"), Some(1));
    }
}
