// Causal grouped-query attention over a KV cache, softmax inside.
// q (n, heads, head_dim) holds the queries of absolute positions start .. start+n; the caches
// (capacity, kv_heads, head_dim) hold keys/values of positions 0 .. start+n (the new ones already
// written). Query head h reads kv head h / (heads / kv_heads), as alro-core groups them.
// One 64-thread workgroup per (query, head) walks the visible keys in chunks of 64 with an
// online softmax (running max and sum, rescaling the accumulator), so no score matrix is ever
// stored and any context length fits in workgroup memory. Each thread owns output dims
// t, t+64, t+128, t+192 (head_dim ≤ 256).
//
// Split mode (splits > 1, for decode steps: one query gives only `heads` workgroups, and each
// would walk the whole cache alone): workgroup (query, head, s) takes keys s·span .. (s+1)·span
// and writes its unnormalised partial [running max, running sum, acc[head_dim]] to `out`;
// attention_combine.wgsl merges the splits.

struct Params {
    n: u32,
    heads: u32,
    kv_heads: u32,
    head_dim: u32,
    start: u32,
    scale: f32,    // 1 / sqrt(head_dim)
    groups_x: u32,
    splits: u32,   // key ranges per (query, head); 1: no split, `out` is the final output
    span: u32,     // keys per range when split (a multiple of 64)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kc: array<f32>;
@group(0) @binding(3) var<storage, read> vc: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> qs: array<f32, 256>;
var<workgroup> probs: array<f32, 64>;
var<workgroup> red: array<f32, 64>;

// vc[b], vc[b + s], vc[b + 2s], vc[b + 3s]: one output dim of four consecutive keys.
fn v4(b: u32, s: u32) -> vec4<f32> {
    return vec4<f32>(vc[b], vc[b + s], vc[b + 2u * s], vc[b + 3u * s]);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let flat = wid.x + wid.y * p.groups_x;
    if (flat >= p.n * p.heads * p.splits) {
        return;
    }
    let split = flat % p.splits;
    let i = flat / p.splits / p.heads;
    let h = (flat / p.splits) % p.heads;
    let kvh = h / (p.heads / p.kv_heads);
    let hd = p.head_dim;
    let qbase = (i * p.heads + h) * hd;
    for (var d = t; d < hd; d += 64u) {
        qs[d] = q[qbase + d];
    }
    workgroupBarrier();

    let visible = p.start + i + 1u; // causal: keys 0 ..= start + i
    // This workgroup's keys lo .. hi (all visible ones unless split; possibly none).
    var lo = 0u;
    var hi = visible;
    if (p.splits > 1u) {
        lo = min(split * p.span, visible);
        hi = min(lo + p.span, visible);
    }
    let kv_stride = p.kv_heads * hd;
    // -1e30 instead of -inf: exp(m_old - m_new) must be 0, not NaN, on the first chunk.
    var m = -1e30;
    var l = 0.0;
    // Output dims t, t+64, t+128, t+192, as four scalars (not an indexed vector: see matmul).
    var acc0 = 0.0;
    var acc1 = 0.0;
    var acc2 = 0.0;
    var acc3 = 0.0;
    for (var j0 = lo; j0 < hi; j0 += 64u) {
        let j = j0 + t;
        var s = -1e30;
        if (j < hi) {
            let kb = j * kv_stride + kvh * hd;
            var acc = 0.0;
            var d = 0u;
            for (; d + 4u <= hd; d += 4u) {
                let qv = vec4<f32>(qs[d], qs[d + 1u], qs[d + 2u], qs[d + 3u]);
                let kv = vec4<f32>(kc[kb + d], kc[kb + d + 1u], kc[kb + d + 2u], kc[kb + d + 3u]);
                acc += dot(qv, kv);
            }
            for (; d < hd; d++) {
                acc = fma(qs[d], kc[kb + d], acc);
            }
            s = acc * p.scale;
        }
        red[t] = s;
        workgroupBarrier();
        for (var w = 32u; w > 0u; w >>= 1u) {
            if (t < w) {
                red[t] = max(red[t], red[t + w]);
            }
            workgroupBarrier();
        }
        let m_new = max(m, red[0]);
        workgroupBarrier();
        var pj = 0.0;
        if (j < hi) {
            pj = exp(s - m_new);
        }
        probs[t] = pj;
        red[t] = pj;
        workgroupBarrier();
        for (var w = 32u; w > 0u; w >>= 1u) {
            if (t < w) {
                red[t] += red[t + w];
            }
            workgroupBarrier();
        }
        let alpha = exp(m - m_new);
        l = l * alpha + red[0];
        m = m_new;
        acc0 *= alpha;
        acc1 *= alpha;
        acc2 *= alpha;
        acc3 *= alpha;
        let count = min(64u, hi - j0);
        // Eight keys per step, their value loads independent of each other: a decode step's
        // few workgroups wait on memory, and one load in flight per thread would serialise it.
        var jj = 0u;
        for (; jj + 8u <= count; jj += 8u) {
            let vb = (j0 + jj) * kv_stride + kvh * hd + t;
            let vb4 = vb + 4u * kv_stride;
            let pa = vec4<f32>(probs[jj], probs[jj + 1u], probs[jj + 2u], probs[jj + 3u]);
            let pb = vec4<f32>(probs[jj + 4u], probs[jj + 5u], probs[jj + 6u], probs[jj + 7u]);
            if (t < hd) {
                acc0 += dot(pa, v4(vb, kv_stride)) + dot(pb, v4(vb4, kv_stride));
            }
            if (t + 64u < hd) {
                acc1 += dot(pa, v4(vb + 64u, kv_stride)) + dot(pb, v4(vb4 + 64u, kv_stride));
            }
            if (t + 128u < hd) {
                acc2 += dot(pa, v4(vb + 128u, kv_stride)) + dot(pb, v4(vb4 + 128u, kv_stride));
            }
            if (t + 192u < hd) {
                acc3 += dot(pa, v4(vb + 192u, kv_stride)) + dot(pb, v4(vb4 + 192u, kv_stride));
            }
        }
        for (; jj < count; jj++) {
            let vb = (j0 + jj) * kv_stride + kvh * hd + t;
            let pr = probs[jj];
            if (t < hd) {
                acc0 = fma(pr, vc[vb], acc0);
            }
            if (t + 64u < hd) {
                acc1 = fma(pr, vc[vb + 64u], acc1);
            }
            if (t + 128u < hd) {
                acc2 = fma(pr, vc[vb + 128u], acc2);
            }
            if (t + 192u < hd) {
                acc3 = fma(pr, vc[vb + 192u], acc3);
            }
        }
        // Everyone has read probs and red[0] before the next chunk overwrites them.
        workgroupBarrier();
    }
    if (p.splits > 1u) {
        let pbase = flat * (hd + 2u); // flat = (query · heads + head) · splits + split
        if (t == 0u) {
            out[pbase] = m;
            out[pbase + 1u] = l;
        }
        let abase = pbase + 2u;
        if (t < hd) {
            out[abase + t] = acc0;
        }
        if (t + 64u < hd) {
            out[abase + t + 64u] = acc1;
        }
        if (t + 128u < hd) {
            out[abase + t + 128u] = acc2;
        }
        if (t + 192u < hd) {
            out[abase + t + 192u] = acc3;
        }
        return;
    }
    let obase = (i * p.heads + h) * hd;
    let r = 1.0 / l;
    if (t < hd) {
        out[obase + t] = acc0 * r;
    }
    if (t + 64u < hd) {
        out[obase + t + 64u] = acc1 * r;
    }
    if (t + 128u < hd) {
        out[obase + t + 128u] = acc2 * r;
    }
    if (t + 192u < hd) {
        out[obase + t + 192u] = acc3 * r;
    }
}
