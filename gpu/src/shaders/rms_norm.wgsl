// y[r, :] = x[r, :] / sqrt(mean(x[r, :]²) + eps) · weight, as candle's fused rms_norm computes
// it (divide by the root, not multiply by its inverse). One 64-thread workgroup per row; the
// sum of squares is reduced in workgroup memory.

struct Params {
    rows: u32,
    dim: u32,
    eps: f32,
    groups_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let r = wid.x + wid.y * p.groups_x;
    if (r >= p.rows) {
        return;
    }
    let base = r * p.dim;
    var s = 0.0;
    for (var i = t; i < p.dim; i += 64u) {
        let v = x[base + i];
        s = fma(v, v, s);
    }
    red[t] = s;
    workgroupBarrier();
    for (var h = 32u; h > 0u; h >>= 1u) {
        if (t < h) {
            red[t] += red[t + h];
        }
        workgroupBarrier();
    }
    let root = sqrt(red[0] / f32(p.dim) + p.eps);
    for (var i = t; i < p.dim; i += 64u) {
        y[base + i] = x[base + i] / root * weight[i];
    }
}
