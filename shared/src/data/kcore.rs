//! k-core filtering: keep the largest sub-dataset in which every user and every item has at
//! least `k` ratings. Dropping a user lowers item counts and vice versa, so it repeats until
//! nothing changes. Amazon review dumps are usually used as 5-cores; MovieLens already
//! guarantees 20 ratings per user, so it is off by default.

use super::dataset::Dataset;

/// Apply the k-core filter. Catalog items stay listed (they simply have no ratings).
pub fn filter(ds: Dataset, k: usize) -> Dataset {
    let Dataset {
        name,
        users,
        items,
        ratings,
        mut report,
        ..
    } = ds;
    let mut keep = vec![true; ratings.len()];
    loop {
        let mut per_user = vec![0usize; users.len()];
        let mut per_item = vec![0usize; items.len()];
        for (r, _) in ratings.iter().zip(&keep).filter(|(_, &k)| k) {
            per_user[r.user as usize] += 1;
            per_item[r.item as usize] += 1;
        }
        let mut changed = false;
        for (r, kept) in ratings.iter().zip(keep.iter_mut()) {
            if *kept && (per_user[r.user as usize] < k || per_item[r.item as usize] < k) {
                *kept = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let before = ratings.len();
    let ratings: Vec<_> = ratings
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(r, _)| r)
        .collect();
    report.kcore_removed += before - ratings.len();
    Dataset::assemble(&name, users, items, ratings, report)
}

#[cfg(test)]
mod tests {
    use crate::data::dataset::{Dataset, Item, LoadOptions, LoadReport, RawRating};

    #[test]
    fn kcore_repeats_until_stable() {
        // Users u1,u2 rate a,b; u3 rates a and c. With k=2: c has 1 rating -> dropped, then u3
        // has 1 rating -> dropped; a and b keep 2 each.
        let r = |u: &str, i: &str| RawRating {
            user: u.into(),
            item: i.into(),
            rating: 3.0,
            timestamp: 0,
        };
        let raw = vec![
            r("u1", "a"),
            r("u1", "b"),
            r("u2", "a"),
            r("u2", "b"),
            r("u3", "a"),
            r("u3", "c"),
        ];
        let items = ["a", "b", "c"]
            .iter()
            .map(|i| Item {
                id: i.to_string(),
                title: i.to_string(),
            })
            .collect();
        let opts = LoadOptions {
            kcore: Some(2),
            ..Default::default()
        };
        let ds = Dataset::from_raw("t", items, raw, &opts, LoadReport::default()).unwrap();
        assert_eq!(ds.users, vec!["u1", "u2"]);
        assert_eq!(ds.ratings.len(), 4);
        assert_eq!(ds.report.kcore_removed, 2);
        assert_eq!(ds.rated_items(), 2);
    }
}
