#!/usr/bin/env bash
# Builds the browser package @alro/ranker into ranker-wasm/pkg/ and the demo page into www/:
#   1. cargo build --release --target wasm32-unknown-unknown -p alro-ranker-wasm
#      (SIMD128 comes from .cargo/config.toml)
#   2. wasm-bindgen --target web            (the CLI must be 0.2.130, as pinned; scripts/setup.sh)
#   3. wasm-opt -Oz from the npm package binaryen (Debian's wasm-opt 108 breaks wasm-bindgen
#      0.2.130 output: it predates the bulk-memory and reference-type features that output uses)
#   4. package.json, README.md and the hand-written types next to wasm-bindgen's .d.ts
#   5. www/pkg/ (a copy of the package), www/data/movies.json (from the vendored MovieLens
#      latest-small), www/models/ranker.gguf (a link to $ALRO_PAGE_MODEL, default: the setup's
#      default ranker, else its backbone; any export can be given instead), and copies of models/README.md (the model
#      card the page links as alro.card_url "models/README.md") and of the item table
#      models/items-ml-latest-small.json (passed to Ranker.load as `items`), where they exist
# Prints the .wasm size raw and gzipped. Outputs are git-ignored.
# Usage: bash scripts/build-wasm.sh      (after scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
say() { printf '[build-wasm] %s\n' "$*"; }

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PKG=ranker-wasm/pkg
WASM_OPT=tests/browser/node_modules/.bin/wasm-opt
# The page ranks with the default ranker when the setup has built it, else with the backbone.
DEFAULT_MODEL=$ROOT/.cache/models/alro-ranker.q8_0.gguf
[ -f "$DEFAULT_MODEL" ] || DEFAULT_MODEL=$ROOT/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
MODEL=${ALRO_PAGE_MODEL:-$DEFAULT_MODEL}

want=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' ranker-wasm/Cargo.toml)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
[ "$have" = "$want" ] || { echo "wasm-bindgen CLI $want needed (found '${have:-none}'): run bash scripts/setup.sh" >&2; exit 1; }
[ -x "$WASM_OPT" ] || { echo "$WASM_OPT missing: run bash scripts/setup.sh (npm ci in tests/browser)" >&2; exit 1; }
[ -f "$MODEL" ] || { echo "model $MODEL not found: run bash scripts/setup.sh or set ALRO_PAGE_MODEL" >&2; exit 1; }

say "cargo build --release --target wasm32-unknown-unknown -p alro-ranker-wasm"
cargo build --locked --release --target wasm32-unknown-unknown -p alro-ranker-wasm
WASM_IN="$TARGET_DIR/wasm32-unknown-unknown/release/alro_ranker_wasm.wasm"

say "wasm-bindgen --target web -> $PKG"
rm -rf "$PKG.tmp" && mkdir -p "$PKG.tmp"
wasm-bindgen --target web --out-name alro_ranker --out-dir "$PKG.tmp" "$WASM_IN"

say "wasm-opt -Oz ($($WASM_OPT --version))"
# The features wasm-bindgen's output and rustc's default wasm32 target use (SIMD128 from the
# config, bulk memory, sign extension, mutable globals, reference types, multivalue).
"$WASM_OPT" -Oz --enable-simd --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
  --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
  -o "$PKG.tmp/alro_ranker_bg.wasm.opt" "$PKG.tmp/alro_ranker_bg.wasm"
mv "$PKG.tmp/alro_ranker_bg.wasm.opt" "$PKG.tmp/alro_ranker_bg.wasm"

cp ranker-wasm/npm/package.json ranker-wasm/npm/README.md "$PKG.tmp/"
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
sed -i "s/\"version\": \"0.0.0\"/\"version\": \"$VERSION\"/" "$PKG.tmp/package.json"
rm -rf "$PKG" && mv "$PKG.tmp" "$PKG"

raw=$(stat -c %s "$PKG/alro_ranker_bg.wasm")
gz=$(gzip -9 -c "$PKG/alro_ranker_bg.wasm" | wc -c)
say "$PKG/alro_ranker_bg.wasm: $raw bytes raw ($((raw / 1024)) KiB), $gz bytes gzipped ($((gz / 1024)) KiB)"

say "demo page assets in www/"
rm -rf www/pkg && cp -r "$PKG" www/pkg
python3 www/tools/movies_json.py data/ml-latest-small www/data/movies.json
mkdir -p www/models
ln -sfn "$(realpath "$MODEL")" www/models/ranker.gguf
say "www/models/ranker.gguf -> $(realpath "$MODEL")"
for f in README.md items-ml-latest-small.json; do
  if [ -f "models/$f" ]; then
    cp "models/$f" "www/models/$f"
    say "www/models/$f (copy of models/$f)"
  else
    rm -f "www/models/$f"
    say "models/$f not found: the page runs without it"
  fi
done
say "done; serve with: bash scripts/serve-www.sh"
