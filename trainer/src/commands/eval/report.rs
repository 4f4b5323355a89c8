//! Printing evaluation results: an aligned terminal table, a markdown table, or JSON; the
//! paired differences of `--versus`, the position bias of `--position-bias`, the per-list lines
//! of `--per-list` and the readable lists of `--show`.

use alro_core::data::RankingExample;
use alro_core::metrics::{PairedDifference, REPORT_KS};
use alro_core::rank::RankMode;
use alro_trainer::eval::{EvalResult, PositionBias, PER_LIST_K, VERSUS_RESAMPLES, VERSUS_SEED};

/// One `--versus` comparison: `ranker − against` in NDCG@10.
#[derive(Debug, Clone)]
pub struct Versus {
    pub ranker: String,
    pub against: String,
    pub d: PairedDifference,
}

/// `{"ndcg@1": .., "ndcg@5": .., "ndcg@10": .., "ndcg@20": .., "lists": N}` (keys in that order);
/// with `with_name`, `"ranker"` first; with a measured position bias, `"position_bias":
/// {"orders": K, "kendall_tau": .., "ndcg10_spread": .., "ndcg10_mean": ..}` (null where no list
/// gives a value); with comparisons of this ranker in `versus`, a last key
/// `"versus": {"popularity": {"mean": .., "lo": .., "hi": .., "verdict": ..}, ..}`.
pub fn json(r: &EvalResult, with_name: bool, versus: &[Versus]) -> String {
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
    if let Some(pb) = &r.position_bias {
        let v = |x: Option<f64>| x.map_or(serde_json::Value::Null, serde_json::Value::from);
        parts.push(format!(
            "\"position_bias\": {{\"orders\": {}, \"kendall_tau\": {}, \"ndcg10_spread\": {}, \"ndcg10_mean\": {}}}",
            pb.orders,
            v(pb.kendall_tau),
            v(pb.ndcg10_spread),
            v(pb.ndcg10_mean)
        ));
    }
    let mine: Vec<String> = versus
        .iter()
        .filter(|v| v.ranker == r.name)
        .map(|v| {
            format!(
                "{}: {{\"mean\": {}, \"lo\": {}, \"hi\": {}, \"verdict\": \"{}\"}}",
                serde_json::Value::String(v.against.clone()),
                serde_json::Value::from(v.d.mean),
                serde_json::Value::from(v.d.lo),
                serde_json::Value::from(v.d.hi),
                v.d.verdict()
            )
        })
        .collect();
    if !mine.is_empty() {
        parts.push(format!("\"versus\": {{{}}}", mine.join(", ")));
    }
    format!("{{{}}}", parts.join(", "))
}

/// `Δ NDCG@10 vs popularity: +0.0123 [0.0051, 0.0190] above (943 lists, 1000 paired-bootstrap
/// resamples)`, one line per comparison, ranker names aligned in front.
pub fn versus_terminal(versus: &[Versus]) -> String {
    let w = versus.iter().map(|v| v.ranker.len()).max().unwrap_or(0);
    let mut out = String::new();
    for v in versus {
        out.push_str(&format!(
            "{:<w$}  Δ NDCG@{PER_LIST_K} vs {}: {:+.4} [{:.4}, {:.4}] {} ({} lists, {} paired-bootstrap resamples)\n",
            v.ranker,
            v.against,
            v.d.mean,
            v.d.lo,
            v.d.hi,
            v.d.verdict(),
            v.d.lists,
            v.d.resamples
        ));
    }
    out
}

/// The comparisons as a second markdown table, with a line saying how the intervals were drawn.
pub fn versus_markdown(versus: &[Versus]) -> String {
    let mut out = format!(
        "| ranker | vs | Δ NDCG@{PER_LIST_K} | 95% interval | verdict | lists |\n|---|---|---:|---|---|---:|\n"
    );
    for v in versus {
        out.push_str(&format!(
            "| {} | {} | {:+.4} | [{:.4}, {:.4}] | {} | {} |\n",
            v.ranker,
            v.against,
            v.d.mean,
            v.d.lo,
            v.d.hi,
            v.d.verdict(),
            v.d.lists
        ));
    }
    out.push_str(&format!(
        "\nΔ: mean per-list difference; 95% paired-bootstrap interval, {VERSUS_RESAMPLES} resamples of the lists, seed {VERSUS_SEED}.\n"
    ));
    out
}

/// Which LLM mode ran, one line above the table (its score seconds are this mode's).
pub fn mode_line(mode: RankMode) -> String {
    match mode {
        RankMode::Greedy => {
            "LLM mode: greedy (constrained greedy decoding of the whole list)".into()
        }
        RankMode::Single => {
            "LLM mode: single (first-position distribution, one forward pass per list)".into()
        }
        RankMode::Bootstrap { orders, seed } => format!(
            "LLM mode: bootstrap (greedy lists under {orders} presentation orders, seed {seed}, \
             combined by Borda count)"
        ),
    }
}

fn mode_name(mode: RankMode) -> String {
    match mode {
        RankMode::Greedy => "greedy mode".into(),
        RankMode::Single => "single mode".into(),
        RankMode::Bootstrap { orders, .. } => format!("bootstrap mode with B = {orders}"),
    }
}

/// The line above the position-bias table.
fn position_bias_title(pb: &PositionBias, mode: RankMode) -> String {
    format!(
        "position bias over {} presentation orders ({}, {} lists; Kendall τ 1 and spread 0 = none):",
        pb.orders,
        mode_name(mode),
        pb.lists
    )
}

fn position_bias_rows(results: &[EvalResult]) -> Vec<Vec<String>> {
    // A mean of τ that is 0 up to rounding prints 0.0000, not -0.0000.
    let f = |x: Option<f64>| {
        x.map_or("–".to_string(), |v| {
            format!("{:.4}", if v.abs() < 5e-5 { 0.0 } else { v })
        })
    };
    let mut rows = vec![["ranker", "Kendall τ", "NDCG@10 spread", "NDCG@10 mean"]
        .map(String::from)
        .to_vec()];
    for r in results {
        if let Some(pb) = &r.position_bias {
            rows.push(vec![
                r.name.clone(),
                f(pb.kendall_tau),
                f(pb.ndcg10_spread),
                f(pb.ndcg10_mean),
            ]);
        }
    }
    rows
}

/// The `--position-bias` table of the rankers that measured it (empty when none did): a title
/// line, then ranker | Kendall τ | NDCG@10 spread | NDCG@10 mean.
pub fn position_bias_terminal(results: &[EvalResult], mode: RankMode) -> String {
    let Some(pb) = results.iter().find_map(|r| r.position_bias.as_ref()) else {
        return String::new();
    };
    format!(
        "{}\n{}",
        position_bias_title(pb, mode),
        aligned(&position_bias_rows(results))
    )
}

/// [`position_bias_terminal`] as a markdown table.
pub fn position_bias_markdown(results: &[EvalResult], mode: RankMode) -> String {
    let Some(pb) = results.iter().find_map(|r| r.position_bias.as_ref()) else {
        return String::new();
    };
    let rows = position_bias_rows(results);
    let mut out = format!(
        "{}\n\n| {} |\n|---|---:|---:|---:|\n",
        position_bias_title(pb, mode),
        rows[0].join(" | ")
    );
    for row in &rows[1..] {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

/// One `--scores` line: `{"user": .., "relevance": [..], "scores": {"ranker": [..], ..}}`,
/// rankers keyed by name, candidates in presentation order.
pub fn scores_line(ex: &RankingExample, i: usize, results: &[EvalResult]) -> String {
    let scores: serde_json::Map<String, serde_json::Value> = results
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                serde_json::Value::from(r.kept_scores[i].clone()),
            )
        })
        .collect();
    serde_json::json!({"user": ex.user, "relevance": ex.relevance, "scores": scores}).to_string()
}

/// One `--per-list` line: `{"user": .., "ndcg@10": {"ranker": value or null, ..}}`, rankers in
/// table order (null: a list without a positive, skipped by every ranker).
pub fn per_list_line(ex: &RankingExample, i: usize, results: &[EvalResult]) -> String {
    let values: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{}: {}",
                serde_json::Value::String(r.name.clone()),
                r.per_list[i].map_or(serde_json::Value::Null, serde_json::Value::from)
            )
        })
        .collect();
    format!(
        "{{\"user\": {}, \"ndcg@{PER_LIST_K}\": {{{}}}}}",
        serde_json::Value::String(ex.user.clone()),
        values.join(", ")
    )
}

/// What `--show` prints above the lists (of `m` candidates): how to read the marks.
pub fn show_legend(lead: &str, m: usize) -> String {
    format!(
        "Top {} by {lead}: ★ rated ≥ 4 by the user, ☆ rated < 4, unmarked: never rated.\n",
        m.min(PER_LIST_K)
    )
}

/// One list for a person: the user, the last 3 history films with their ratings, the `lead`
/// ranker's top 10 (marks as in [`show_legend`], the candidate's note in parentheses; equal
/// scores in presentation order), and every ranker's NDCG@10 on this list, the lead's first.
pub fn show_list(ex: &RankingExample, i: usize, results: &[EvalResult], lead: usize) -> String {
    let rating = |r: f32| {
        if r.fract() == 0.0 {
            format!("{r:.0}")
        } else {
            format!("{r}")
        }
    };
    let recent: Vec<String> = ex.history[ex.history.len().saturating_sub(3)..]
        .iter()
        .map(|h| format!("{}: {}", h.title, rating(h.rating)))
        .collect();
    let mut out = format!(
        "user {} · last rated: {}\n",
        ex.user,
        if recent.is_empty() {
            "nothing".to_string()
        } else {
            recent.join(" · ")
        }
    );
    let scores = &results[lead].kept_scores[i];
    let mut order: Vec<usize> = (0..ex.candidates.len()).collect();
    let key = |s: f64| if s.is_nan() { f64::NEG_INFINITY } else { s };
    order.sort_by(|&a, &b| key(scores[b]).total_cmp(&key(scores[a])));
    for (rank, &c) in order.iter().take(PER_LIST_K).enumerate() {
        let rel = ex.relevance[c];
        let mark = if rel >= 4.0 {
            "★"
        } else if rel > 0.0 {
            "☆"
        } else {
            " "
        };
        let cand = &ex.candidates[c];
        let note = cand
            .note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        out.push_str(&format!(" {:>2}. {mark} {}{note}\n", rank + 1, cand.title));
    }
    let ndcg: Vec<String> = std::iter::once(&results[lead])
        .chain(
            results
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != lead)
                .map(|(_, r)| r),
        )
        .map(|r| match r.per_list[i] {
            Some(v) => format!("{} {v:.3}", r.name),
            None => format!("{} –", r.name),
        })
        .collect();
    out.push_str(&format!("  NDCG@{PER_LIST_K}: {}\n", ndcg.join(" · ")));
    out
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
    aligned(&rows)
}

/// `rows` (the first one the header) as aligned columns, the first left-aligned, a rule of
/// dashes under the header.
fn aligned(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
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
            per_list: vec![Some(1.0)],
            kept_scores: vec![],
            fit_seconds: 0.5,
            score_seconds: 0.0,
            position_bias: None,
        }
    }

    fn versus() -> Vec<Versus> {
        vec![Versus {
            ranker: "popularity".into(),
            against: "random".into(),
            d: PairedDifference {
                mean: 0.0123,
                lo: 0.0051,
                hi: 0.019,
                lists: 943,
                resamples: 1000,
            },
        }]
    }

    #[test]
    fn json_has_the_documented_keys_in_order() {
        assert_eq!(
            json(&result(), false, &[]),
            r#"{"ndcg@1": 1.0, "ndcg@5": 1.0, "ndcg@10": 1.0, "ndcg@20": 1.0, "lists": 1}"#
        );
        let v: serde_json::Value = serde_json::from_str(&json(&result(), true, &[])).unwrap();
        assert_eq!(v["ranker"], "popularity");
        assert!(v.get("versus").is_none());
        let v: serde_json::Value = serde_json::from_str(&json(&result(), true, &versus())).unwrap();
        assert_eq!(v["versus"]["random"]["verdict"], "above");
        assert_eq!(v["versus"]["random"]["lo"], 0.0051);
    }

    #[test]
    fn position_bias_in_json_and_tables() {
        let mut r = result();
        r.name = "zero-shot".into();
        r.position_bias = Some(PositionBias {
            orders: 3,
            lists: 4,
            kendall_tau: Some(0.25),
            ndcg10_spread: Some(0.125),
            ndcg10_mean: None,
        });
        let v: serde_json::Value = serde_json::from_str(&json(&r, true, &versus())).unwrap();
        assert_eq!(v["position_bias"]["orders"], 3);
        assert_eq!(v["position_bias"]["kendall_tau"], 0.25);
        assert_eq!(v["position_bias"]["ndcg10_spread"], 0.125);
        assert!(v["position_bias"]["ndcg10_mean"].is_null());
        let line = json(&r, true, &[]);
        assert!(line.find("\"lists\"").unwrap() < line.find("\"position_bias\"").unwrap());
        let both = [result(), r];
        let t = position_bias_terminal(&both, RankMode::Greedy);
        assert_eq!(
            t,
            "position bias over 3 presentation orders (greedy mode, 4 lists; Kendall τ 1 and spread 0 = none):\n\
             ranker     Kendall τ  NDCG@10 spread  NDCG@10 mean\n\
             ---------  ---------  --------------  ------------\n\
             zero-shot     0.2500          0.1250             –\n"
        );
        let m = position_bias_markdown(&both, RankMode::Bootstrap { orders: 5, seed: 0 });
        assert!(m.contains("(bootstrap mode with B = 5, 4 lists"), "{m}");
        assert!(m.contains("| zero-shot | 0.2500 | 0.1250 | – |"), "{m}");
        assert!(position_bias_terminal(&[result()], RankMode::Greedy).is_empty());
        assert!(mode_line(RankMode::Bootstrap { orders: 5, seed: 0 })
            .contains("5 presentation orders, seed 0, combined by Borda count"));
    }

    #[test]
    fn versus_lines() {
        assert_eq!(
            versus_terminal(&versus()),
            "popularity  Δ NDCG@10 vs random: +0.0123 [0.0051, 0.0190] above (943 lists, 1000 paired-bootstrap resamples)\n"
        );
        let m = versus_markdown(&versus());
        assert!(
            m.contains("| popularity | random | +0.0123 | [0.0051, 0.0190] | above | 943 |"),
            "{m}"
        );
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
