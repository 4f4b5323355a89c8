// Weight format Q8_0 (ggml block_q8_0, 34 bytes per 32 weights): f16 scale d, then 32 int8
// quants q; weight = d * q. `k0` is a multiple of 8 and `k` a multiple of 32.
struct W8 {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

// The four bytes of `q` as signed 8-bit integers (shift each to the top, arithmetic shift back).
fn i8x4(q: u32) -> vec4<f32> {
    let v = vec4<i32>(bitcast<i32>(q << 24u), bitcast<i32>(q << 16u), bitcast<i32>(q << 8u), bitcast<i32>(q));
    return vec4<f32>(v >> vec4<u32>(24u));
}

fn load_w8(row: u32, k0: u32, k: u32) -> W8 {
    let blk = row * (k / 32u) + k0 / 32u;
    let off = blk * 34u;
    let d = w_f16(off);
    let j = k0 % 32u;
    return W8(d * i8x4(w_u32(off + 2u + j)), d * i8x4(w_u32(off + 6u + j)));
}
