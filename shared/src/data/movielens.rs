//! MovieLens parsers: 100K (`u.data` + `u.item`), 1M (`ratings.dat` + `movies.dat`) and
//! latest (`ratings.csv` + `movies.csv`). Bytes in, [`Dataset`] out: file reading and
//! decompression are the caller's business, so this also runs in the browser.
//!
//! Formats (see each dataset's README):
//! - `u.data`: `user \t item \t rating \t timestamp`, whole stars; `u.item`: 24 `|`-separated
//!   fields, title second, Latin-1.
//! - `ratings.dat`: `user::item::rating::timestamp`; `movies.dat`: `item::title::genres`,
//!   Latin-1.
//! - `ratings.csv`: header `userId,movieId,rating,timestamp`, half stars; `movies.csv`: header
//!   `movieId,title,genres`, CSV quoting, UTF-8, CRLF tolerated.

use super::dataset::{BadLines, Dataset, Item, LoadOptions, RawRating};
use super::encoding::{decode_legacy, decode_utf8, lines};
use super::fields::{self, RatingScale};
use super::Input;
use crate::{Error, Result};
use std::collections::HashSet;

/// MovieLens 100K from `u.data` and `u.item`.
pub fn load_ml100k(ratings: Input, items: Input, options: &LoadOptions) -> Result<Dataset> {
    let mut bad = BadLines::new(options.skip_bad_lines);
    let catalog = parse_catalog(items, &mut bad, |line| {
        let f = fields::split_exact(line, "|", 24)?;
        Ok(Item {
            id: fields::id(f[0], "item")?,
            title: f[1].trim().to_string(),
        })
    })?;
    let text = decode_utf8(ratings.name, ratings.bytes)?;
    let raw = parse_ratings(ratings.name, lines(text), &catalog, &mut bad, |line| {
        let f = fields::split_exact(line, "\t", 4)?;
        rating_fields(f[0], f[1], f[2], f[3], RatingScale::WholeStars)
    })?;
    Dataset::from_raw("ml-100k", catalog, raw, options, bad.into_report())
}

/// MovieLens 1M from `ratings.dat` and `movies.dat` (`::`-separated).
pub fn load_ml1m(ratings: Input, items: Input, options: &LoadOptions) -> Result<Dataset> {
    let mut bad = BadLines::new(options.skip_bad_lines);
    let catalog = parse_catalog(items, &mut bad, |line| {
        let f = fields::split_exact(line, "::", 3)?;
        Ok(Item {
            id: fields::id(f[0], "item")?,
            title: f[1].trim().to_string(),
        })
    })?;
    let text = decode_utf8(ratings.name, ratings.bytes)?;
    let raw = parse_ratings(ratings.name, lines(text), &catalog, &mut bad, |line| {
        let f = fields::split_exact(line, "::", 4)?;
        rating_fields(f[0], f[1], f[2], f[3], RatingScale::WholeStars)
    })?;
    Dataset::from_raw("ml-1m", catalog, raw, options, bad.into_report())
}

/// MovieLens latest (full or small) from `ratings.csv` and `movies.csv`.
pub fn load_ml_latest(
    name: &str,
    ratings: Input,
    items: Input,
    options: &LoadOptions,
) -> Result<Dataset> {
    let mut bad = BadLines::new(options.skip_bad_lines);
    let text = decode_utf8(items.name, items.bytes)?;
    let mut item_lines = lines(text);
    expect_header(items.name, item_lines.next(), "movieId,title,genres")?;
    let mut catalog = Vec::new();
    for (n, line) in item_lines {
        let parsed = fields::csv_record(line).and_then(|f| {
            if f.len() != 3 {
                return Err(format!(
                    "expected 3 comma-separated fields, found {}",
                    f.len()
                ));
            }
            Ok(Item {
                id: fields::id(&f[0], "item")?,
                title: f[1].trim().to_string(),
            })
        });
        match parsed {
            Ok(item) => catalog.push(item),
            Err(msg) => bad.report(Error::data(items.name, n, msg))?,
        }
    }
    check_unique_ids(items.name, &catalog)?;

    let text = decode_utf8(ratings.name, ratings.bytes)?;
    let mut rating_lines = lines(text);
    expect_header(
        ratings.name,
        rating_lines.next(),
        "userId,movieId,rating,timestamp",
    )?;
    let raw = parse_ratings(ratings.name, rating_lines, &catalog, &mut bad, |line| {
        let f = fields::split_exact(line, ",", 4)?;
        rating_fields(f[0], f[1], f[2], f[3], RatingScale::HalfStars)
    })?;
    Dataset::from_raw(name, catalog, raw, options, bad.into_report())
}

/// Parse a Latin-1 (or UTF-8) item file line by line.
fn parse_catalog(
    items: Input,
    bad: &mut BadLines,
    parse: impl Fn(&str) -> std::result::Result<Item, String>,
) -> Result<Vec<Item>> {
    let text = decode_legacy(items.name, items.bytes)?;
    let mut catalog = Vec::new();
    for (n, line) in lines(&text) {
        match parse(line) {
            Ok(item) => catalog.push(item),
            Err(msg) => bad.report(Error::data(items.name, n, msg))?,
        }
    }
    check_unique_ids(items.name, &catalog)?;
    Ok(catalog)
}

/// Parse rating lines; a rating whose item is not in the catalog is a malformed line.
fn parse_ratings<'t>(
    file: &str,
    lines: impl Iterator<Item = (usize, &'t str)>,
    catalog: &[Item],
    bad: &mut BadLines,
    parse: impl Fn(&str) -> std::result::Result<RawRating, String>,
) -> Result<Vec<RawRating>> {
    let known: HashSet<&str> = catalog.iter().map(|i| i.id.as_str()).collect();
    let mut raw = Vec::new();
    for (n, line) in lines {
        let parsed = parse(line).and_then(|r| {
            if known.contains(r.item.as_str()) {
                Ok(r)
            } else {
                Err(format!("item {:?} is not in the item file", r.item))
            }
        });
        match parsed {
            Ok(r) => raw.push(r),
            Err(msg) => bad.report(Error::data(file, n, msg))?,
        }
    }
    Ok(raw)
}

fn rating_fields(
    user: &str,
    item: &str,
    rating: &str,
    ts: &str,
    scale: RatingScale,
) -> std::result::Result<RawRating, String> {
    Ok(RawRating {
        user: fields::id(user, "user")?,
        item: fields::id(item, "item")?,
        rating: scale.parse(rating)?,
        timestamp: fields::timestamp(ts)?,
    })
}

fn expect_header(file: &str, first: Option<(usize, &str)>, header: &str) -> Result<()> {
    match first {
        Some((_, line)) if line.trim() == header => Ok(()),
        Some((n, line)) => Err(Error::data(
            file,
            n,
            format!("expected the header {header:?}, found {line:?}"),
        )),
        None => Err(Error::data(
            file,
            1,
            format!("empty file (expected the header {header:?})"),
        )),
    }
}

fn check_unique_ids(file: &str, catalog: &[Item]) -> Result<()> {
    let mut seen = HashSet::new();
    for item in catalog {
        if !seen.insert(item.id.as_str()) {
            return Err(Error::Invalid(format!(
                "{file}: item id {:?} is listed twice",
                item.id
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(name: &'a str, bytes: &'a [u8]) -> Input<'a> {
        Input { name, bytes }
    }

    const U_ITEM: &[u8] =
        b"1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n\
543|Mis\xE9rables, Les (1995)|01-Jan-1995||http://x|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0\n";

    #[test]
    fn ml100k_parses_and_decodes_latin1() {
        let data = b"1\t543\t4\t100\n2\t1\t5\t50\n1\t1\t3\t90\n";
        let ds = load_ml100k(
            input("u.data", data),
            input("u.item", U_ITEM),
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(ds.ratings.len(), 3);
        assert_eq!(ds.users, vec!["1", "2"]);
        assert_eq!(ds.items[1].title, "Misérables, Les (1995)");
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let cases: [(&[u8], &str); 4] = [
            (b"1\t1\t3\t90\n1\t543\t4\n", "u.data:2: expected 4 fields"),
            (
                b"1\t1\t3\t90\n\n1\t543\tfive\t3\n",
                "u.data:3: rating \"five\" is not a number",
            ),
            (b"1\t1\t6\t90\n", "u.data:1: rating \"6\" is out of range"),
            (
                b"1\t1\t3\t90\n1\t999\t3\t90\n",
                "u.data:2: item \"999\" is not in the item file",
            ),
        ];
        for (data, want) in cases {
            let err = load_ml100k(
                input("u.data", data),
                input("u.item", U_ITEM),
                &LoadOptions::default(),
            )
            .unwrap_err()
            .to_string();
            assert!(err.starts_with(want), "{err} !~ {want}");
        }
    }

    #[test]
    fn skip_bad_lines_counts_and_skips() {
        let data = b"1\t1\t3\t90\n1\t543\t4\n1\t999\t3\t90\nx\t1\t9\t1\n2\t543\t2\t5\n";
        let opts = LoadOptions {
            skip_bad_lines: true,
            ..Default::default()
        };
        let ds = load_ml100k(input("u.data", data), input("u.item", U_ITEM), &opts).unwrap();
        assert_eq!(ds.ratings.len(), 2);
        assert_eq!(ds.report.skipped_lines, 3);
        assert!(ds.report.skipped_messages[0].starts_with("u.data:2:"));
    }

    #[test]
    fn ml1m_double_colon_and_latin1() {
        let movies = b"1::Toy Story (1995)::Animation|Children's|Comedy\n73::Mis\xE9rables, Les (1995)::Drama|Musical\n";
        let ratings = b"1::73::5::978300760\n1::1::3::978302109\n";
        let ds = load_ml1m(
            input("ratings.dat", ratings),
            input("movies.dat", movies),
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(ds.items[1].title, "Misérables, Les (1995)");
        assert_eq!(ds.ratings.len(), 2);
        let bad = b"1::73::5::978300760\n1::1:3::978302109\n";
        let err = load_ml1m(
            input("ratings.dat", bad),
            input("movies.dat", movies),
            &LoadOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("ratings.dat:2: expected 4 fields"),
            "{err}"
        );
    }

    #[test]
    fn ml_latest_crlf_quotes_and_half_stars() {
        let movies = "movieId,title,genres\r\n1,Toy Story (1995),Comedy\r\n11,\"American President, The (1995)\",Drama\r\n";
        let ratings =
            "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,11,0.5,964981247\r\n";
        let ds = load_ml_latest(
            "ml-latest-small",
            input("ratings.csv", ratings.as_bytes()),
            input("movies.csv", movies.as_bytes()),
            &LoadOptions::default(),
        )
        .unwrap();
        assert_eq!(ds.items[1].title, "American President, The (1995)");
        let r: Vec<f32> = ds.ratings.iter().map(|r| r.rating).collect();
        assert_eq!(r, vec![0.5, 4.0]);
        let bad = "userId,movieId,rating,timestamp\r\n1,1,4.25,964982703\r\n";
        let err = load_ml_latest(
            "x",
            input("ratings.csv", bad.as_bytes()),
            input("movies.csv", movies.as_bytes()),
            &LoadOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("ratings.csv:2: rating \"4.25\" is out of range"),
            "{err}"
        );
        let err = load_ml_latest(
            "x",
            input("ratings.csv", b"user,item\n"),
            input("movies.csv", movies.as_bytes()),
            &LoadOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("ratings.csv:1: expected the header"),
            "{err}"
        );
    }
}
