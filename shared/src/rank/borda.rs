//! Borda count: aggregate several rankings of the same `n` items.

/// Each ranking lists item indices best first (a permutation of `0..n`). An item at position `k`
/// earns `n − 1 − k` points. Returns the mean points per item.
pub fn borda(rankings: &[Vec<usize>], n: usize) -> Vec<f32> {
    let mut points = vec![0f32; n];
    for r in rankings {
        for (k, &item) in r.iter().enumerate() {
            points[item] += (n - 1 - k) as f32;
        }
    }
    let b = rankings.len().max(1) as f32;
    points.iter().map(|p| p / b).collect()
}

/// Item indices sorted by score, best first; ties keep the lower index first (stable).
pub fn order_by_score(scores: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borda_points_by_hand() {
        // Three items, two rankings: [0,1,2] and [1,0,2] → item0: 2+1, item1: 1+2, item2: 0.
        let s = borda(&[vec![0, 1, 2], vec![1, 0, 2]], 3);
        assert_eq!(s, vec![1.5, 1.5, 0.0]);
        assert_eq!(order_by_score(&s), vec![0, 1, 2]);
        let s = borda(&[vec![2, 1, 0], vec![2, 0, 1], vec![1, 2, 0]], 3);
        assert_eq!(s, vec![1.0 / 3.0, 1.0, 5.0 / 3.0]);
        assert_eq!(order_by_score(&s), vec![2, 1, 0]);
    }
}
