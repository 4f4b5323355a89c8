// y[m, col0 + o] = Σ_k x[m, k] · W[o, k] for few input rows (n ≤ 8: a decode step, the LM
// head). The tiled kernel would waste 31 of 32 x-rows there; here each 64-thread workgroup
// takes 8 weight rows, 8 threads per row split k in groups of 8, every weight is decoded once
// and multiplied with all n rows of x, and the 8 partial sums are reduced in workgroup memory.
// The weight format's `load_w8` (a `weight_*.wgsl` file) is prepended.

struct Params {
    n: u32,        // input rows, at most 8
    k: u32,
    rows: u32,     // weight rows in this buffer (one chunk of W)
    y_stride: u32,
    y_col0: u32,
    groups_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, 512>; // [64 threads][8 input rows]

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let o = (wid.x + wid.y * p.groups_x) * 8u + t / 8u;
    let lane = t % 8u;
    var acc: array<f32, 8>;
    if (o < p.rows) {
        for (var g = lane * 8u; g < p.k; g += 64u) {
            let v = load_w8(o, g, p.k);
            for (var m = 0u; m < p.n; m++) {
                for (var q = 0u; q < 8u; q++) {
                    if (g + q < p.k) {
                        acc[m] = fma(v[q], x[m * p.k + g + q], acc[m]);
                    }
                }
            }
        }
    }
    for (var m = 0u; m < 8u; m++) {
        partial[t * 8u + m] = acc[m];
    }
    workgroupBarrier();
    if (lane == 0u && o < p.rows) {
        for (var m = 0u; m < p.n; m++) {
            var s = 0.0;
            for (var l = 0u; l < 8u; l++) {
                s += partial[(t + l) * 8u + m];
            }
            y[m * p.y_stride + p.y_col0 + o] = s;
        }
    }
}
