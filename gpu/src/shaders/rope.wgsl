// Rotary position embedding, in place on x (n, heads, head_dim), one thread per rotated pair.
// cos/sin (n, head_dim/2) hold the angles pos·inv_freq[i] for the absolute positions of the n
// rows; the host computes them in f32 on the CPU exactly as alro-core does, because GPU sin/cos
// lose precision for the large angles of late positions.
// Layouts: interleaved (GGUF) rotates (x[2i], x[2i+1]); half-split (HF) rotates (x[i], x[i+d/2]).

struct Params {
    n: u32,
    heads: u32,
    head_dim: u32,
    interleaved: u32,
    groups_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> cos_t: array<f32>;
@group(0) @binding(3) var<storage, read> sin_t: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let half = p.head_dim / 2u;
    let idx = (wid.x + wid.y * p.groups_x) * 64u + t;
    if (idx >= p.n * p.heads * half) {
        return;
    }
    let i = idx % half;
    let row = idx / half;          // (token, head)
    let tok = row / p.heads;
    let base = row * p.head_dim;
    var a: u32;
    var b: u32;
    if (p.interleaved != 0u) {
        a = base + 2u * i;
        b = a + 1u;
    } else {
        a = base + i;
        b = a + half;
    }
    let c = cos_t[tok * half + i];
    let s = sin_t[tok * half + i];
    let x0 = x[a];
    let x1 = x[b];
    x[a] = x0 * c - x1 * s;
    x[b] = x0 * s + x1 * c;
}
