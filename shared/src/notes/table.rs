//! [`ItemTable`]: per item its title, year and raters, read from and written to a compact JSON
//! file (`alro items build`; format below), and the title lookup of [`super::titles`].
//!
//! ## File format (`"format": "alro-items"`, `"version": 2`)
//! ```text
//! {"format":"alro-items","version":2,"source":"ml-latest-small: ...","users":610,
//! "match":{"tiers":20,"dim":64,"scale":0.0042,"bias_scale":0.021,"boundaries":[...],"factors":"...","bias":"..."},
//! "items":[
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
//!
//! `match` (optional; version 1 files have none) holds what match notes need
//! ([`crate::data::match_note`]): the item factors of a BPR fit on every rating, `dim` per item in
//! item order, and the item biases, each as signed bytes (base64) times `scale` / `bias_scale`;
//! the `tiers − 1` tier boundaries were set on those stored (rounded) values. An item without
//! raters was never fitted.

use super::titles::{item_keys, parse_query, split_year, KeyKind};
use crate::data::match_note::MatchModel;
use crate::data::protocol::MAX_MATCH_TIERS;
use crate::data::similarity::CoRatingIndex;
use crate::data::{Dataset, TrainData};
use crate::{Error, Result};
use base64::Engine;
use serde::Deserialize;
use std::collections::HashMap;

/// `"format"` of an item table file.
pub const FORMAT: &str = "alro-items";
/// The file version this build writes; it reads this one and version 1 (no match section).
pub const VERSION: u32 = 2;
/// Most factors per item a match section may hold.
pub const MAX_MATCH_DIM: usize = 1024;
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
    /// What match notes need, if the table was built with it.
    matching: Option<MatchModel>,
    /// The quantization steps of its factors and biases (written back to the file).
    match_scales: (f32, f32),
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
    #[serde(rename = "match", default)]
    matching: Option<RawMatch>,
    items: Vec<(String, Option<u16>, Vec<u32>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    tiers: usize,
    dim: usize,
    scale: f32,
    bias_scale: f32,
    boundaries: Vec<f32>,
    factors: String,
    bias: String,
}

/// Signed bytes `round(v / scale)` with `scale = max |v| / 127` (1 when every value is 0).
fn quantize(values: &[f32]) -> (Vec<u8>, f32) {
    let top = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let scale = if top > 0.0 { top / 127.0 } else { 1.0 };
    (quantize_with(values, scale), scale)
}

/// Signed bytes `round(v / scale)`, clamped to ±127, stored as `u8`.
fn quantize_with(values: &[f32], scale: f32) -> Vec<u8> {
    values
        .iter()
        .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8 as u8)
        .collect()
}

fn dequantize(bytes: &[u8], scale: f32) -> Vec<f32> {
    bytes.iter().map(|&b| b as i8 as f32 * scale).collect()
}

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn invalid(what: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("item table: {what}"))
}

impl ItemTable {
    /// Every item of `ds` (rated or not) with all its raters, and, when `match_tiers` is given as
    /// `(N, L)`, the match factors of a BPR fit on every rating with `N` tiers set on histories of
    /// `L`. `source` names the data (written to the file).
    pub fn from_dataset(
        ds: &Dataset,
        source: &str,
        match_tiers: Option<(usize, usize)>,
    ) -> Result<ItemTable> {
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
        let mut table = Self::assemble(
            source.to_string(),
            ds.users.len() as u64,
            titles,
            years,
            raters,
        )?;
        if let Some((tiers, history_len)) = match_tiers {
            let data = all_ratings(ds);
            let fitted = MatchModel::fit(&data, history_len, tiers)?;
            // Stored as signed bytes: the boundaries are set on the values a reader will have.
            let (q, scale) = quantize(fitted.factors());
            let (b, bias_scale) = quantize(fitted.bias());
            let stored = MatchModel::from_parts(
                fitted.dim(),
                dequantize(&q, scale),
                dequantize(&b, bias_scale),
                fitted.seen().to_vec(),
                Vec::new(),
            )?
            .with_tiers(&data, history_len, tiers)?;
            table.matching = Some(stored);
            table.match_scales = (scale, bias_scale);
        }
        Ok(table)
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
            matching: None,
            match_scales: (1.0, 1.0),
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
        if raw.version != VERSION && raw.version != 1 {
            return Err(invalid(format!(
                "version {} is not supported (this build reads versions 1 and {VERSION}); rebuild it with `alro items build`",
                raw.version
            )));
        }
        if raw.version == 1 && raw.matching.is_some() {
            return Err(invalid("a version 1 table has no match section"));
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
        let seen: Vec<bool> = raters.iter().map(|r: &Vec<u32>| !r.is_empty()).collect();
        let mut table = Self::assemble(raw.source, raw.users, titles, years, raters)?;
        if let Some(m) = raw.matching {
            table.match_scales = (m.scale, m.bias_scale);
            table.matching = Some(read_match(m, seen)?);
        }
        Ok(table)
    }

    /// The file's text (module docs): one item per line.
    pub fn to_json(&self) -> String {
        let s = |v: &str| serde_json::Value::from(v).to_string();
        let mut out = format!(
            "{{\"format\":{},\"version\":{VERSION},\"source\":{},\"users\":{},\n",
            s(FORMAT),
            s(&self.source),
            self.users
        );
        if let Some(m) = &self.matching {
            let (scale, bias_scale) = self.match_scales;
            let section = serde_json::json!({
                "tiers": m.tiers(),
                "dim": m.dim(),
                "scale": scale,
                "bias_scale": bias_scale,
                "boundaries": m.boundaries(),
                "factors": encode(&quantize_with(m.factors(), scale)),
                "bias": encode(&quantize_with(m.bias(), bias_scale)),
            });
            out.push_str(&format!("\"match\":{section},\n"));
        }
        out.push_str("\"items\":[\n");
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

    /// The match model, if the table was built with one (`alro items build --match-tiers N`).
    pub fn match_model(&self) -> Option<&MatchModel> {
        self.matching.as_ref()
    }
}

/// Every rating of `ds` as training data, each user's in time order.
fn all_ratings(ds: &Dataset) -> TrainData {
    let mut interactions = Vec::with_capacity(ds.ratings.len());
    let mut user_items = vec![Vec::new(); ds.users.len()];
    for (u, items) in user_items.iter_mut().enumerate() {
        for r in ds.user_ratings(u) {
            interactions.push((r.user, r.item, r.rating));
            items.push(r.item);
        }
        items.sort_unstable();
    }
    TrainData::new(ds.users.len(), ds.items.len(), interactions, user_items)
}

/// The match section of a file, checked (sizes against the items, finite steps).
fn read_match(m: RawMatch, seen: Vec<bool>) -> Result<MatchModel> {
    let n = seen.len();
    if m.dim == 0 || m.dim > MAX_MATCH_DIM {
        return Err(invalid(format!(
            "match.dim {} (1 to {MAX_MATCH_DIM})",
            m.dim
        )));
    }
    if m.tiers == 0 || m.tiers > MAX_MATCH_TIERS || m.boundaries.len() + 1 != m.tiers {
        return Err(invalid(format!(
            "match: {} tiers with {} boundaries (1 to {MAX_MATCH_TIERS} tiers, one boundary fewer)",
            m.tiers,
            m.boundaries.len()
        )));
    }
    for (name, step) in [("scale", m.scale), ("bias_scale", m.bias_scale)] {
        if !(step.is_finite() && step > 0.0) {
            return Err(invalid(format!(
                "match.{name} {step} is not a positive number"
            )));
        }
    }
    let decode = |name: &str, text: &str, want: usize| -> Result<Vec<u8>> {
        // Base64 is 4 characters per 3 bytes: refuse a text too long before decoding it.
        if text.len() > (want / 3 + 2) * 4 {
            return Err(invalid(format!("match.{name} is longer than {want} bytes")));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| invalid(format!("match.{name}: {e}")))?;
        if bytes.len() != want {
            return Err(invalid(format!(
                "match.{name} holds {} bytes, expected {want} ({n} items{})",
                bytes.len(),
                if name == "factors" {
                    format!(" × {}", m.dim)
                } else {
                    String::new()
                }
            )));
        }
        Ok(bytes)
    };
    let factors = decode("factors", &m.factors, n * m.dim)?;
    let bias = decode("bias", &m.bias, n)?;
    MatchModel::from_parts(
        m.dim,
        dequantize(&factors, m.scale),
        dequantize(&bias, m.bias_scale),
        seen,
        m.boundaries,
    )
    .map_err(|e| invalid(e))
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
                ok(r#"["A",null,[0]]"#).replace("\"version\":1", "\"version\":3"),
                "version 3 is not supported",
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
        // The match section: two items, two factors each (base64 of 4 and 2 signed bytes).
        let with_match = |section: &str| {
            format!(
                r#"{{"format":"alro-items","version":2,"source":"s","users":3,"match":{section},"items":[["A",null,[0,2]],["B",null,[1]]]}}"#
            )
        };
        let good = r#"{"tiers":3,"dim":2,"scale":0.1,"bias_scale":0.1,"boundaries":[-1.0,1.0],"factors":"AQL//w==","bias":"AQI="}"#;
        let table = ItemTable::from_json(with_match(good).as_bytes()).unwrap();
        let m = table.match_model().unwrap();
        assert_eq!((m.tiers(), m.dim()), (3, 2));
        assert_eq!(m.factors(), &[0.1, 0.2, -0.1, -0.1]);
        let match_cases = [
            (good.replace("\"dim\":2", "\"dim\":0"), "match.dim 0"),
            (good.replace("\"dim\":2", "\"dim\":3"), "expected 6"),
            (good.replace("AQL//w==", "AQL/"), "expected 4"),
            (good.replace("AQL//w==", "!!!!"), "match.factors"),
            (good.replace("AQI=", "AQID"), "match.bias holds 3 bytes"),
            (
                good.replace("\"tiers\":3", "\"tiers\":4"),
                "one boundary fewer",
            ),
            (
                good.replace("\"scale\":0.1", "\"scale\":-0.1"),
                "match.scale",
            ),
            (good.replace("[-1.0,1.0]", "[1.0,-1.0]"), "ascend"),
            (
                good.replace("AQL//w==", &"A".repeat(1000)),
                "longer than 4 bytes",
            ),
            (
                good.replace(",\"bias\":\"AQI=\"", ""),
                "missing field `bias`",
            ),
        ];
        for (section, says) in match_cases {
            let e = ItemTable::from_json(with_match(&section).as_bytes())
                .err()
                .unwrap_or_else(|| panic!("accepted {section}"))
                .to_string();
            assert!(
                e.contains(says) && e.starts_with("item table"),
                "{section}: {e}"
            );
        }
        let v1 = with_match(good).replace("\"version\":2", "\"version\":1");
        let e = ItemTable::from_json(v1.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("version 1 table has no match section"), "{e}");

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
