//! A bounds-checked front for the `gemm` crate (the GEMM behind candle's CPU backend), for the
//! training kernels that multiply sub-blocks of their buffers without building tensors
//! ([`super::causal_attention`], [`super::frozen`]).
//!
//! With the `openblas` feature, the multi-threaded products (the frozen projections of a
//! training step, the bulk of its work) go to OpenBLAS's `cblas_sgemm` instead: on the
//! training shapes (512 rows × 576–1728) it runs at 95–125 GFLOP/s on 2 cores against the
//! `gemm` crate's 55–92 (BENCHMARKS.md). The per-head products of the attention kernel, already
//! run in parallel by the caller, stay on `gemm` (one OpenBLAS call per thread would oversubscribe).

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
    #[cfg(feature = "openblas")]
    if matches!(threads, Threads::All)
        && blas::sgemm(dst, dst_rs, (m, n, k), lhs, rhs, scale, accumulate)
    {
        return;
    }
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

#[cfg(feature = "openblas")]
mod blas {
    use super::Mat;
    use std::os::raw::c_int;

    const ROW_MAJOR: c_int = 101;
    const NO_TRANS: c_int = 111;
    const TRANS: c_int = 112;

    #[link(name = "openblas")]
    extern "C" {
        fn cblas_sgemm(
            layout: c_int,
            trans_a: c_int,
            trans_b: c_int,
            m: c_int,
            n: c_int,
            k: c_int,
            alpha: f32,
            a: *const f32,
            lda: c_int,
            b: *const f32,
            ldb: c_int,
            beta: f32,
            c: *mut f32,
            ldc: c_int,
        );
    }

    /// A `rows × cols` view as BLAS sees it: (transpose flag, leading dimension), or None when
    /// the view is not a plain or transposed row-major matrix BLAS can take.
    fn as_blas(v: &Mat, rows: usize, cols: usize) -> Option<(c_int, usize)> {
        if v.cs == 1 && v.rs >= cols.max(1) {
            Some((NO_TRANS, v.rs))
        } else if v.rs == 1 && v.cs >= rows.max(1) {
            Some((TRANS, v.cs))
        } else {
            None
        }
    }

    /// `dst = [dst +] scale · lhs · rhs` through `cblas_sgemm`; false (nothing done) when a view
    /// does not fit BLAS's layout rules or a size overflows its `int`.
    pub(super) fn sgemm(
        dst: &mut [f32],
        dst_rs: usize,
        (m, n, k): (usize, usize, usize),
        lhs: Mat,
        rhs: Mat,
        scale: f32,
        accumulate: bool,
    ) -> bool {
        let (Some((ta, lda)), Some((tb, ldb))) = (as_blas(&lhs, m, k), as_blas(&rhs, k, n)) else {
            return false;
        };
        let fits = |x: usize| c_int::try_from(x).is_ok();
        if ![m, n, k, lda, ldb, dst_rs].into_iter().all(fits) || dst_rs < n {
            return false;
        }
        // SAFETY: `gemm_into` checked that dst holds the m × n block with row stride dst_rs and
        // that every element of both views lies inside its slice; the leading dimensions were
        // checked against BLAS's minimums above, so it reads exactly those elements.
        unsafe {
            cblas_sgemm(
                ROW_MAJOR,
                ta,
                tb,
                m as c_int,
                n as c_int,
                k as c_int,
                scale,
                lhs.data.as_ptr().add(lhs.offset),
                lda as c_int,
                rhs.data.as_ptr().add(rhs.offset),
                ldb as c_int,
                if accumulate { 1.0 } else { 0.0 },
                dst.as_mut_ptr(),
                dst_rs as c_int,
            );
        }
        true
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

    /// Under `openblas`, `Threads::All` goes to OpenBLAS and `Threads::One` to the `gemm` crate:
    /// both must agree on every layout the kernels use (plain and transposed views, offsets,
    /// padded rows, accumulation).
    #[cfg(feature = "openblas")]
    #[test]
    fn openblas_and_gemm_agree_on_every_view() {
        let (m, n, k) = (37, 29, 45);
        let data: Vec<f32> = (0..4000)
            .map(|i| ((i * 7919) % 201) as f32 / 100.0 - 1.0)
            .collect();
        let views = |rows: usize, cols: usize| {
            // A plain view with padded rows and an offset, and a transposed one.
            [
                Mat::rows(&data, 3, cols + 5),
                Mat::transposed(&data, 11, rows + 2),
            ]
        };
        for lhs in views(m, k) {
            for rhs in views(k, n) {
                for accumulate in [false, true] {
                    let start: Vec<f32> = (0..m * (n + 3)).map(|i| (i % 13) as f32).collect();
                    let (mut blas, mut reference) = (start.clone(), start);
                    gemm_into(
                        &mut blas,
                        n + 3,
                        (m, n, k),
                        lhs,
                        rhs,
                        0.5,
                        accumulate,
                        Threads::All,
                    );
                    gemm_into(
                        &mut reference,
                        n + 3,
                        (m, n, k),
                        lhs,
                        rhs,
                        0.5,
                        accumulate,
                        Threads::One,
                    );
                    let worst = blas
                        .iter()
                        .zip(&reference)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0f32, f32::max);
                    assert!(worst < 1e-4, "accumulate {accumulate}: {worst}");
                }
            }
        }
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
