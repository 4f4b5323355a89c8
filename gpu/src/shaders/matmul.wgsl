// y[m, col0 + o] = Σ_k x[m, k] · W[o, k] for m < n, o < rows: a tiled GEMM for many input rows
// (prompt prefill). Each 64-thread workgroup owns a 32×32 output tile and walks k in steps of
// 32: it stages the x tile and the *dequantized* W tile in workgroup memory, so every weight
// block is decoded once per tile instead of once per multiply, then each thread accumulates a
// 4×4 micro-tile as 32 outer products (one vec4 of x rows times one vec4 of W rows per k).
// The tiles are stored k-major, so the eight threads of a warp that read different W rows read
// adjacent addresses (row-major, they were a multiple of 32 floats apart: one bank, read 8
// times over). The weight format's `load_w8` (a `weight_*.wgsl` file) is prepended.

struct Params {
    n: u32,        // input rows
    k: u32,        // inner dimension
    rows: u32,     // weight rows in this buffer (one chunk of W)
    y_stride: u32, // row stride of y (all output columns of W, across chunks)
    y_col0: u32,   // first output column of this chunk
    groups_x: u32, // workgroups per grid row (the grid is folded into 2D)
    accumulate: u32, // 1: y += x·Wᵀ (a residual connection), 0: y = x·Wᵀ
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

// vec4 along k everywhere, and no private arrays indexed in loops: software rasterizers
// (lavapipe) spill dynamically indexed private arrays to memory, which made this kernel 50x
// slower than the explicit form below.
var<workgroup> xs: array<vec4<f32>, 256>; // [32 k][8 vec4 of x rows]
var<workgroup> ws: array<vec4<f32>, 256>; // [32 k][8 vec4 of W rows]

// x[r, c .. c+4], zero past the edges.
fn x4(r: u32, c: u32) -> vec4<f32> {
    if (r >= p.n) {
        return vec4<f32>(0.0);
    }
    let b = r * p.k;
    if (c + 4u <= p.k) {
        return vec4<f32>(x[b + c], x[b + c + 1u], x[b + c + 2u], x[b + c + 3u]);
    }
    var v = vec4<f32>(0.0);
    for (var i = 0u; i < 4u; i++) {
        if (c + i < p.k) {
            v[i] = x[b + c + i];
        }
    }
    return v;
}

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
    let ty = t / 8u; // x rows m0 + 4ty .. +4
    let tx = t % 8u; // W rows o0 + 4tx .. +4
    // acc_i[j] = y[m0 + 4ty + i, o0 + 4tx + j]
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var kb = 0u; kb < p.k; kb += 32u) {
        for (var i = 0u; i < 4u; i++) {
            let e = t + 64u * i; // 256 vec4 of x: row e / 8, k group e % 8
            let r = e / 8u;
            let c = (e % 8u) * 4u;
            let v = x4(m0 + r, kb + c);
            for (var j = 0u; j < 4u; j++) {
                xs[(c + j) * 8u + r / 4u][r % 4u] = v[j];
            }
        }
        for (var i = 0u; i < 2u; i++) {
            let g = t + 64u * i; // 128 groups of 8 weights: row g / 4, k group g % 4
            let r = g / 4u;
            let c = (g % 4u) * 8u;
            var v = W8(vec4<f32>(0.0), vec4<f32>(0.0));
            if (o0 + r < p.rows) {
                v = load_w8(o0 + r, kb + c, p.k);
            }
            for (var j = 0u; j < 4u; j++) {
                ws[(c + j) * 8u + r / 4u][r % 4u] = v.lo[j];
                ws[(c + 4u + j) * 8u + r / 4u][r % 4u] = v.hi[j];
            }
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 32u; kk++) {
            let a = xs[kk * 8u + ty];
            let b = ws[kk * 8u + tx];
            acc0 = fma(vec4<f32>(a.x), b, acc0);
            acc1 = fma(vec4<f32>(a.y), b, acc1);
            acc2 = fma(vec4<f32>(a.z), b, acc2);
            acc3 = fma(vec4<f32>(a.w), b, acc3);
        }
        workgroupBarrier();
    }
    store4(m0 + 4u * ty, o0 + 4u * tx, acc0);
    store4(m0 + 4u * ty + 1u, o0 + 4u * tx, acc1);
    store4(m0 + 4u * ty + 2u, o0 + 4u * tx, acc2);
    store4(m0 + 4u * ty + 3u, o0 + 4u * tx, acc3);
}

fn store4(r: u32, o: u32, v: vec4<f32>) {
    if (r >= p.n) {
        return;
    }
    let b = r * p.y_stride + p.y_col0;
    for (var j = 0u; j < 4u; j++) {
        if (o + j < p.rows) {
            let at = b + o + j;
            y[at] = select(v[j], y[at] + v[j], p.accumulate == 1u);
        }
    }
}
