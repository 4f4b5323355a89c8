#!/usr/bin/env bash
# Checks that a wasm32 build computes the same bytes as a native one: the ALRO candidate lists
# (digest pinned in tests/data_protocol.rs) and the decode-step kernels' outputs (digest from this
# crate's native binary). Builds this crate for wasm32-unknown-unknown, runs it under node.
set -euo pipefail
cd "$(dirname "$0")"
[ -d ../../../shared/data/ml-100k ] || { echo "../shared/data/ml-100k is absent; nothing to check"; exit 0; }
cp ../../Cargo.lock Cargo.lock   # the workspace's exact dependency versions
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}" cargo build --release --target wasm32-unknown-unknown
wasm="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/alro_wasm_determinism.wasm"
mapfile -t got < <(node run.js "$wasm")
want_lists=$(grep -o '"[0-9a-f]\{64\}"' ../data_protocol.rs | tr -d '"')
want_decode=$(CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}" cargo run -q --release --bin native)
status=0
compare() { # what, wasm32 digest, native digest
  echo "$1: wasm32 $2"
  echo "$1: native $3"
  if [ "$2" = "$3" ]; then echo "$1: identical"; else echo "$1: DIFFERENT"; status=1; fi
}
compare "test lists" "${got[0]}" "$want_lists"
compare "decode kernels" "${got[1]}" "$want_decode"
exit $status
