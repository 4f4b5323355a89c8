// Weight format Q4_0 (ggml block_q4_0, 18 bytes per 32 weights): f16 scale d, then 16 bytes;
// weight j < 16 is the low nibble of byte j, weight j >= 16 the high nibble of byte j - 16;
// weight = d * (nibble - 8). `k0` is a multiple of 8 and `k` a multiple of 32.
fn load_w8(row: u32, k0: u32, k: u32) -> array<f32, 8> {
    let blk = row * (k / 32u) + k0 / 32u;
    let off = blk * 18u;
    let d = w_f16(off);
    let j = k0 % 32u;
    let shift = select(0u, 4u, j >= 16u);
    let a = w_u32(off + 2u + (j % 16u)) >> shift;
    let b = w_u32(off + 6u + (j % 16u)) >> shift;
    var o: array<f32, 8>;
    for (var i = 0u; i < 4u; i++) {
        o[i] = d * (f32((a >> (8u * i)) & 15u) - 8.0);
        o[i + 4u] = d * (f32((b >> (8u * i)) & 15u) - 8.0);
    }
    return o;
}
