// gate[i] = silu(gate[i]) · up[i] in place: the SwiGLU activation between the MLP's gate/up and
// down projections. silu(x) = x / (1 + exp(-x)), candle's formula (it yields -0 rather than NaN
// when exp overflows for very negative x).

struct Params {
    len: u32,
    groups_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> gate: array<f32>;
@group(0) @binding(2) var<storage, read> up: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let i = (wid.x + wid.y * p.groups_x) * 64u + t;
    if (i >= p.len) {
        return;
    }
    let g = gate[i];
    gate[i] = g / (1.0 + exp(-g)) * up[i];
}
