//! Field-level parsing shared by the loaders: separators, CSV quoting, numbers and rating
//! scales. Every function returns a plain message; the loader adds file and line.

use std::borrow::Cow;

/// The rating values a dataset allows. Anything else on a rating line is a malformed line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RatingScale {
    /// Whole stars 1..=5 (MovieLens 100K and 1M).
    WholeStars,
    /// Half stars 0.5..=5.0 (MovieLens latest).
    HalfStars,
    /// Any value in 1..=5 (Amazon `overall`, normally whole numbers written as `5.0`).
    OneToFive,
}

impl RatingScale {
    /// Parse and range-check one rating field.
    pub fn parse(self, field: &str) -> Result<f32, String> {
        let v: f32 = field
            .trim()
            .parse()
            .map_err(|_| format!("rating {field:?} is not a number"))?;
        let ok = v.is_finite()
            && match self {
                RatingScale::WholeStars => (1.0..=5.0).contains(&v) && v.fract() == 0.0,
                RatingScale::HalfStars => (0.5..=5.0).contains(&v) && (v * 2.0).fract() == 0.0,
                RatingScale::OneToFive => (1.0..=5.0).contains(&v),
            };
        if ok {
            Ok(v)
        } else {
            Err(format!(
                "rating {field:?} is out of range ({})",
                self.describe()
            ))
        }
    }

    fn describe(self) -> &'static str {
        match self {
            RatingScale::WholeStars => "whole stars 1 to 5",
            RatingScale::HalfStars => "half stars 0.5 to 5",
            RatingScale::OneToFive => "1 to 5",
        }
    }
}

/// Parse an integer Unix timestamp.
pub fn timestamp(field: &str) -> Result<i64, String> {
    field
        .trim()
        .parse()
        .map_err(|_| format!("timestamp {field:?} is not an integer"))
}

/// Check an id field: non-empty after trimming.
pub fn id(field: &str, what: &str) -> Result<String, String> {
    let t = field.trim();
    if t.is_empty() {
        Err(format!("empty {what} id"))
    } else {
        Ok(t.to_string())
    }
}

/// Split a line on a separator and require exactly `n` fields.
pub fn split_exact<'a>(line: &'a str, sep: &str, n: usize) -> Result<Vec<&'a str>, String> {
    let fields: Vec<&str> = line.split(sep).collect();
    if fields.len() == n {
        Ok(fields)
    } else {
        Err(format!(
            "expected {n} fields separated by {sep:?}, found {}",
            fields.len()
        ))
    }
}

/// Split one CSV record (RFC 4180 quoting: `"a, b"`, `""` for a quote inside quotes). Records
/// spanning several lines are not supported (MovieLens has none).
pub fn csv_record(line: &str) -> Result<Vec<Cow<'_, str>>, String> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    loop {
        if bytes.get(i) == Some(&b'"') {
            let mut s = String::new();
            let mut j = i + 1;
            loop {
                match line[j..].find('"') {
                    None => return Err("unterminated quoted field".into()),
                    Some(k) => {
                        s.push_str(&line[j..j + k]);
                        j += k + 1;
                        if bytes.get(j) == Some(&b'"') {
                            s.push('"');
                            j += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            out.push(Cow::Owned(s));
            match bytes.get(j) {
                None => return Ok(out),
                Some(b',') => i = j + 1,
                Some(_) => return Err("text after a closing quote".into()),
            }
        } else {
            match line[i..].find(',') {
                None => {
                    out.push(Cow::Borrowed(&line[i..]));
                    return Ok(out);
                }
                Some(k) => {
                    let f = &line[i..i + k];
                    if f.contains('"') {
                        return Err("quote inside an unquoted field".into());
                    }
                    out.push(Cow::Borrowed(f));
                    i += k + 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_handles_quotes_commas_and_escaped_quotes() {
        let r = csv_record(r#"7789,"11'09""01 - September 11 (2002)",Drama"#).unwrap();
        assert_eq!(r, vec!["7789", "11'09\"01 - September 11 (2002)", "Drama"]);
        let r = csv_record(r#"11,"American President, The (1995)",Comedy|Drama|Romance"#).unwrap();
        assert_eq!(r[1], "American President, The (1995)");
        assert_eq!(csv_record("a,,b,").unwrap(), vec!["a", "", "b", ""]);
        assert!(csv_record(r#"1,"open"#).is_err());
        assert!(csv_record(r#"1,"x"y,2"#).is_err());
    }

    #[test]
    fn rating_scales() {
        assert_eq!(RatingScale::WholeStars.parse("4"), Ok(4.0));
        assert!(RatingScale::WholeStars.parse("4.5").is_err());
        assert!(RatingScale::WholeStars.parse("0").is_err());
        assert!(RatingScale::WholeStars.parse("6").is_err());
        assert!(RatingScale::WholeStars
            .parse("four")
            .unwrap_err()
            .contains("not a number"));
        assert_eq!(RatingScale::HalfStars.parse("0.5"), Ok(0.5));
        assert!(RatingScale::HalfStars.parse("0.25").is_err());
        assert!(RatingScale::HalfStars.parse("5.5").is_err());
        assert_eq!(RatingScale::OneToFive.parse("5.0"), Ok(5.0));
        assert!(RatingScale::OneToFive.parse("NaN").is_err());
    }
}
