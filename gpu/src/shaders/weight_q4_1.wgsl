// Weight format Q4_1 (ggml block_q4_1, 20 bytes per 32 weights): f16 scale d, f16 minimum m,
// then 16 bytes of nibbles laid out as in Q4_0; weight = d * nibble + m. `k0` is a multiple of
// 8 and `k` a multiple of 32. Blocks are 4-byte aligned, so the quant reads are whole words.
struct W8 {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

fn nib4(q: u32) -> vec4<f32> {
    return vec4<f32>(vec4<u32>(q, q >> 8u, q >> 16u, q >> 24u) & vec4<u32>(15u));
}

fn load_w8(row: u32, k0: u32, k: u32) -> W8 {
    let blk = row * (k / 32u) + k0 / 32u;
    let off = blk * 20u;
    let dm = unpack2x16float(w[off >> 2u]);
    let j = k0 % 32u;
    let shift = select(0u, 4u, j >= 16u);
    let a = w[(off + 4u + (j % 16u)) >> 2u] >> shift;
    let b = w[(off + 8u + (j % 16u)) >> 2u] >> shift;
    return W8(dm.x * nib4(a) + dm.y, dm.x * nib4(b) + dm.y);
}
