// Merges the split partials of attention.wgsl: for each (query, head), the splits' running
// maxima m_s, sums l_s and unnormalised accumulators a_s give
//   out = Σ_s a_s·exp(m_s − M) / Σ_s l_s·exp(m_s − M),   M = max_s m_s,
// the same softmax-weighted sum as one walk over all keys. An empty split has m = -1e30, l = 0
// and a = 0, so it adds nothing. One 64-thread workgroup per (query, head).

struct Params {
    rows: u32,     // queries × heads
    head_dim: u32,
    splits: u32,
    groups_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let row = wid.x + wid.y * p.groups_x;
    if (row >= p.rows) {
        return;
    }
    let hd = p.head_dim;
    let stride = hd + 2u;
    let base = row * p.splits * stride;
    var mx = -1e30;
    for (var s = 0u; s < p.splits; s++) {
        mx = max(mx, part[base + s * stride]);
    }
    var l = 0.0;
    for (var s = 0u; s < p.splits; s++) {
        l += part[base + s * stride + 1u] * exp(part[base + s * stride] - mx);
    }
    let r = 1.0 / l;
    for (var d = t; d < hd; d += 64u) {
        var acc = 0.0;
        for (var s = 0u; s < p.splits; s++) {
            let b = base + s * stride;
            acc = fma(part[b + 2u + d], exp(part[b] - mx), acc);
        }
        out[row * hd + d] = acc * r;
    }
}
