// Weight format F32: W[row, k] is the f32 at word row*k + k. `k` need not be a multiple of 8;
// columns past it read as 0 so the callers' tiles can run over the edge.
struct W8 {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

fn w_at(i: u32, end: u32) -> f32 {
    if (i < end) {
        return bitcast<f32>(w[i]);
    }
    return 0.0;
}

fn load_w8(row: u32, k0: u32, k: u32) -> W8 {
    let b = row * k + k0;
    let e = row * k + k;
    return W8(vec4<f32>(w_at(b, e), w_at(b + 1u, e), w_at(b + 2u, e), w_at(b + 3u, e)),
              vec4<f32>(w_at(b + 4u, e), w_at(b + 5u, e), w_at(b + 6u, e), w_at(b + 7u, e)));
}
