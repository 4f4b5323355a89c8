// out[i, :] = E[ids[i], :] for the tokens whose id falls in this chunk of the embedding matrix
// (rows row0 .. row0 + rows); one workgroup per token. The matrix stays in its storage format
// (the weight format's `load_w8` is prepended), so a quantized embedding costs no f32 copy.

struct Params {
    n: u32,        // tokens
    k: u32,        // hidden size
    row0: u32,     // first vocabulary row held by this buffer
    rows: u32,     // rows held by this buffer
    groups_x: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let i = wid.x + wid.y * p.groups_x;
    if (i >= p.n) {
        return;
    }
    let id = ids[i];
    if (id < p.row0 || id >= p.row0 + p.rows) {
        return;
    }
    for (var g = t * 8u; g < p.k; g += 512u) {
        let v = load_w8(id - p.row0, g, p.k);
        for (var q = 0u; q < 4u; q++) {
            if (g + q < p.k) {
                out[i * p.k + g + q] = v.lo[q];
            }
            if (g + 4u + q < p.k) {
                out[i * p.k + g + 4u + q] = v.hi[q];
            }
        }
    }
}
