//! A bounds-checked front for the `gemm` crate (the GEMM behind candle's CPU backend), for the
//! training kernels that multiply sub-blocks of their buffers without building tensors
//! ([`super::causal_attention`], [`super::frozen`]).

/// A strided matrix view into a slice: element (r, c) is `data[offset + r·rs + c·cs]`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    data: &'a [f32],
    offset: usize,
    rs: usize,
    cs: usize,
}

impl<'a> Mat<'a> {
    /// Row-major rows of `row_len` values starting at `offset`.
    pub fn rows(data: &'a [f32], offset: usize, row_len: usize) -> Self {
        Mat {
            data,
            offset,
            rs: row_len,
            cs: 1,
        }
    }
    /// The transpose of the row-major matrix at `offset` with rows of `row_len`.
    pub fn transposed(data: &'a [f32], offset: usize, row_len: usize) -> Self {
        Mat {
            data,
            offset,
            rs: 1,
            cs: row_len,
        }
    }
    /// Panics unless a `rows × cols` block of this view lies inside its slice.
    fn check(&self, rows: usize, cols: usize, what: &str) {
        if rows == 0 || cols == 0 {
            return;
        }
        let last = self.offset + (rows - 1) * self.rs + (cols - 1) * self.cs;
        assert!(
            last < self.data.len(),
            "gemm: {what} block {rows}×{cols} leaves its buffer"
        );
    }
}

/// How many threads one product may use.
#[derive(Clone, Copy)]
pub enum Threads {
    /// The caller already runs products in parallel.
    One,
    /// rayon's pool (as candle's own matmul does).
    All,
}

/// `dst (m × n, row-major, row stride dst_rs) = [dst +] scale · lhs (m × k) · rhs (k × n)`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_into(
    dst: &mut [f32],
    dst_rs: usize,
    (m, n, k): (usize, usize, usize),
    lhs: Mat,
    rhs: Mat,
    scale: f32,
    accumulate: bool,
    threads: Threads,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        dst.len() >= (m - 1) * dst_rs + n,
        "gemm: destination too small"
    );
    if k == 0 {
        if !accumulate {
            dst.chunks_mut(dst_rs.max(1))
                .take(m)
                .for_each(|r| r[..n].fill(0.0));
        }
        return;
    }
    lhs.check(m, k, "lhs");
    rhs.check(k, n, "rhs");
    let parallelism = match threads {
        Threads::One => gemm::Parallelism::None,
        Threads::All => gemm::Parallelism::Rayon(rayon::current_num_threads()),
    };
    // SAFETY: the destination holds the m × n block (asserted above) and `check` proved that
    // every element the product reads from `lhs` and `rhs` lies inside its slice.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.data.as_ptr().add(lhs.offset),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr().add(rhs.offset),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            scale,
            false,
            false,
            false,
            parallelism,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_of_views_match_the_definition() {
        // lhs 2×3, rhs given as the transpose of a 2×3 row-major matrix (so 3×2).
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0, 0.0, -1.0, 2.0, 1.0, 0.5];
        let mut out = [10.0f32; 4];
        let lhs = Mat::rows(&a, 0, 3);
        let rhs = Mat::transposed(&b, 0, 3);
        gemm_into(&mut out, 2, (2, 2, 3), lhs, rhs, 2.0, false, Threads::One);
        // a · bᵀ = [[−2, 5.5], [−2, 16]], doubled, the old contents ignored.
        assert_eq!(out, [-4.0, 11.0, -4.0, 32.0]);
        // Accumulating adds one more a · bᵀ.
        gemm_into(&mut out, 2, (2, 2, 3), lhs, rhs, 1.0, true, Threads::All);
        assert_eq!(out, [-6.0, 16.5, -6.0, 48.0]);
    }

    #[test]
    #[should_panic(expected = "leaves its buffer")]
    fn a_view_past_its_buffer_is_refused() {
        let a = [1.0f32; 5];
        let mut out = [0.0f32; 4];
        gemm_into(
            &mut out,
            2,
            (2, 2, 3),
            Mat::rows(&a, 0, 3),
            Mat::rows(&a, 0, 2),
            1.0,
            false,
            Threads::One,
        );
    }
}
