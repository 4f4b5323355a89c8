// x[i] += y[i]: the residual connections around attention and the MLP.

struct Params {
    len: u32,
    groups_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let i = (wid.x + wid.y * p.groups_x) * 64u + t;
    if (i >= p.len) {
        return;
    }
    x[i] = x[i] + y[i];
}
