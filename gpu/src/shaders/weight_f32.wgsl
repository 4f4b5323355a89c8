// Weight format F32: W[row, k] is the f32 at word row*k + k. `k` need not be a multiple of 8;
// columns past it read as 0 so the callers' tiles can run over the edge.
fn load_w8(row: u32, k0: u32, k: u32) -> array<f32, 8> {
    var o: array<f32, 8>;
    let base = row * k;
    for (var i = 0u; i < 8u; i++) {
        if (k0 + i < k) {
            o[i] = bitcast<f32>(w[base + k0 + i]);
        }
    }
    return o;
}
