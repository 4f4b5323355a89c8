// y[m, col0 + o] = Σ_k x[m, k] · W[o, k] for few input rows (n ≤ 8: a decode step, the LM
// head). The tiled kernel would waste 31 of 32 x-rows there. Here each 64-thread workgroup
// takes 2 weight rows, 32 threads per row split k in groups of 8, every weight is decoded once
// and multiplied with all n rows of x, and the 32 partial sums are reduced in workgroup memory.
// A decode step is a chain of such launches, each too small to fill the GPU, so latency rules:
// 32 threads per row keep each thread's serial walk over k short (k/256 steps).
// The weight format's `load_w8` (a `weight_*.wgsl` file) is prepended.

struct Params {
    n: u32,        // input rows, at most 8
    k: u32,
    rows: u32,     // weight rows in this buffer (one chunk of W)
    y_stride: u32,
    y_col0: u32,
    groups_x: u32,
    accumulate: u32, // 1: y += x·Wᵀ (a residual connection), 0: y = x·Wᵀ
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const LANES: u32 = 32u; // threads per weight row

// Each thread's 8 running sums live in its own slots of workgroup memory: a private array
// indexed by the runtime row count would be spilled by software rasterizers anyway.
var<workgroup> partial: array<f32, 512>; // [64 threads][8 input rows]

// x[m, c .. c+8] as two vec4, zero past k.
fn x8(m: u32, c: u32) -> W8 {
    let b = m * p.k + c;
    if (c + 8u <= p.k) {
        return W8(vec4<f32>(x[b], x[b + 1u], x[b + 2u], x[b + 3u]),
                  vec4<f32>(x[b + 4u], x[b + 5u], x[b + 6u], x[b + 7u]));
    }
    var v = W8(vec4<f32>(0.0), vec4<f32>(0.0));
    for (var i = 0u; i < 4u; i++) {
        if (c + i < p.k) {
            v.lo[i] = x[b + i];
        }
        if (c + 4u + i < p.k) {
            v.hi[i] = x[b + 4u + i];
        }
    }
    return v;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let o = (wid.x + wid.y * p.groups_x) * (64u / LANES) + t / LANES;
    let lane = t % LANES;
    for (var m = 0u; m < 8u; m++) {
        partial[t * 8u + m] = 0.0;
    }
    if (o < p.rows) {
        if (p.n == 1u) {
            // Decode: one input row, a register accumulator.
            var acc = 0.0;
            for (var g = lane * 8u; g < p.k; g += LANES * 8u) {
                let v = load_w8(o, g, p.k);
                let xv = x8(0u, g);
                acc += dot(v.lo, xv.lo) + dot(v.hi, xv.hi);
            }
            partial[t * 8u] = acc;
        } else {
            for (var g = lane * 8u; g < p.k; g += LANES * 8u) {
                let v = load_w8(o, g, p.k);
                for (var m = 0u; m < p.n; m++) {
                    let xv = x8(m, g);
                    partial[t * 8u + m] += dot(v.lo, xv.lo) + dot(v.hi, xv.hi);
                }
            }
        }
    }
    // Tree reduction over the row's lanes (every thread reaches every barrier).
    for (var w = LANES / 2u; w > 0u; w >>= 1u) {
        workgroupBarrier();
        if (lane < w) {
            for (var m = 0u; m < p.n; m++) {
                partial[t * 8u + m] += partial[(t + w) * 8u + m];
            }
        }
    }
    if (lane == 0u && o < p.rows) {
        for (var m = 0u; m < p.n; m++) {
            let at = m * p.y_stride + p.y_col0 + o;
            y[at] = select(partial[t * 8u + m], y[at] + partial[t * 8u + m], p.accumulate == 1u);
        }
    }
}
