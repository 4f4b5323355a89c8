// Weight format Q4_0 (ggml block_q4_0, 18 bytes per 32 weights): f16 scale d, then 16 bytes;
// weight j < 16 is the low nibble of byte j, weight j >= 16 the high nibble of byte j - 16;
// weight = d * (nibble - 8). `k0` is a multiple of 8 and `k` a multiple of 32.
struct W8 {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

// The low nibbles of the four bytes of `q`.
fn nib4(q: u32) -> vec4<f32> {
    return vec4<f32>(vec4<u32>(q, q >> 8u, q >> 16u, q >> 24u) & vec4<u32>(15u));
}

fn load_w8(row: u32, k0: u32, k: u32) -> W8 {
    let blk = row * (k / 32u) + k0 / 32u;
    let off = blk * 18u;
    let d = w_f16(off);
    let j = k0 % 32u;
    let shift = select(0u, 4u, j >= 16u);
    let a = w_u32(off + 2u + (j % 16u)) >> shift;
    let b = w_u32(off + 6u + (j % 16u)) >> shift;
    return W8(d * (nib4(a) - 8.0), d * (nib4(b) - 8.0));
}
