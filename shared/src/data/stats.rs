//! Dataset statistics: what `alro data stats` prints and the manifest records.

use super::dataset::Dataset;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetStats {
    pub dataset: String,
    pub users: usize,
    /// Distinct items with at least one rating.
    pub items: usize,
    /// Items listed in the catalog (item file), rated or not.
    pub catalog_items: usize,
    pub ratings: usize,
    /// Rating value (as written, e.g. `"4"`, `"3.5"`) → count, ascending by value.
    pub histogram: Vec<(String, usize)>,
    pub min_ratings_per_user: usize,
    pub max_ratings_per_user: usize,
    /// Earliest and latest timestamp (Unix seconds).
    pub first_timestamp: Option<i64>,
    pub last_timestamp: Option<i64>,
}

impl DatasetStats {
    pub fn of(ds: &Dataset) -> Self {
        let per_user: Vec<usize> = (0..ds.users.len())
            .map(|u| ds.user_ratings(u).len())
            .collect();
        let histogram: BTreeMap<_, _> = ds.histogram();
        DatasetStats {
            dataset: ds.name.clone(),
            users: ds.users.len(),
            items: ds.rated_items(),
            catalog_items: ds.items.len(),
            ratings: ds.ratings.len(),
            histogram: histogram
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            min_ratings_per_user: per_user.iter().copied().min().unwrap_or(0),
            max_ratings_per_user: per_user.iter().copied().max().unwrap_or(0),
            first_timestamp: ds.ratings.iter().map(|r| r.timestamp).min(),
            last_timestamp: ds.ratings.iter().map(|r| r.timestamp).max(),
        }
    }
}
