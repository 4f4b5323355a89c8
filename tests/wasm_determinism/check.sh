#!/usr/bin/env bash
# Checks that the ALRO candidate lists are byte-identical in a wasm32 build: builds this crate
# for wasm32-unknown-unknown, runs it under node, and compares the digest with the native pin.
set -euo pipefail
cd "$(dirname "$0")"
[ -d ../../../shared/data/ml-100k ] || { echo "../shared/data/ml-100k is absent; nothing to check"; exit 0; }
cp ../../Cargo.lock Cargo.lock   # the workspace's exact dependency versions
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}" cargo build --release --target wasm32-unknown-unknown
wasm="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/release/alro_wasm_determinism.wasm"
got=$(node run.js "$wasm")
want=$(grep -o '"[0-9a-f]\{64\}"' ../data_protocol.rs | tr -d '"')
echo "wasm32: $got"
echo "native: $want"
[ "$got" = "$want" ] && echo "identical" || { echo "DIFFERENT"; exit 1; }
