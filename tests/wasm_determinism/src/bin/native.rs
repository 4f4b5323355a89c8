//! Prints the decode-kernel digest computed natively, for `check.sh` to compare with wasm32's.
fn main() {
    println!("{}", alro_wasm_determinism::decode::decode_digest());
}
