// Byte access into a weight buffer of raw ggml blocks (`w: array<u32>`, little-endian).
// ggml blocks are byte structures (Q8_0 is 34 bytes, Q4_0 18), so fields land at any even byte
// offset; WGSL storage has no u8/u16 type, hence these shifts. Prepended to every quantized
// weight format (see `weight_*.wgsl`).

// The f16 at an even byte offset, widened to f32.
fn w_f16(off: u32) -> f32 {
    let word = w[off >> 2u];
    return unpack2x16float(word >> ((off & 2u) * 8u)).x;
}

// Four bytes starting at byte offset `off` (any alignment), as one little-endian u32.
fn w_u32(off: u32) -> u32 {
    let i = off >> 2u;
    let s = (off & 3u) * 8u;
    if (s == 0u) {
        return w[i];
    }
    // The upload pads every buffer to a whole word, so w[i + 1] exists whenever a byte of it is
    // part of the block.
    return (w[i] >> s) | (w[i + 1u] << (32u - s));
}

// Byte `b` (0..4) of `q` as a signed 8-bit integer.
fn i8_of(q: u32, b: u32) -> f32 {
    return f32(bitcast<i32>(q << (24u - 8u * b)) >> 24u);
}
