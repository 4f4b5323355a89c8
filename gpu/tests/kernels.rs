//! Every kernel against a plain CPU reference on seeded random inputs, including odd sizes, the
//! row-chunk split path and 2D dispatch grids (forced with small pretend limits).
//! Quantized matmuls are compared with candle's own dequantize + f32 matmul of the same blocks.

mod common;

use alro_gpu::{attention_partials_len, Batch, GpuContext, GpuWeight, RopeLayout, WeightType};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use common::*;

/// Runs y = x·Wᵀ (and y += x·Wᵀ) on the GPU with W quantized to `dtype` from random values, and compares with
/// candle: |y − y_ref| ≤ 1e-4 · (1 + Σ_k |x_k w_k|). The bound is f32 rounding of a k-term sum
/// in a different order (a few ulp of the absolute sum), with margin.
fn check_matmul(ctx: &GpuContext, dtype: GgmlDType, n: usize, rows: usize, k: usize, seed: u64) {
    let mut r = rng(seed);
    let w = Tensor::from_vec(random(&mut r, rows * k, 1.0), (rows, k), &Device::Cpu).unwrap();
    let q = QTensor::quantize(&w, dtype).unwrap();
    let blocks = q.data().unwrap().into_owned();
    let w_ref = q.dequantize(&Device::Cpu).unwrap();
    let x_data = random(&mut r, n * k, 1.0);
    let x = Tensor::from_vec(x_data.clone(), (n, k), &Device::Cpu).unwrap();
    let y_ref: Vec<f32> = x
        .matmul(&w_ref.t().unwrap())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();
    let abs: Vec<f32> = x
        .abs()
        .unwrap()
        .matmul(&w_ref.abs().unwrap().t().unwrap())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap();

    let wtype = WeightType::from_ggml(dtype).unwrap();
    let weight = GpuWeight::upload(ctx, "w", wtype, rows, k, &blocks).unwrap();
    let xb = ctx.storage_f32("x", &x_data).unwrap();
    let yb = ctx.storage_zeros("y", n * rows).unwrap();
    let mut b = Batch::new(ctx);
    b.matmul(&weight, &xb, n, &yb).unwrap();
    b.submit().unwrap();
    let y = pollster::block_on(ctx.read_f32(&yb, n * rows)).unwrap();
    for i in 0..n * rows {
        let tol = 1e-4 * (1.0 + abs[i]);
        assert!(
            (y[i] - y_ref[i]).abs() <= tol,
            "{dtype:?} n={n} rows={rows} k={k}: y[{}, {}] = {} vs candle {} (tol {tol}, {} chunks)",
            i / rows,
            i % rows,
            y[i],
            y_ref[i],
            weight.chunks.len()
        );
    }
    // matmul_add: the same product added onto what y holds (a residual connection).
    let residual = random(&mut r, n * rows, 4.0);
    let yb = ctx.storage_f32("y", &residual).unwrap();
    let mut b = Batch::new(ctx);
    b.matmul_add(&weight, &xb, n, &yb).unwrap();
    b.submit().unwrap();
    let y = pollster::block_on(ctx.read_f32(&yb, n * rows)).unwrap();
    for i in 0..n * rows {
        let tol = 1e-4 * (1.0 + abs[i] + residual[i].abs());
        let want = residual[i] + y_ref[i];
        assert!(
            (y[i] - want).abs() <= tol,
            "{dtype:?} n={n} rows={rows} k={k}: accumulated y[{i}] = {} vs {want}",
            y[i]
        );
    }
}

/// Input-row counts covering the matrix-vector kernel (≤ 8) and the tiled one, with ragged tiles.
const NS: [usize; 5] = [1, 3, 8, 9, 40];

#[test]
fn matmul_f32_odd_sizes() {
    let Some(ctx) = ctx() else { return };
    for (i, n) in NS.into_iter().enumerate() {
        check_matmul(&ctx, GgmlDType::F32, n, 45, 37, i as u64);
    }
    check_matmul(&ctx, GgmlDType::F32, 33, 7, 1, 99);
}

#[test]
fn matmul_q8_0() {
    let Some(ctx) = ctx() else { return };
    for (i, n) in NS.into_iter().enumerate() {
        // k = 96: three 34-byte blocks per row, so rows start at every byte alignment mod 4.
        check_matmul(&ctx, GgmlDType::Q8_0, n, 45, 96, 10 + i as u64);
    }
}

#[test]
fn matmul_q4_0() {
    let Some(ctx) = ctx() else { return };
    for (i, n) in NS.into_iter().enumerate() {
        check_matmul(&ctx, GgmlDType::Q4_0, n, 45, 96, 20 + i as u64);
    }
}

#[test]
fn matmul_q4_1() {
    let Some(ctx) = ctx() else { return };
    for (i, n) in NS.into_iter().enumerate() {
        check_matmul(&ctx, GgmlDType::Q4_1, n, 45, 96, 30 + i as u64);
    }
}

#[test]
fn matmul_q4_k() {
    let Some(ctx) = ctx() else { return };
    for (i, n) in NS.into_iter().enumerate() {
        check_matmul(&ctx, GgmlDType::Q4K, n, 45, 512, 40 + i as u64);
    }
}

#[test]
fn matmul_split_into_row_chunks_and_2d_grids() {
    // 16 KiB pretend limit: a 300-row Q4_0 weight of k = 256 (43 200 bytes) becomes 3 chunks;
    // at most 8 workgroups per grid dimension forces 2D grids.
    let Some(ctx) = small_ctx(16384, 8) else {
        return;
    };
    for (i, dtype) in [
        GgmlDType::Q4_0,
        GgmlDType::Q8_0,
        GgmlDType::Q4_1,
        GgmlDType::Q4K,
    ]
    .into_iter()
    .enumerate()
    {
        for n in [1, 9] {
            check_matmul(&ctx, dtype, n, 300, 256, 50 + i as u64);
        }
    }
    let w = vec![0u8; 300 * WeightType::Q4_0.row_bytes(256)];
    let g = GpuWeight::upload(&ctx, "w", WeightType::Q4_0, 300, 256, &w).unwrap();
    assert_eq!(g.chunks.len(), 3);
    assert!(g.chunks.iter().all(|c| c.buffer.size() <= 16384));
}

#[test]
fn a_row_larger_than_the_limit_is_a_clear_error() {
    let Some(ctx) = small_ctx(1024, 65535) else {
        return;
    };
    let w = vec![0u8; 2 * 1024 * 4];
    let e = GpuWeight::upload(&ctx, "big", WeightType::F32, 2, 1024, &w).unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("big") && m.contains("4096") && m.contains("1024"),
        "{m}"
    );
}

#[test]
fn embedding_rows_from_quantized_chunks() {
    // 2 KiB pretend limit: 200 rows of 64 split into 4 (Q4_0), 7 (Q8_0) or 29 (F32) chunks.
    let Some(ctx) = small_ctx(2048, 3) else {
        return;
    };
    let (vocab, k) = (200, 64);
    let mut r = rng(7);
    let e = Tensor::from_vec(random(&mut r, vocab * k, 1.0), (vocab, k), &Device::Cpu).unwrap();
    for dtype in [GgmlDType::Q4_0, GgmlDType::F32, GgmlDType::Q8_0] {
        let q = QTensor::quantize(&e, dtype).unwrap();
        let table: Vec<f32> = q
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let wt = WeightType::from_ggml(dtype).unwrap();
        let w = GpuWeight::upload(&ctx, "embed", wt, vocab, k, &q.data().unwrap()).unwrap();
        assert!(
            w.chunks.len() > 1,
            "{dtype:?}: the test must exercise the split"
        );
        let ids: Vec<u32> = vec![0, 199, 17, 17, 3, 120, 57];
        let idb = ctx.storage_u32("ids", &ids).unwrap();
        let out = ctx.storage_zeros("out", ids.len() * k).unwrap();
        let mut b = Batch::new(&ctx);
        b.embedding(&w, &idb, ids.len(), &out).unwrap();
        b.submit().unwrap();
        let got = pollster::block_on(ctx.read_f32(&out, ids.len() * k)).unwrap();
        let want: Vec<f32> = ids
            .iter()
            .flat_map(|&i| table[i as usize * k..(i as usize + 1) * k].to_vec())
            .collect();
        assert!(max_abs_diff(&got, &want) <= 1e-6, "{dtype:?}");
    }
}

#[test]
fn rms_norm_matches_reference() {
    let Some(ctx) = small_ctx(1 << 20, 3) else {
        return;
    };
    for (rows, dim) in [(5, 37), (3, 576), (1, 1)] {
        let mut r = rng(dim as u64);
        let x = random(&mut r, rows * dim, 3.0);
        let w: Vec<f32> = random(&mut r, dim, 0.5).iter().map(|v| v + 1.0).collect();
        let eps = 1e-5f32;
        let want: Vec<f32> = x
            .chunks(dim)
            .flat_map(|row| {
                let ms = row.iter().map(|v| v * v).sum::<f32>() / dim as f32;
                let root = (ms + eps).sqrt();
                row.iter()
                    .zip(&w)
                    .map(move |(v, g)| v / root * g)
                    .collect::<Vec<_>>()
            })
            .collect();
        let (xb, wb) = (
            ctx.storage_f32("x", &x).unwrap(),
            ctx.storage_f32("w", &w).unwrap(),
        );
        let yb = ctx.storage_zeros("y", rows * dim).unwrap();
        let mut b = Batch::new(&ctx);
        b.rms_norm(&xb, &wb, &yb, rows, dim, eps).unwrap();
        b.submit().unwrap();
        let got = pollster::block_on(ctx.read_f32(&yb, rows * dim)).unwrap();
        let d = max_abs_diff(&got, &want);
        assert!(d <= 1e-5, "rows={rows} dim={dim}: max diff {d}");
    }
}

/// Plain rotary reference, both layouts (alro-core's `ops::composed::rope`, as loops).
fn rope_ref(
    x: &[f32],
    cos: &[f32],
    sin: &[f32],
    heads: usize,
    hd: usize,
    layout: RopeLayout,
) -> Vec<f32> {
    let half = hd / 2;
    let mut y = x.to_vec();
    for (row, chunk) in y.chunks_mut(hd).enumerate() {
        let tok = row / heads;
        for i in 0..half {
            let (a, b) = match layout {
                RopeLayout::Interleaved => (2 * i, 2 * i + 1),
                RopeLayout::HalfSplit => (i, i + half),
            };
            let (c, s) = (cos[tok * half + i], sin[tok * half + i]);
            let (x0, x1) = (chunk[a], chunk[b]);
            chunk[a] = x0 * c - x1 * s;
            chunk[b] = x0 * s + x1 * c;
        }
    }
    y
}

#[test]
fn rope_both_layouts() {
    let Some(ctx) = small_ctx(1 << 20, 2) else {
        return;
    };
    let (n, heads, hd, start) = (5, 3, 16, 700);
    let inv: Vec<f32> = (0..hd / 2)
        .map(|i| 1.0 / 10000f32.powf(2.0 * i as f32 / hd as f32))
        .collect();
    let (cos, sin) = alro_gpu::rope_tables(&inv, start, n);
    let x = random(&mut rng(3), n * heads * hd, 1.0);
    for layout in [RopeLayout::Interleaved, RopeLayout::HalfSplit] {
        let want = rope_ref(&x, &cos, &sin, heads, hd, layout);
        let xb = ctx.storage_f32("x", &x).unwrap();
        let (cb, sb) = (
            ctx.storage_f32("cos", &cos).unwrap(),
            ctx.storage_f32("sin", &sin).unwrap(),
        );
        let mut b = Batch::new(&ctx);
        b.rope(&xb, &cb, &sb, n, heads, hd, layout).unwrap();
        b.submit().unwrap();
        let got = pollster::block_on(ctx.read_f32(&xb, x.len())).unwrap();
        let d = max_abs_diff(&got, &want);
        assert!(d <= 1e-6, "{layout:?}: max diff {d}");
        assert!(max_abs_diff(&got, &x) > 0.1, "{layout:?}: nothing rotated");
    }
}

/// Causal grouped-query attention, in f64: query i (absolute position start + i) of head h
/// attends to keys 0..=start+i of kv head h / (heads / kv_heads).
#[allow(clippy::too_many_arguments)]
fn attention_ref(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    n: usize,
    start: usize,
    heads: usize,
    kvh: usize,
    hd: usize,
) -> Vec<f32> {
    let mut out = vec![0f32; n * heads * hd];
    let scale = 1.0 / (hd as f64).sqrt();
    for i in 0..n {
        for h in 0..heads {
            let g = h / (heads / kvh);
            let qv = &q[(i * heads + h) * hd..][..hd];
            let t = start + i + 1;
            let scores: Vec<f64> = (0..t)
                .map(|j| {
                    let kv = &k[(j * kvh + g) * hd..][..hd];
                    qv.iter()
                        .zip(kv)
                        .map(|(a, b)| *a as f64 * *b as f64)
                        .sum::<f64>()
                        * scale
                })
                .collect();
            let m = scores.iter().cloned().fold(f64::MIN, f64::max);
            let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
            let z: f64 = e.iter().sum();
            for d in 0..hd {
                let acc: f64 = (0..t)
                    .map(|j| e[j] * v[(j * kvh + g) * hd + d] as f64)
                    .sum();
                out[(i * heads + h) * hd + d] = (acc / z) as f32;
            }
        }
    }
    out
}

#[test]
fn attention_causal_gqa_over_cache() {
    let Some(ctx) = small_ctx(1 << 20, 7) else {
        return;
    };
    // (n, start, heads, kv_heads, head_dim): prefill from empty, prefill after a cache, decode
    // over more than one 64-key chunk, head_dim above 64 and not a multiple of it, MHA, a split
    // whose last key range is empty for the first query, and a cache long enough that the
    // number of ranges is capped.
    for (n, start, heads, kvh, hd) in [
        (7, 0, 6, 2, 40),
        (5, 3, 4, 4, 16),
        (1, 150, 9, 3, 64),
        (3, 70, 2, 1, 130),
        (2, 127, 2, 1, 16),
        (1, 2500, 1, 1, 16),
        (4, 190, 2, 2, 8),
    ] {
        let mut r = rng((n * 1000 + start) as u64);
        let t = start + n;
        let q = random(&mut r, n * heads * hd, 1.0);
        let k = random(&mut r, t * kvh * hd, 1.0);
        let v = random(&mut r, t * kvh * hd, 1.0);
        let want = attention_ref(&q, &k, &v, n, start, heads, kvh, hd);
        let qb = ctx.storage_f32("q", &q).unwrap();
        // The cache is larger than needed, as while decoding a sequence.
        let mut kpad = k.clone();
        kpad.extend(random(&mut r, 5 * kvh * hd, 100.0));
        let mut vpad = v.clone();
        vpad.extend(random(&mut r, 5 * kvh * hd, 100.0));
        let kb = ctx.storage_f32("k", &kpad).unwrap();
        let vb = ctx.storage_f32("v", &vpad).unwrap();
        // Without partials one workgroup walks all keys; with them the keys are split into
        // ranges and merged (these shapes are all small enough to split); a buffer with room
        // for only two ranges per (query, head) splits less, with the same result.
        assert!(attention_partials_len(n, heads, hd) > 0);
        let partials = ctx
            .storage_zeros("partials", attention_partials_len(n, heads, hd))
            .unwrap();
        let two = ctx
            .storage_zeros("partials", n * heads * 2 * (hd + 2))
            .unwrap();
        for split in [None, Some(&partials), Some(&two)] {
            let ob = ctx.storage_zeros("o", q.len()).unwrap();
            let mut b = Batch::new(&ctx);
            b.attention(&qb, &kb, &vb, &ob, split, n, start, heads, kvh, hd)
                .unwrap();
            b.submit().unwrap();
            let got = pollster::block_on(ctx.read_f32(&ob, q.len())).unwrap();
            let d = max_abs_diff(&got, &want);
            assert!(
                d <= 1e-5,
                "n={n} start={start} heads={heads}/{kvh} hd={hd} split={}: max diff {d}",
                split.is_some()
            );
        }
    }
}

#[test]
fn silu_mul_and_add() {
    let Some(ctx) = small_ctx(1 << 20, 4) else {
        return;
    };
    let len = 1000;
    let mut r = rng(11);
    let mut g = random(&mut r, len, 8.0);
    g[0] = -200.0; // exp overflows: silu must give -0, not NaN
    let u = random(&mut r, len, 2.0);
    let want: Vec<f32> = g
        .iter()
        .zip(&u)
        .map(|(g, u)| g / (1.0 + (-g).exp()) * u)
        .collect();
    let (gb, ub) = (
        ctx.storage_f32("g", &g).unwrap(),
        ctx.storage_f32("u", &u).unwrap(),
    );
    let mut b = Batch::new(&ctx);
    b.silu_mul(&gb, &ub, len).unwrap();
    b.submit().unwrap();
    let got = pollster::block_on(ctx.read_f32(&gb, len)).unwrap();
    let d = max_abs_diff(&got, &want);
    assert!(
        d <= 1e-5 && got.iter().all(|v| v.is_finite()),
        "silu_mul: max diff {d}"
    );

    let mut b = Batch::new(&ctx);
    b.add(&gb, &ub, len).unwrap();
    b.submit().unwrap();
    let got = pollster::block_on(ctx.read_f32(&gb, len)).unwrap();
    let want: Vec<f32> = want.iter().zip(&u).map(|(a, b)| a + b).collect();
    assert!(max_abs_diff(&got, &want) <= 1e-6);
}

#[test]
fn a_dispatch_beyond_the_2d_grid_is_an_error() {
    let Some(ctx) = small_ctx(1 << 20, 3) else {
        return;
    };
    let x = ctx.storage_zeros("x", 64 * 10).unwrap();
    let e = Batch::new(&ctx).add(&x, &x.clone(), 64 * 10).unwrap_err();
    assert!(e.to_string().contains("10 workgroups"), "{e}");
}

#[test]
fn launches_with_wrong_sizes_are_errors_not_gpu_faults() {
    let Some(ctx) = ctx() else { return };
    let w = GpuWeight::upload(&ctx, "w", WeightType::F32, 4, 8, &[0u8; 4 * 8 * 4]).unwrap();
    let x = ctx.storage_zeros("x", 8).unwrap();
    let y = ctx.storage_zeros("y", 3).unwrap();
    let mut b = Batch::new(&ctx);
    assert!(b.matmul(&w, &x, 1, &y).is_err(), "output too small");
    assert!(
        b.matmul(&w, &x, 2, &ctx.storage_zeros("y", 8).unwrap())
            .is_err(),
        "input too small"
    );
    let e = b
        .attention(&x, &x, &x, &x, None, 1, 0, 3, 2, 2)
        .unwrap_err();
    assert!(e.to_string().contains("multiple"), "{e}");
}

#[test]
fn info_reports_the_adapter() {
    let Some(ctx) = ctx() else { return };
    let i = ctx.info();
    eprintln!("{i:?}");
    assert!(!i.adapter_name.is_empty());
    assert!(i.buffer_limit <= i.max_storage_buffer_binding_size);
}
