//! Amazon review dumps as JSON lines (McAuley et al.): the 2014 release
//! (`reviews_<Category>[_5].json`) and the 2018 release (`<Category>[_5].json`, metadata
//! `meta_<Category>.json`). Only the fields the protocol needs are read:
//! `reviewerID`, `asin`, `overall` (1–5) and `unixReviewTime` (Unix seconds; day precision, so
//! same-day ties are ordered by item id like everywhere else). Other fields are ignored.
//!
//! Titles come from an optional metadata file of JSON lines with `asin` and `title` (the 2018
//! format; the 2014 metadata is written as Python literals, not JSON, and must be converted to
//! JSON lines first). Without metadata, every reviewed item's title is its ASIN. With metadata,
//! a review of an ASIN that has no metadata line is an "unknown item" like in MovieLens: an
//! error, or skipped and counted under `skip_bad_lines`. A metadata line whose ASIN repeats an
//! earlier one is ignored (the 2018 dump has such repeats); an empty title falls back to the ASIN.

use super::dataset::{BadLines, Dataset, Item, LoadOptions, RawRating};
use super::encoding::{decode_utf8, lines};
use super::fields::RatingScale;
use super::Input;
use crate::{Error, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Deserialize)]
struct ReviewLine {
    #[serde(rename = "reviewerID")]
    reviewer_id: String,
    asin: String,
    overall: serde_json::Value,
    #[serde(rename = "unixReviewTime")]
    unix_review_time: i64,
}

#[derive(Deserialize)]
struct MetaLine {
    asin: String,
    #[serde(default)]
    title: Option<String>,
}

/// Load Amazon reviews (and optional metadata). `name` is the dataset label
/// (`amazon-2014`, `amazon-2018`); both releases share the review fields.
pub fn load_amazon(
    name: &str,
    reviews: Input,
    meta: Option<Input>,
    options: &LoadOptions,
) -> Result<Dataset> {
    let mut bad = BadLines::new(options.skip_bad_lines);
    let mut notes = Vec::new();

    let titles: Option<HashMap<String, String>> = match meta {
        None => None,
        Some(meta) => {
            let text = decode_utf8(meta.name, meta.bytes)?;
            let mut titles = HashMap::new();
            let mut repeats = 0usize;
            for (n, line) in lines(text) {
                match serde_json::from_str::<MetaLine>(line) {
                    Ok(m) if m.asin.trim().is_empty() => {
                        bad.report(Error::data(meta.name, n, "empty \"asin\""))?
                    }
                    Ok(m) => {
                        let asin = m.asin.trim().to_string();
                        let title = m
                            .title
                            .map(|t| unescape_html(t.trim()))
                            .filter(|t| !t.is_empty())
                            .unwrap_or_else(|| asin.clone());
                        match titles.entry(asin) {
                            std::collections::hash_map::Entry::Occupied(_) => repeats += 1,
                            std::collections::hash_map::Entry::Vacant(v) => {
                                v.insert(title);
                            }
                        }
                    }
                    Err(e) => bad.report(Error::data(
                        meta.name,
                        n,
                        format!("not a metadata JSON object with \"asin\": {e}"),
                    ))?,
                }
            }
            if repeats > 0 {
                notes.push(format!(
                    "{}: {repeats} repeated ASINs ignored (first line kept)",
                    meta.name
                ));
            }
            Some(titles)
        }
    };

    let text = decode_utf8(reviews.name, reviews.bytes)?;
    let mut raw = Vec::new();
    for (n, line) in lines(text) {
        let parsed = serde_json::from_str::<ReviewLine>(line)
            .map_err(|e| {
                format!(
                    "not a review JSON object with reviewerID, asin, overall, unixReviewTime: {e}"
                )
            })
            .and_then(|r| {
                let rating = match &r.overall {
                    serde_json::Value::Number(x) => RatingScale::OneToFive.parse(&x.to_string())?,
                    other => return Err(format!("\"overall\" {other} is not a number")),
                };
                let (user, item) = (r.reviewer_id.trim().to_string(), r.asin.trim().to_string());
                if user.is_empty() || item.is_empty() {
                    return Err("empty reviewerID or asin".into());
                }
                if let Some(t) = &titles {
                    if !t.contains_key(&item) {
                        return Err(format!("item {item:?} is not in the metadata file"));
                    }
                }
                Ok(RawRating {
                    user,
                    item,
                    rating,
                    timestamp: r.unix_review_time,
                })
            });
        match parsed {
            Ok(r) => raw.push(r),
            Err(msg) => bad.report(Error::data(reviews.name, n, msg))?,
        }
    }

    let catalog: Vec<Item> = match titles {
        Some(t) => t
            .into_iter()
            .map(|(id, title)| Item { id, title })
            .collect(),
        None => {
            let ids: BTreeMap<&str, ()> = raw.iter().map(|r| (r.item.as_str(), ())).collect();
            ids.keys()
                .map(|id| Item {
                    id: id.to_string(),
                    title: id.to_string(),
                })
                .collect()
        }
    };
    let mut report = bad.into_report();
    report.notes = notes;
    Dataset::from_raw(name, catalog, raw, options, report)
}

/// Metadata titles are scraped HTML text: decode the few entities that occur in them.
fn unescape_html(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(name: &'a str, bytes: &'a [u8]) -> Input<'a> {
        Input { name, bytes }
    }

    #[test]
    fn reviews_without_metadata_use_asins_as_titles() {
        let reviews = br#"{"reviewerID": "A2", "asin": "B01", "overall": 5.0, "unixReviewTime": 1252800000, "reviewText": "x"}
{"reviewerID": "A1", "asin": "B02", "overall": 3, "unixReviewTime": 1252800000}
"#;
        let ds = load_amazon(
            "amazon-2014",
            input("r.json", reviews),
            None,
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(ds.users, vec!["A1", "A2"]);
        assert_eq!(ds.items[0].title, "B01");
    }

    #[test]
    fn metadata_titles_and_unknown_items() {
        let reviews = br#"{"reviewerID": "A1", "asin": "B01", "overall": 4.0, "unixReviewTime": 1}
{"reviewerID": "A1", "asin": "B09", "overall": 4.0, "unixReviewTime": 2}
"#;
        let meta = br#"{"asin": "B01", "title": "Tom &amp; Jerry"}
{"asin": "B01", "title": "repeat"}
"#;
        let err = load_amazon(
            "amazon-2018",
            input("r.json", reviews),
            Some(input("m.json", meta)),
            &LoadOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("r.json:2: item \"B09\" is not in the metadata file"),
            "{err}"
        );
        let opts = LoadOptions {
            skip_bad_lines: true,
            ..Default::default()
        };
        let ds = load_amazon(
            "amazon-2018",
            input("r.json", reviews),
            Some(input("m.json", meta)),
            &opts,
        )
        .unwrap();
        assert_eq!(ds.items[0].title, "Tom & Jerry");
        assert_eq!(ds.report.skipped_lines, 1);
        assert_eq!(ds.report.notes.len(), 1);
    }

    #[test]
    fn malformed_reviews_name_the_line() {
        let cases: [(&[u8], &str); 3] = [
            (
                br#"{"reviewerID": "A1", "asin": "B01", "unixReviewTime": 1}"#,
                "r.json:1: not a review JSON object",
            ),
            (
                br#"{"reviewerID": "A1", "asin": "B01", "overall": "five", "unixReviewTime": 1}"#,
                "r.json:1: \"overall\" \"five\" is not a number",
            ),
            (
                br#"{"reviewerID": "A1", "asin": "B01", "overall": 7.0, "unixReviewTime": 1}"#,
                "r.json:1: rating \"7.0\" is out of range",
            ),
        ];
        for (bytes, want) in cases {
            let err = load_amazon(
                "amazon-2014",
                input("r.json", bytes),
                None,
                &LoadOptions::default(),
            )
            .unwrap_err()
            .to_string();
            assert!(err.starts_with(want), "{err} !~ {want}");
        }
    }
}
