//! Exports `digest()`: the SHA-256 (64 hex bytes) of the ML-100K test lists under the default
//! protocol, computed inside wasm32. The data is read from `../shared/data` at build time and
//! never committed. And `decode_digest()`: the digest of the decode-step kernels ([`decode`]).

pub mod decode;

use alro_core::data::manifest::sha256_hex;
use alro_core::data::protocol::build_all;
use alro_core::data::{movielens, Input, LoadOptions, ProtocolConfig, Split, Splits};

static U_DATA: &[u8] = include_bytes!("../../../../shared/data/ml-100k/u.data");
static U_ITEM: &[u8] = include_bytes!("../../../../shared/data/ml-100k/u.item");

#[no_mangle]
pub extern "C" fn digest() -> *const u8 {
    let ratings = Input {
        name: "u.data",
        bytes: U_DATA,
    };
    let items = Input {
        name: "u.item",
        bytes: U_ITEM,
    };
    let ds = movielens::load_ml100k(ratings, items, &LoadOptions::default()).unwrap();
    let (examples, _) =
        build_all(&ds, &ProtocolConfig::default(), Splits::only(Split::Test)).unwrap();
    let text: String = examples
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    Box::leak(sha256_hex(text.as_bytes()).into_boxed_str()).as_ptr()
}

/// The digest of [`decode::decode_digest`] computed in this build (64 hex bytes).
#[no_mangle]
pub extern "C" fn decode_digest() -> *const u8 {
    Box::leak(decode::decode_digest().into_boxed_str()).as_ptr()
}
