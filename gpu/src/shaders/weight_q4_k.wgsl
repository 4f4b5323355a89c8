// Weight format Q4_K (ggml block_q4_K, 144 bytes per 256 weights): f16 d, f16 dmin, 12 bytes of
// packed 6-bit (scale, min) pairs for 8 sub-blocks of 32, then 128 bytes of nibbles. Weights
// 64g..64g+32 are the low nibbles of qs[32g..32g+32] (sub-block 2g), weights 64g+32..64g+64 the
// high nibbles (sub-block 2g+1); weight = d*scale[s]*nibble - dmin*min[s]. `k0` is a multiple of
// 8 and `k` a multiple of 256; blocks are 4-byte aligned.

struct W8 {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

fn nib4(q: u32) -> vec4<f32> {
    return vec4<f32>(vec4<u32>(q, q >> 8u, q >> 16u, q >> 24u) & vec4<u32>(15u));
}

// Byte `i` of the block starting at byte offset `off`.
fn q4k_byte(off: u32, i: u32) -> u32 {
    let o = off + i;
    return (w[o >> 2u] >> ((o & 3u) * 8u)) & 255u;
}

fn load_w8(row: u32, k0: u32, k: u32) -> W8 {
    let blk = row * (k / 256u) + k0 / 256u;
    let off = blk * 144u;
    let dm = unpack2x16float(w[off >> 2u]);
    let e = k0 % 256u;
    let g = e / 64u;
    let high = (e % 64u) >= 32u;
    let s = 2u * g + select(0u, 1u, high);
    // ggml's get_scale_min_k4 on the 12 scale bytes at off + 4.
    var sc: u32;
    var mn: u32;
    if (s < 4u) {
        sc = q4k_byte(off + 4u, s) & 63u;
        mn = q4k_byte(off + 4u, s + 4u) & 63u;
    } else {
        sc = (q4k_byte(off + 4u, s + 4u) & 15u) | ((q4k_byte(off + 4u, s - 4u) >> 6u) << 4u);
        mn = (q4k_byte(off + 4u, s + 4u) >> 4u) | ((q4k_byte(off + 4u, s) >> 6u) << 4u);
    }
    let d = dm.x * f32(sc);
    let m = dm.y * f32(mn);
    let shift = select(0u, 4u, high);
    let qoff = off + 16u + 32u * g + (e % 32u);
    let a = w[qoff >> 2u] >> shift;
    let b = w[(qoff + 4u) >> 2u] >> shift;
    return W8(d * nib4(a) - m, d * nib4(b) - m);
}
