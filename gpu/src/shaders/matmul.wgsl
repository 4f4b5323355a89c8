// y[m, col0 + o] = Σ_k x[m, k] · W[o, k] for m < n, o < rows: a tiled GEMM for many input rows
// (prompt prefill). Each 64-thread workgroup owns a 32×32 output tile and walks k in steps of
// 32: it stages the x tile and the *dequantized* W tile in workgroup memory, so every weight
// block is decoded once per tile instead of once per multiply, then each thread accumulates a
// 4×4 micro-tile. The weight format's `load_w8` (a `weight_*.wgsl` file) is prepended.

struct Params {
    n: u32,        // input rows
    k: u32,        // inner dimension
    rows: u32,     // weight rows in this buffer (one chunk of W)
    y_stride: u32, // row stride of y (all output columns of W, across chunks)
    y_col0: u32,   // first output column of this chunk
    groups_x: u32, // workgroups per grid row (the grid is folded into 2D)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> xs: array<f32, 1024>; // [32 rows of x][32 k]
var<workgroup> ws: array<f32, 1024>; // [32 rows of W][32 k]

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let tile = wid.x + wid.y * p.groups_x;
    let tiles_o = (p.rows + 31u) / 32u;
    let m0 = (tile / tiles_o) * 32u;
    let o0 = (tile % tiles_o) * 32u;
    // Uniform per workgroup (depends on the workgroup id only), so returning keeps the barriers
    // below in uniform control flow.
    if (m0 >= p.n) {
        return;
    }
    let ty = t / 8u; // micro-tile row block: x rows m0 + 4ty .. +4
    let tx = t % 8u; // micro-tile column block: W rows o0 + 4tx .. +4
    var acc: array<f32, 16>;
    for (var kb = 0u; kb < p.k; kb += 32u) {
        for (var i = 0u; i < 16u; i++) {
            let e = t + 64u * i;
            let r = m0 + e / 32u;
            let c = kb + e % 32u;
            var v = 0.0;
            if (r < p.n && c < p.k) {
                v = x[r * p.k + c];
            }
            xs[e] = v;
        }
        for (var i = 0u; i < 2u; i++) {
            let g = t + 64u * i;     // 128 groups of 8 weights
            let r = g / 4u;
            let c8 = (g % 4u) * 8u;
            var v: array<f32, 8>;
            if (o0 + r < p.rows) {
                v = load_w8(o0 + r, kb + c8, p.k);
            }
            for (var q = 0u; q < 8u; q++) {
                ws[r * 32u + c8 + q] = v[q];
            }
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 32u; kk++) {
            var a: array<f32, 4>;
            var b: array<f32, 4>;
            for (var i = 0u; i < 4u; i++) {
                a[i] = xs[(4u * ty + i) * 32u + kk];
                b[i] = ws[(4u * tx + i) * 32u + kk];
            }
            for (var i = 0u; i < 4u; i++) {
                for (var j = 0u; j < 4u; j++) {
                    acc[i * 4u + j] = fma(a[i], b[j], acc[i * 4u + j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i++) {
        let r = m0 + 4u * ty + i;
        for (var j = 0u; j < 4u; j++) {
            let o = o0 + 4u * tx + j;
            if (r < p.n && o < p.rows) {
                y[r * p.y_stride + p.y_col0 + o] = acc[i * 4u + j];
            }
        }
    }
}
