//! The size/quality table of an export: one row for the unmerged adapter model (the reference)
//! and one per written file, scored on the same validation lists ([`super::quality`]).

use super::quality::ListScores;
use super::{Scheme, TensorChoice};
use alro_core::data::RankingExample;
use serde::Serialize;

/// One row of the table (also written as JSON next to the files, `export-report.json`).
#[derive(Debug, Clone, Serialize)]
pub struct ExportRow {
    pub variant: String,
    pub file: Option<String>,
    pub bytes: u64,
    pub tokens_per_s: Option<f64>,
    pub ndcg10: Option<f64>,
    pub top1_agreement: Option<f64>,
    pub max_abs_logprob_diff: Option<f32>,
}

impl ExportRow {
    /// The unmerged adapter on the stored backbone (`backbone_bytes` long): what
    /// `alro eval --adapter` runs, so every file is compared against it.
    pub fn reference(
        backbone_bytes: u64,
        scores: &ListScores,
        examples: &[RankingExample],
    ) -> ExportRow {
        ExportRow {
            variant: "adapter (unmerged)".into(),
            file: None,
            bytes: backbone_bytes,
            tokens_per_s: Some(scores.tokens_per_s()),
            ndcg10: Some(scores.ndcg10(examples)),
            top1_agreement: Some(1.0),
            max_abs_logprob_diff: Some(0.0),
        }
    }

    /// A written file, its quality columns empty until [`ExportRow::scored`].
    pub fn written(scheme: Scheme, file: String, bytes: u64) -> ExportRow {
        ExportRow {
            variant: scheme.to_string(),
            file: Some(file),
            bytes,
            tokens_per_s: None,
            ndcg10: None,
            top1_agreement: None,
            max_abs_logprob_diff: None,
        }
    }

    /// Fills the quality columns from the file's `scores` on `examples` against `reference`'s.
    pub fn scored(
        self,
        scores: &ListScores,
        examples: &[RankingExample],
        reference: &ListScores,
    ) -> ExportRow {
        ExportRow {
            tokens_per_s: Some(scores.tokens_per_s()),
            ndcg10: Some(scores.ndcg10(examples)),
            top1_agreement: Some(scores.top1_agreement(reference)),
            max_abs_logprob_diff: Some(scores.max_abs_diff(reference)),
            ..self
        }
    }
}

/// "182 Q4_1, 61 F32, 30 Q8_0": how many tensors of each stored type, most common first.
pub fn type_counts(tensors: &[TensorChoice]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for t in tensors {
        let name = format!("{:?}", t.dtype);
        match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => counts.push((name, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
        .iter()
        .map(|(n, c)| format!("{c} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table in Markdown; `lists` is how many validation lists the quality columns used.
pub fn markdown_table(rows: &[ExportRow], lists: usize) -> String {
    let opt =
        |v: Option<f64>, digits: usize| v.map_or("—".to_string(), |x| format!("{x:.digits$}"));
    let mut out = format!(
        "| variant | file size (MB) | prefill tokens/s | NDCG@10 ({lists} validation lists) | top-1 = adapter | max |Δ log p| |\n|---|---:|---:|---:|---:|---:|\n"
    );
    for r in rows {
        out += &format!(
            "| {} | {:.1} | {} | {} | {} | {} |\n",
            r.variant,
            r.bytes as f64 / 1e6,
            opt(r.tokens_per_s, 0),
            opt(r.ndcg10, 4),
            r.top1_agreement
                .map_or("—".into(), |a| format!("{:.0}%", a * 100.0)),
            opt(r.max_abs_logprob_diff.map(f64::from), 4),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::test_list as list;
    use candle_core::quantized::GgmlDType;

    #[test]
    fn rows_compare_each_file_with_the_reference() {
        let examples = [list(vec![0.0, 3.0]), list(vec![2.0, 0.0])];
        let reference = ListScores {
            scores: vec![vec![-2.0, -0.1], vec![-0.2, -1.5]],
            prompt_tokens: 300,
            seconds: 2.0,
        };
        // The file agrees on the first list's top candidate and not on the second's.
        let file = ListScores {
            scores: vec![vec![-2.5, -0.1], vec![-1.0, -0.5]],
            prompt_tokens: 300,
            seconds: 1.0,
        };
        let rows = [
            ExportRow::reference(1_000_000, &reference, &examples),
            ExportRow::written(Scheme::Q8_0, "r.gguf".into(), 2_500_000)
                .scored(&file, &examples, &reference),
            ExportRow::written(Scheme::F16, "f.gguf".into(), 4_000_000),
        ];
        assert_eq!(rows[0].ndcg10, Some(1.0));
        assert_eq!(rows[1].top1_agreement, Some(0.5));
        assert!((rows[1].max_abs_logprob_diff.unwrap() - 1.0).abs() < 1e-6);
        let table = markdown_table(&rows, 2);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[0].contains("NDCG@10 (2 validation lists)"));
        assert_eq!(
            lines[2],
            "| adapter (unmerged) | 1.0 | 150 | 1.0000 | 100% | 0.0000 |"
        );
        assert!(
            lines[3].starts_with("| Q8_0 | 2.5 | 300 | 0.8155 | "),
            "{}",
            lines[3]
        );
        assert!(lines[3].ends_with(" | 50% | 1.0000 |"), "{}", lines[3]);
        assert!(
            lines[4].ends_with("| 4.0 | — | — | — | — |"),
            "{}",
            lines[4]
        );
    }

    #[test]
    fn type_counts_most_common_first() {
        let t = |dtype| TensorChoice {
            name: String::new(),
            dims: vec![],
            dtype,
        };
        let tensors = [
            t(GgmlDType::F32),
            t(GgmlDType::Q8_0),
            t(GgmlDType::Q8_0),
            t(GgmlDType::F16),
        ];
        assert_eq!(type_counts(&tensors), "2 Q8_0, 1 F16, 1 F32");
    }
}
