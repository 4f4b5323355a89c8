//! [`ItemTable`]: per item its title, year and raters, read from and written to a compact JSON
//! file (`alro items build`; format below), and the title lookup of [`super::titles`].
//!
//! ## File format (`"format": "alro-items"`, `"version": 1`)
//! ```text
//! {"format":"alro-items","version":1,"source":"ml-latest-small: ...","users":610,"items":[
//! ["Toy Story",1995,[0,3,1,...]],
//! ["Matrix, The",1999,[...]],
//! ...
//! ]}
//! ```
//! `users` is the number of raters `U`; each item is `[title, year or null, raters]` with the title
//! as the dataset writes it less its trailing year, and the sorted rater indices (`0..U`)
//! delta-encoded: the first index itself, then each index minus the one before (so every later
//! number is at least 1). Reading checks every number, the limits below and the totals before
//! use: a hostile or truncated file is an error naming the problem, never a panic.

use super::titles::{item_keys, parse_query, split_year, KeyKind};
use crate::data::similarity::CoRatingIndex;
use crate::data::Dataset;
use crate::{Error, Result};
use serde::Deserialize;
use std::collections::HashMap;

/// `"format"` of an item table file.
pub const FORMAT: &str = "alro-items";
/// The file version this build writes and reads.
pub const VERSION: u32 = 1;
/// Largest file read (bytes): serde's allocations are bounded by the input, and this bounds it.
pub const MAX_FILE_BYTES: usize = 512 << 20;
pub const MAX_ITEMS: usize = 1_000_000;
/// Fewer than `u32::MAX`, so [`NO_USER`] is never a rater.
pub const MAX_USERS: u64 = 100_000_000;
/// Total (item, rater) pairs.
pub const MAX_RATINGS: usize = 200_000_000;
pub const MAX_TITLE_BYTES: usize = 1024;
pub const MAX_SOURCE_BYTES: usize = 4096;
/// The user a request comes from: in no rater set, so no cosine leaves anyone out.
pub const NO_USER: u32 = u32::MAX;

/// Items with the users who rated them (ratings values are not needed), and a title index.
pub struct ItemTable {
    source: String,
    users: u32,
    titles: Vec<String>,
    years: Vec<Option<u16>>,
    index: CoRatingIndex,
    /// Normalised title key → (item, how the key was made).
    keys: HashMap<String, Vec<(u32, KeyKind)>>,
    /// The largest rater count (popularity tiers are relative to it).
    max_count: u32,
}

impl std::fmt::Debug for ItemTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemTable")
            .field("source", &self.source)
            .field("users", &self.users)
            .field("items", &self.titles.len())
            .finish_non_exhaustive()
    }
}

/// One item of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemRef<'a> {
    /// The dataset's title without its trailing year.
    pub title: &'a str,
    pub year: Option<u16>,
    /// Sorted rater indices.
    pub raters: &'a [u32],
}

impl ItemRef<'_> {
    /// The title with its year, as the dataset shows it: `Matrix, The (1999)`.
    pub fn display_title(&self) -> String {
        match self.year {
            Some(y) => format!("{} ({y})", self.title),
            None => self.title.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    format: String,
    version: u32,
    source: String,
    users: u64,
    items: Vec<(String, Option<u16>, Vec<u32>)>,
}

fn invalid(what: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("item table: {what}"))
}

impl ItemTable {
    /// Every item of `ds` (rated or not) with all its raters. `source` names the data (written to
    /// the file).
    pub fn from_dataset(ds: &Dataset, source: &str) -> Result<ItemTable> {
        let index = CoRatingIndex::new(ds.items.len(), ds.ratings.iter().map(|r| (r.user, r.item)));
        let raters = (0..ds.items.len() as u32)
            .map(|i| index.raters(i).to_vec())
            .collect();
        let (titles, years) = ds
            .items
            .iter()
            .map(|it| {
                let (t, y) = split_year(&it.title);
                (t.to_string(), y)
            })
            .unzip();
        Self::assemble(
            source.to_string(),
            ds.users.len() as u64,
            titles,
            years,
            raters,
        )
    }

    /// Checks the limits and builds the title index (raters must be sorted, without repeats,
    /// below `users`).
    fn assemble(
        source: String,
        users: u64,
        titles: Vec<String>,
        years: Vec<Option<u16>>,
        raters: Vec<Vec<u32>>,
    ) -> Result<ItemTable> {
        if users > MAX_USERS {
            return Err(invalid(format!("{users} users (at most {MAX_USERS})")));
        }
        if titles.len() > MAX_ITEMS {
            return Err(invalid(format!(
                "{} items (at most {MAX_ITEMS})",
                titles.len()
            )));
        }
        if source.len() > MAX_SOURCE_BYTES {
            return Err(invalid(format!(
                "source is {} bytes (at most {MAX_SOURCE_BYTES})",
                source.len()
            )));
        }
        let mut keys: HashMap<String, Vec<(u32, KeyKind)>> = HashMap::new();
        for (i, (title, year)) in titles.iter().zip(&years).enumerate() {
            if title.trim().is_empty() || title.len() > MAX_TITLE_BYTES {
                return Err(invalid(format!(
                    "items[{i}]: title is empty or longer than {MAX_TITLE_BYTES} bytes"
                )));
            }
            if let Some(y) = year.filter(|y| !(1000..=9999).contains(y)) {
                return Err(invalid(format!(
                    "items[{i}] ({title:?}): year {y} is not a 4-digit year"
                )));
            }
            for (key, kind) in item_keys(title) {
                keys.entry(key).or_default().push((i as u32, kind));
            }
        }
        let max_count = raters.iter().map(|r| r.len() as u32).max().unwrap_or(0);
        Ok(ItemTable {
            source,
            users: users as u32,
            titles,
            years,
            index: CoRatingIndex::from_sorted_raters(raters),
            keys,
            max_count,
        })
    }

    /// Reads a table file (module docs), checking everything.
    pub fn from_json(bytes: &[u8]) -> Result<ItemTable> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(invalid(format!(
                "{} bytes, at most {MAX_FILE_BYTES} are read",
                bytes.len()
            )));
        }
        let raw: RawTable = serde_json::from_slice(bytes).map_err(|e| {
            invalid(format!(
                "{e} (expected {{\"format\": \"{FORMAT}\", \"version\": {VERSION}, \"source\", \"users\", \"items\": [[title, year, raters], ...]}}, as `alro items build` writes)"
            ))
        })?;
        if raw.format != FORMAT {
            return Err(invalid(format!(
                "format {:?}, expected {FORMAT:?}",
                raw.format
            )));
        }
        if raw.version != VERSION {
            return Err(invalid(format!(
                "version {} is not supported (this build reads version {VERSION}); rebuild it with `alro items build`",
                raw.version
            )));
        }
        if raw.users > MAX_USERS {
            return Err(invalid(format!(
                "{} users (at most {MAX_USERS})",
                raw.users
            )));
        }
        if raw.items.len() > MAX_ITEMS {
            return Err(invalid(format!(
                "{} items (at most {MAX_ITEMS})",
                raw.items.len()
            )));
        }
        let total: usize = raw.items.iter().map(|it| it.2.len()).sum();
        if total > MAX_RATINGS {
            return Err(invalid(format!("{total} ratings (at most {MAX_RATINGS})")));
        }
        let n = raw.items.len();
        let (mut titles, mut years, mut raters) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for (i, (title, year, deltas)) in raw.items.into_iter().enumerate() {
            if deltas.len() as u64 > raw.users {
                return Err(invalid(format!(
                    "items[{i}] ({title:?}): {} raters but only {} users",
                    deltas.len(),
                    raw.users
                )));
            }
            let mut list = Vec::with_capacity(deltas.len());
            let mut at: u64 = 0;
            for (j, &d) in deltas.iter().enumerate() {
                if j > 0 && d == 0 {
                    return Err(invalid(format!(
                        "items[{i}] ({title:?}): rater delta {j} is 0 (indices must be strictly increasing)"
                    )));
                }
                at += d as u64;
                if at >= raw.users {
                    return Err(invalid(format!(
                        "items[{i}] ({title:?}): rater delta {j} makes index {at}, out of range for {} users",
                        raw.users
                    )));
                }
                list.push(at as u32);
            }
            titles.push(title);
            years.push(year);
            raters.push(list);
        }
        Self::assemble(raw.source, raw.users, titles, years, raters)
    }

    /// The file's text (module docs): one item per line.
    pub fn to_json(&self) -> String {
        let s = |v: &str| serde_json::Value::from(v).to_string();
        let mut out = format!(
            "{{\"format\":{},\"version\":{VERSION},\"source\":{},\"users\":{},\"items\":[\n",
            s(FORMAT),
            s(&self.source),
            self.users
        );
        for i in 0..self.len() {
            let item = self.item(i);
            let mut prev = None;
            let deltas: Vec<String> = item
                .raters
                .iter()
                .map(|&r| {
                    let d = r - prev.unwrap_or(0);
                    prev = Some(r);
                    d.to_string()
                })
                .collect();
            let year = item.year.map_or("null".to_string(), |y| y.to_string());
            let sep = if i + 1 < self.len() { "," } else { "" };
            out.push_str(&format!(
                "[{},{year},[{}]]{sep}\n",
                s(item.title),
                deltas.join(",")
            ));
        }
        out.push_str("]}\n");
        out
    }

    pub fn source(&self) -> &str {
        &self.source
    }
    /// Number of raters the indices run over.
    pub fn users(&self) -> usize {
        self.users as usize
    }
    pub fn len(&self) -> usize {
        self.titles.len()
    }
    pub fn is_empty(&self) -> bool {
        self.titles.is_empty()
    }

    /// Item `i` (`i < len()`).
    pub fn item(&self, i: usize) -> ItemRef<'_> {
        ItemRef {
            title: &self.titles[i],
            year: self.years[i],
            raters: self.index.raters(i as u32),
        }
    }

    /// The item a title as a user types it names, if any (rules in [`super::titles`]).
    pub fn find(&self, title: &str) -> Option<usize> {
        let query = parse_query(title);
        query.keys.iter().find_map(|key| {
            let hits = self.keys.get(key)?;
            let year_rank = |i: u32| match (query.year, self.years[i as usize]) {
                (None, _) => 0,
                (Some(q), Some(y)) if q == y => 0,
                (Some(q), Some(y)) if q.abs_diff(y) == 1 => 1,
                _ => 2,
            };
            hits.iter()
                .min_by_key(|&&(i, kind)| {
                    let count = self.index.raters(i).len();
                    (year_rank(i), kind, std::cmp::Reverse(count), i)
                })
                .map(|&(i, _)| i as usize)
        })
    }

    /// Mean co-rating cosine of `item` with `history` for a user who is not in the table, the
    /// measure of [`CoRatingIndex::mean_cosine`].
    pub fn mean_cosine(&self, item: usize, history: &[usize]) -> f64 {
        let history: Vec<u32> = history.iter().map(|&h| h as u32).collect();
        self.index.mean_cosine(item as u32, &history, NO_USER)
    }

    /// How many users rated `item`.
    pub fn rating_count(&self, item: usize) -> u32 {
        self.index.raters(item as u32).len() as u32
    }

    /// The most ratings of any item.
    pub fn max_rating_count(&self) -> u32 {
        self.max_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> ItemTable {
        ItemTable::assemble(
            "toy".into(),
            5,
            vec![
                "Matrix, The".into(),
                "Heat".into(),
                "Heat".into(),
                "Alone".into(),
            ],
            vec![Some(1999), Some(1995), Some(1986), None],
            vec![vec![0, 1, 2, 3], vec![2, 3, 4], vec![0], vec![]],
        )
        .unwrap()
    }

    #[test]
    fn json_round_trip_is_exact() {
        let t = toy();
        let text = t.to_json();
        assert!(text.contains("[\"Matrix, The\",1999,[0,1,1,1]]"), "{text}");
        assert!(text.contains("[\"Alone\",null,[]]"), "{text}");
        let back = ItemTable::from_json(text.as_bytes()).unwrap();
        assert_eq!(back.to_json(), text);
        assert_eq!(back.source(), "toy");
        assert_eq!(back.users(), 5);
        assert_eq!(back.len(), 4);
        for i in 0..4 {
            assert_eq!(back.item(i), t.item(i));
        }
        assert_eq!(back.item(0).display_title(), "Matrix, The (1999)");
        assert_eq!(back.max_rating_count(), 4);
    }

    #[test]
    fn titles_resolve_by_year_then_kind_then_ratings() {
        let t = toy();
        assert_eq!(t.find("The Matrix (1999)"), Some(0));
        assert_eq!(t.find("the matrix"), Some(0));
        assert_eq!(t.find("Matrix"), Some(0));
        // Without a year: the most rated "Heat"; with one, that year's (or one off).
        assert_eq!(t.find("Heat"), Some(1));
        assert_eq!(t.find("Heat (1986)"), Some(2));
        assert_eq!(t.find("Heat (1987)"), Some(2));
        assert_eq!(t.find("Heat (1995)"), Some(1));
        // A year no "Heat" has: still the most rated one.
        assert_eq!(t.find("Heat (2020)"), Some(1));
        assert_eq!(t.find("Alone (2001)"), Some(3));
        assert_eq!(t.find("Casino (1995)"), None);
        assert_eq!(t.find(""), None);
        assert_eq!(t.find("(1999)"), None);
    }

    #[test]
    fn hostile_files_are_refused_with_the_reason() {
        let ok = |items: &str| {
            format!(
                r#"{{"format":"alro-items","version":1,"source":"s","users":3,"items":[{items}]}}"#
            )
        };
        assert!(ItemTable::from_json(ok(r#"["A",null,[0,2]]"#).as_bytes()).is_ok());
        let cases = [
            (ok(r#"["A",null,[0,3]]"#), "out of range"),
            (ok(r#"["A",null,[3]]"#), "out of range"),
            (ok(r#"["A",null,[1,0]]"#), "strictly increasing"),
            (ok(r#"["A",null,[0,1,1,1]]"#), "only 3 users"),
            (ok(r#"["A",null,[4294967295,4294967295]]"#), "out of range"),
            (ok(r#"["A",null,[-1]]"#), "item table"),
            (ok(r#"["A",null,[99999999999]]"#), "item table"),
            (ok(r#"["A",99999,[]]"#), "item table"),
            (ok(r#"["A",12,[]]"#), "4-digit year"),
            (ok(r#"["",null,[]]"#), "title is empty"),
            (ok(r#"["A",null]"#), "item table"),
            (ok(r#"["A",null,[],7]"#), "item table"),
            (ok(r#"{"title":"A"}"#), "item table"),
            (
                ok(r#"["A",null,[0]]"#).replace("\"version\":1", "\"version\":2"),
                "version 2 is not supported",
            ),
            (ok("").replace("alro-items", "other"), "format \"other\""),
            (
                ok("").replace("\"users\":3", "\"users\":1e12"),
                "item table",
            ),
            (
                ok("").replace("\"users\":3", "\"users\":4294967295"),
                "users (at most",
            ),
            (
                ok("").replace("\"source\":\"s\",", ""),
                "missing field `source`",
            ),
            (
                ok("").replace("\"source\":\"s\"", "\"source\":\"s\",\"extra\":1"),
                "unknown field",
            ),
            (ok(r#"["A",null,[0,2]]"#)[..40].to_string(), "EOF"),
            (String::new(), "EOF"),
            ("[".repeat(100_000), "item table"),
        ];
        for (text, says) in cases {
            let e = ItemTable::from_json(text.as_bytes())
                .err()
                .unwrap_or_else(|| panic!("accepted {text:?}"));
            let e = e.to_string();
            assert!(
                e.contains(says) && e.starts_with("item table"),
                "{text:?}: {e}"
            );
        }
        let long = ok(&format!(
            r#"["{}",null,[]]"#,
            "x".repeat(MAX_TITLE_BYTES + 1)
        ));
        assert!(ItemTable::from_json(long.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("longer than"));
    }
}
