//! One weight row of a 32-weight GGML block type (Q4_0, Q4_1, Q8_0) times an f32 vector, in one
//! fixed order of float operations, written three times: portable Rust (the definition), AVX2 and
//! wasm SIMD128. All three perform the same IEEE multiplications and additions in the same order,
//! so they return the same bits (tests compare the SIMD kernel with the portable one here, and
//! `tests/wasm_determinism` compares a digest computed in wasm32 with the native one).
//!
//! The order, for a row of blocks `b` with scale `d_b` (Q4_1 also an offset `m_b`), quant values
//! `q` (as exact small floats) and `x_b` the 32 inputs under block `b`:
//!
//! ```text
//! t[i]   = ((q[i]·x_b[i] + q[8+i]·x_b[8+i]) + q[16+i]·x_b[16+i]) + q[24+i]·x_b[24+i]   i < 8
//! acc[i] = acc[i] + d_b·t[i]                                   (eight lanes, from 0, b ascending)
//! mt     = mt + m_b·xsum[b]                                    (Q4_1 only, b ascending)
//! row    = (((acc0+acc4) + (acc1+acc5)) + ((acc2+acc6) + (acc3+acc7))) + mt
//! ```
//!
//! Why this order: eight lanes map onto one AVX2 register or two SIMD128 registers, each block
//! costs one scaling multiply-add per lane, and the lanes are summed once per row instead of once
//! per block. No fused multiply-add anywhere: wasm has none, and Rust never fuses on its own.

use half::f16;

/// Weights per block.
pub const BLOCK: usize = 32;
/// Bytes of one block: `d` (f16) [+ `m` (f16)] then the quants.
pub const Q4_0_BYTES: usize = 18;
pub const Q4_1_BYTES: usize = 20;
pub const Q8_0_BYTES: usize = 34;

/// A rows kernel: `rows` holds `out.len()` consecutive weight rows of `x.len()` weights each;
/// `xsum` the per-block sums of `x`; writes each row's Σ w·x to `out`.
pub type RowsDot = fn(&[u8], &[f32], &[f32], &mut [f32]);

/// The fastest kernel this build has for each type (all give the same bits).
pub fn q4_0() -> RowsDot {
    simd::Q4_0.unwrap_or(portable::q4_0)
}
pub fn q4_1() -> RowsDot {
    simd::Q4_1.unwrap_or(portable::q4_1)
}
pub fn q8_0() -> RowsDot {
    simd::Q8_0.unwrap_or(portable::q8_0)
}

fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// The fixed lane combination of the module docs.
#[inline(always)]
fn combine(acc: [f32; 8]) -> f32 {
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

/// Bytes per row for `x`, after checking that `rows` holds whole rows for `out` and `x`.
fn row_bytes(rows: &[u8], x: &[f32], out: &[f32], block_bytes: usize) -> usize {
    let row_bytes = x.len() / BLOCK * block_bytes;
    assert!(x.len() % BLOCK == 0 && rows.len() == out.len() * row_bytes);
    row_bytes
}

/// The public kernels of a SIMD module and their row-group driver, over its `rows`,
/// `nibble_groups`, `byte_groups` and `Groups` (written once here, instantiated with each
/// module's vector types).
#[cfg_attr(
    not(any(
        all(
            target_arch = "x86_64",
            target_feature = "avx2",
            target_feature = "f16c"
        ),
        all(target_arch = "wasm32", target_feature = "simd128")
    )),
    allow(unused_macros)
)]
macro_rules! simd_kernels {
    () => {
        pub const Q4_0: Option<RowsDot> = Some(q4_0);
        pub const Q4_1: Option<RowsDot> = Some(q4_1);
        pub const Q8_0: Option<RowsDot> = Some(q8_0);

        /// Runs a kernel over rows in groups of four (the SIMD kernels interleave four rows so
        /// that several loads are in flight and each `x` load serves four rows), then the rest
        /// one by one. Each row's own operations are the same whichever group it is in.
        #[inline(always)]
        fn in_fours(
            rows: &[u8],
            row_bytes: usize,
            out: &mut [f32],
            four: impl Fn(&[u8], &mut [f32; 4]),
            one: impl Fn(&[u8], &mut [f32; 1]),
        ) {
            let done = out.len() / 4 * 4;
            let mut groups = out.chunks_exact_mut(4);
            for (g, y) in (&mut groups).enumerate() {
                let y: &mut [f32; 4] = y.try_into().expect("chunks of four");
                four(&rows[4 * g * row_bytes..4 * (g + 1) * row_bytes], y);
            }
            for (i, y) in groups.into_remainder().iter_mut().enumerate() {
                let at = (done + i) * row_bytes;
                one(
                    &rows[at..at + row_bytes],
                    std::slice::from_mut(y).try_into().expect("one"),
                );
            }
        }

        /// `rows` over every row of `rows_in`, four at a time.
        fn all_rows(
            rows_in: &[u8],
            (x, xsum): (&[f32], &[f32]),
            out: &mut [f32],
            (block_bytes, with_m): (usize, bool),
            quants: impl Fn(*const u8) -> Groups + Copy,
        ) {
            let n = row_bytes(rows_in, x, out, block_bytes);
            // SAFETY: see `rows`; `row_bytes` checked the lengths, and each `quants` below reads
            // only inside the block it is given.
            in_fours(
                rows_in,
                n,
                out,
                |r, y| unsafe { rows(r, block_bytes, with_m, quants, x, xsum, y) },
                |r, y| unsafe { rows(r, block_bytes, with_m, quants, x, xsum, y) },
            );
        }

        /// Q4_0: 18-byte blocks, quants the 16 bytes at offset 2, offset 8.
        pub fn q4_0(rows_in: &[u8], x: &[f32], xsum: &[f32], out: &mut [f32]) {
            let quants = |p: *const u8| unsafe { nibble_groups(p.add(2), 8) };
            all_rows(rows_in, (x, xsum), out, (Q4_0_BYTES, false), quants);
        }

        /// Q4_1: 20-byte blocks, `m` at byte 2, quants the 16 bytes at offset 4.
        pub fn q4_1(rows_in: &[u8], x: &[f32], xsum: &[f32], out: &mut [f32]) {
            let quants = |p: *const u8| unsafe { nibble_groups(p.add(4), 0) };
            all_rows(rows_in, (x, xsum), out, (Q4_1_BYTES, true), quants);
        }

        /// Q8_0: 34-byte blocks, quants the 32 signed bytes at offset 2.
        pub fn q8_0(rows_in: &[u8], x: &[f32], xsum: &[f32], out: &mut [f32]) {
            let quants = |p: *const u8| unsafe { byte_groups(p.add(2)) };
            all_rows(rows_in, (x, xsum), out, (Q8_0_BYTES, false), quants);
        }
    };
}

/// The definition: plain Rust, any target, one row at a time.
pub mod portable {
    use super::*;

    /// One block's `acc[i] += d·t[i]` for its 32 quant values `q`.
    #[inline(always)]
    fn accumulate(acc: &mut [f32; 8], d: f32, q: &[f32; BLOCK], x: &[f32]) {
        for i in 0..8 {
            let t = ((q[i] * x[i] + q[8 + i] * x[8 + i]) + q[16 + i] * x[16 + i])
                + q[24 + i] * x[24 + i];
            acc[i] += d * t;
        }
    }

    /// Low nibbles are weights 0..16 of a block, high nibbles 16..32 (GGML's Q4 layout).
    #[inline(always)]
    fn nibbles(qs: &[u8], offset: f32) -> [f32; BLOCK] {
        let mut q = [0f32; BLOCK];
        for j in 0..16 {
            q[j] = (qs[j] & 0x0f) as f32 - offset;
            q[j + 16] = (qs[j] >> 4) as f32 - offset;
        }
        q
    }

    fn row_q4_0(row: &[u8], x: &[f32]) -> f32 {
        let mut acc = [0f32; 8];
        for (b, blk) in row.chunks_exact(Q4_0_BYTES).enumerate() {
            let q = nibbles(&blk[2..], 8.0);
            accumulate(&mut acc, f16_at(blk, 0), &q, &x[b * BLOCK..]);
        }
        combine(acc)
    }

    fn row_q4_1(row: &[u8], x: &[f32], xsum: &[f32]) -> f32 {
        let (mut acc, mut mt) = ([0f32; 8], 0f32);
        for (b, blk) in row.chunks_exact(Q4_1_BYTES).enumerate() {
            let q = nibbles(&blk[4..], 0.0);
            accumulate(&mut acc, f16_at(blk, 0), &q, &x[b * BLOCK..]);
            mt += f16_at(blk, 2) * xsum[b];
        }
        combine(acc) + mt
    }

    fn row_q8_0(row: &[u8], x: &[f32]) -> f32 {
        let mut acc = [0f32; 8];
        for (b, blk) in row.chunks_exact(Q8_0_BYTES).enumerate() {
            let mut q = [0f32; BLOCK];
            for (v, &byte) in q.iter_mut().zip(&blk[2..]) {
                *v = byte as i8 as f32;
            }
            accumulate(&mut acc, f16_at(blk, 0), &q, &x[b * BLOCK..]);
        }
        combine(acc)
    }

    pub fn q4_0(rows: &[u8], x: &[f32], _xsum: &[f32], out: &mut [f32]) {
        let n = row_bytes(rows, x, out, Q4_0_BYTES);
        for (row, y) in rows.chunks_exact(n.max(1)).zip(out.iter_mut()) {
            *y = row_q4_0(row, x);
        }
    }

    pub fn q4_1(rows: &[u8], x: &[f32], xsum: &[f32], out: &mut [f32]) {
        let n = row_bytes(rows, x, out, Q4_1_BYTES);
        for (row, y) in rows.chunks_exact(n.max(1)).zip(out.iter_mut()) {
            *y = row_q4_1(row, x, xsum);
        }
    }

    pub fn q8_0(rows: &[u8], x: &[f32], _xsum: &[f32], out: &mut [f32]) {
        let n = row_bytes(rows, x, out, Q8_0_BYTES);
        for (row, y) in rows.chunks_exact(n.max(1)).zip(out.iter_mut()) {
            *y = row_q8_0(row, x);
        }
    }
}

#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "f16c"
))]
mod simd {
    //! AVX2: a row's eight lanes are one `__m256`; quants widen from bytes to i32 to f32.
    use super::*;
    use std::arch::x86_64::*;

    /// A block's quants as four groups of eight i32 lanes.
    type Groups = [__m256i; 4];
    simd_kernels!();

    /// How far ahead of the block being read its bytes are prefetched: without it the loads
    /// wait on memory (one thread, default backbone: a decode step took 47 ms without, 38–41 ms
    /// with 4 KiB; 1.5 KiB and 12 KiB did no better).
    const PREFETCH: usize = 12288;

    /// 16 bytes of nibbles → the four i32 groups of weights 0..8, 8..16, 16..24, 24..32.
    #[inline(always)]
    unsafe fn nibble_groups(qs: *const u8, offset: i8) -> [__m256i; 4] {
        let bytes = _mm_loadu_si128(qs.cast());
        let mask = _mm_set1_epi8(0x0f);
        let off = _mm_set1_epi8(offset);
        let lo = _mm_sub_epi8(_mm_and_si128(bytes, mask), off);
        let hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16::<4>(bytes), mask), off);
        [
            _mm256_cvtepi8_epi32(lo),
            _mm256_cvtepi8_epi32(_mm_srli_si128::<8>(lo)),
            _mm256_cvtepi8_epi32(hi),
            _mm256_cvtepi8_epi32(_mm_srli_si128::<8>(hi)),
        ]
    }

    /// 32 signed bytes → the four i32 groups.
    #[inline(always)]
    unsafe fn byte_groups(qs: *const u8) -> [__m256i; 4] {
        let group = |g: usize| _mm256_cvtepi8_epi32(_mm_loadl_epi64(qs.add(8 * g).cast()));
        [group(0), group(1), group(2), group(3)]
    }

    /// `N` rows at once in the module's order. `quants` decodes a block (given its first byte);
    /// `with_m`: the block has an offset `m` at byte 2 (Q4_1).
    ///
    /// SAFETY: AVX2 and F16C are enabled for this build (cfg above); `rows` holds `N` rows of
    /// `x.len() / 32` blocks of `block_bytes` (checked by `row_bytes`), and `quants` reads only
    /// inside the block it is given.
    #[inline(always)]
    unsafe fn rows<const N: usize>(
        rows: &[u8],
        block_bytes: usize,
        with_m: bool,
        quants: impl Fn(*const u8) -> Groups,
        x: &[f32],
        xsum: &[f32],
        out: &mut [f32; N],
    ) {
        let blocks = x.len() / BLOCK;
        let row_bytes = blocks * block_bytes;
        debug_assert_eq!(rows.len(), N * row_bytes);
        let (mut acc, mut mt) = ([_mm256_setzero_ps(); N], [0f32; N]);
        for b in 0..blocks {
            let xp = x.as_ptr().add(b * BLOCK);
            let xv = [0, 1, 2, 3].map(|g| _mm256_loadu_ps(xp.add(8 * g)));
            for r in 0..N {
                let blk = &rows[r * row_bytes + b * block_bytes..][..block_bytes];
                _mm_prefetch::<_MM_HINT_T0>(blk.as_ptr().wrapping_add(PREFETCH).cast());
                let q = quants(blk.as_ptr());
                let p = |g: usize| _mm256_mul_ps(_mm256_cvtepi32_ps(q[g]), xv[g]);
                let t = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(p(0), p(1)), p(2)), p(3));
                // d (and m) from the block's first four bytes, converted exactly by F16C into a
                // fresh register (no dependency on the previous block's values).
                let dm = _mm_cvtph_ps(_mm_cvtsi32_si128(i32::from_le_bytes([
                    blk[0], blk[1], blk[2], blk[3],
                ])));
                acc[r] = _mm256_add_ps(acc[r], _mm256_mul_ps(_mm256_broadcastss_ps(dm), t));
                if with_m {
                    let m = _mm_cvtss_f32(_mm_movehdup_ps(dm));
                    mt[r] += m * xsum[b];
                }
            }
        }
        for r in 0..N {
            let mut lanes = [0f32; 8];
            _mm256_storeu_ps(lanes.as_mut_ptr(), acc[r]);
            out[r] = if with_m {
                combine(lanes) + mt[r]
            } else {
                combine(lanes)
            };
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    //! SIMD128: a row's eight lanes are two `v128` of four (lanes 0..4 and 4..8).
    use super::*;
    use core::arch::wasm32::*;

    /// A block's quants as four groups of eight f32 lanes, each in two halves.
    type Groups = [[v128; 2]; 4];
    simd_kernels!();

    /// Eight i8 quants as two f32x4 (lanes 0..4, 4..8), from the low half of `bytes`.
    #[inline(always)]
    fn widen_low8(bytes: v128) -> [v128; 2] {
        let w = i16x8_extend_low_i8x16(bytes);
        [
            f32x4_convert_i32x4(i32x4_extend_low_i16x8(w)),
            f32x4_convert_i32x4(i32x4_extend_high_i16x8(w)),
        ]
    }

    #[inline(always)]
    fn upper(v: v128) -> v128 {
        i64x2_shuffle::<1, 1>(v, v)
    }

    #[inline(always)]
    unsafe fn nibble_groups(qs: *const u8, offset: i8) -> [[v128; 2]; 4] {
        let bytes = v128_load(qs.cast());
        let off = i8x16_splat(offset);
        let lo = i8x16_sub(v128_and(bytes, u8x16_splat(0x0f)), off);
        let hi = i8x16_sub(u8x16_shr(bytes, 4), off);
        [
            widen_low8(lo),
            widen_low8(upper(lo)),
            widen_low8(hi),
            widen_low8(upper(hi)),
        ]
    }

    #[inline(always)]
    unsafe fn byte_groups(qs: *const u8) -> [[v128; 2]; 4] {
        let first = v128_load(qs.cast());
        let second = v128_load(qs.add(16).cast());
        [
            widen_low8(first),
            widen_low8(upper(first)),
            widen_low8(second),
            widen_low8(upper(second)),
        ]
    }

    /// As the AVX2 `rows`, with each row's eight lanes in two halves.
    ///
    /// SAFETY: SIMD128 is enabled for this build; bounds as for the AVX2 kernel.
    #[inline(always)]
    unsafe fn rows<const N: usize>(
        rows: &[u8],
        block_bytes: usize,
        with_m: bool,
        quants: impl Fn(*const u8) -> Groups,
        x: &[f32],
        xsum: &[f32],
        out: &mut [f32; N],
    ) {
        let blocks = x.len() / BLOCK;
        let row_bytes = blocks * block_bytes;
        debug_assert_eq!(rows.len(), N * row_bytes);
        let (mut acc, mut mt) = ([[f32x4_splat(0.0); 2]; N], [0f32; N]);
        for b in 0..blocks {
            let xp = x.as_ptr().add(b * BLOCK);
            let xv: [v128; 8] = std::array::from_fn(|k| v128_load(xp.add(4 * k).cast()));
            for r in 0..N {
                let blk = &rows[r * row_bytes + b * block_bytes..][..block_bytes];
                let q = quants(blk.as_ptr());
                let d = f32x4_splat(f16_at(blk, 0));
                for h in 0..2 {
                    let p = |g: usize| f32x4_mul(q[g][h], xv[2 * g + h]);
                    let t = f32x4_add(f32x4_add(f32x4_add(p(0), p(1)), p(2)), p(3));
                    acc[r][h] = f32x4_add(acc[r][h], f32x4_mul(d, t));
                }
                if with_m {
                    mt[r] += f16_at(blk, 2) * xsum[b];
                }
            }
        }
        for r in 0..N {
            let [a, b] = acc[r];
            let lanes = [
                f32x4_extract_lane::<0>(a),
                f32x4_extract_lane::<1>(a),
                f32x4_extract_lane::<2>(a),
                f32x4_extract_lane::<3>(a),
                f32x4_extract_lane::<0>(b),
                f32x4_extract_lane::<1>(b),
                f32x4_extract_lane::<2>(b),
                f32x4_extract_lane::<3>(b),
            ];
            out[r] = if with_m {
                combine(lanes) + mt[r]
            } else {
                combine(lanes)
            };
        }
    }
}

#[cfg(not(any(
    all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "f16c"
    ),
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
mod simd {
    use super::RowsDot;
    pub const Q4_0: Option<RowsDot> = None;
    pub const Q4_1: Option<RowsDot> = None;
    pub const Q8_0: Option<RowsDot> = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pseudo-random rows of each type (finite scales of every magnitude, all quant values) and
    /// inputs; the SIMD kernel of this build must give the portable kernel's bits.
    #[test]
    fn simd_kernels_give_the_portable_bits() {
        let blocks = 48; // 1,536 weights: the backbone's widest row
        let mut state = 0x2545F4914F6CDD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let x: Vec<f32> = (0..blocks * BLOCK)
            .map(|_| (next() % 20001) as f32 / 1000.0 - 10.0)
            .collect();
        let xsum: Vec<f32> = x
            .chunks_exact(BLOCK)
            .map(|c| crate::model::matvec::dot(c, &[1f32; BLOCK]))
            .collect();
        for (bytes, simd, portable) in [
            (Q4_0_BYTES, q4_0(), portable::q4_0 as RowsDot),
            (Q4_1_BYTES, q4_1(), portable::q4_1),
            (Q8_0_BYTES, q8_0(), portable::q8_0),
        ] {
            // 7 rows per call: one group of four and three single rows.
            for _ in 0..30 {
                let mut rows: Vec<u8> = (0..7 * blocks * bytes).map(|_| next() as u8).collect();
                for blk in rows.chunks_exact_mut(bytes) {
                    let scale = f16::from_f32((next() % 2000) as f32 / 1000.0 - 1.0);
                    blk[..2].copy_from_slice(&scale.to_le_bytes());
                    if bytes == Q4_1_BYTES {
                        let m = f16::from_f32(-((next() % 1000) as f32) / 100.0);
                        blk[2..4].copy_from_slice(&m.to_le_bytes());
                    }
                }
                let (mut a, mut b) = ([0f32; 7], [0f32; 7]);
                simd(&rows, &x, &xsum, &mut a);
                portable(&rows, &x, &xsum, &mut b);
                assert_eq!(
                    a.map(f32::to_bits),
                    b.map(f32::to_bits),
                    "{bytes}-byte blocks: {a:?} vs {b:?}"
                );
            }
        }
    }
}
