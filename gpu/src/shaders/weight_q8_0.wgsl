// Weight format Q8_0 (ggml block_q8_0, 34 bytes per 32 weights): f16 scale d, then 32 int8
// quants q; weight = d * q. `k0` is a multiple of 8 and `k` a multiple of 32.
fn load_w8(row: u32, k0: u32, k: u32) -> array<f32, 8> {
    let blk = row * (k / 32u) + k0 / 32u;
    let off = blk * 34u;
    let d = w_f16(off);
    let j = k0 % 32u;
    let a = w_u32(off + 2u + j);
    let b = w_u32(off + 6u + j);
    return array<f32, 8>(
        d * i8_of(a, 0u), d * i8_of(a, 1u), d * i8_of(a, 2u), d * i8_of(a, 3u),
        d * i8_of(b, 0u), d * i8_of(b, 1u), d * i8_of(b, 2u), d * i8_of(b, 3u));
}
