//! The one order in which user and item ids are iterated everywhere.
//!
//! Determinism needs a fixed order, and MovieLens ids are integers, so "natural" order (numeric
//! when both ids are integers, `2 < 10`) reads better than byte order (`10 < 2`). Amazon ids
//! (`A2SUAM1J3GNN3B`, `0000013714`) mostly fall back to byte order. The order is total: all
//! integer ids come before all other ids.

use std::cmp::Ordering;

/// Compare two ids: integers numerically (without leading zeros mattering, then by length so
/// `"07" != "7"` stays total), everything else by bytes, integers first.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let num = |s: &str| -> Option<u128> {
        if !s.is_empty() && s.len() <= 38 && s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x
            .cmp(&y)
            .then_with(|| a.len().cmp(&b.len()))
            .then_with(|| a.cmp(b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_sort_numerically_and_before_strings() {
        let mut ids = vec!["10", "B00", "2", "A1", "07", "7", "1"];
        ids.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(ids, vec!["1", "2", "7", "07", "10", "A1", "B00"]);
    }
}
