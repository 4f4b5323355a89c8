//! Printing evaluation results: an aligned terminal table, a markdown table, or JSON.

use super::ranker::EvalResult;
use alro_core::metrics::REPORT_KS;

/// `{"ndcg@1": .., "ndcg@5": .., "ndcg@10": .., "ndcg@20": .., "lists": N}` (keys in that order);
/// with `with_name`, `"ranker"` first.
pub fn json(r: &EvalResult, with_name: bool) -> String {
    let mut parts = Vec::new();
    if with_name {
        parts.push(format!(
            "\"ranker\": {}",
            serde_json::Value::String(r.name.clone())
        ));
    }
    for k in REPORT_KS {
        let v = r.ndcg.mean(k).unwrap_or(0.0);
        parts.push(format!("\"ndcg@{k}\": {}", serde_json::Value::from(v)));
    }
    parts.push(format!("\"lists\": {}", r.ndcg.lists));
    format!("{{{}}}", parts.join(", "))
}

fn cells(r: &EvalResult) -> Vec<String> {
    let mut c = vec![r.name.clone()];
    c.extend(
        REPORT_KS
            .iter()
            .map(|&k| format!("{:.4}", r.ndcg.mean(k).unwrap_or(0.0))),
    );
    c.push(r.ndcg.lists.to_string());
    c.push(format!("{:.2}", r.fit_seconds));
    c.push(format!("{:.2}", r.score_seconds));
    c
}

fn header() -> Vec<String> {
    let mut h = vec!["ranker".to_string()];
    h.extend(REPORT_KS.iter().map(|k| format!("NDCG@{k}")));
    h.push("lists".into());
    h.push("fit (s)".into());
    h.push("score (s)".into());
    h
}

/// Aligned plain-text table.
pub fn terminal(results: &[EvalResult]) -> String {
    let rows: Vec<Vec<String>> = std::iter::once(header())
        .chain(results.iter().map(cells))
        .collect();
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, &w))| {
                if c == 0 {
                    format!("{s:<w$}")
                } else {
                    format!("{s:>w$}")
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if n == 0 {
            out.push_str(
                &widths
                    .iter()
                    .map(|&w| "-".repeat(w))
                    .collect::<Vec<_>>()
                    .join("  "),
            );
            out.push('\n');
        }
    }
    out
}

/// GitHub-flavoured markdown table.
pub fn markdown(results: &[EvalResult]) -> String {
    let h = header();
    let mut out = format!("| {} |\n", h.join(" | "));
    out.push_str(&format!(
        "|{}|\n",
        h.iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---" } else { "---:" })
            .collect::<Vec<_>>()
            .join("|")
    ));
    for r in results {
        out.push_str(&format!("| {} |\n", cells(r).join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alro_core::metrics::NdcgAccumulator;

    fn result() -> EvalResult {
        let mut ndcg = NdcgAccumulator::default();
        ndcg.add_ranking(&[1.0, 0.0], &[0, 1]);
        EvalResult {
            name: "popularity".into(),
            ndcg,
            fit_seconds: 0.5,
            score_seconds: 0.0,
        }
    }

    #[test]
    fn json_has_the_documented_keys_in_order() {
        assert_eq!(
            json(&result(), false),
            r#"{"ndcg@1": 1.0, "ndcg@5": 1.0, "ndcg@10": 1.0, "ndcg@20": 1.0, "lists": 1}"#
        );
        let v: serde_json::Value = serde_json::from_str(&json(&result(), true)).unwrap();
        assert_eq!(v["ranker"], "popularity");
    }

    #[test]
    fn tables() {
        let t = terminal(&[result()]);
        assert!(t.starts_with("ranker      NDCG@1"), "{t}");
        let m = markdown(&[result()]);
        assert!(
            m.contains("| popularity | 1.0000 | 1.0000 | 1.0000 | 1.0000 | 1 | 0.50 | 0.00 |"),
            "{m}"
        );
    }
}
