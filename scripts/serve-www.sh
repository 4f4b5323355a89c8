#!/usr/bin/env bash
# Serves the demo page (built by scripts/build-wasm.sh) on http://127.0.0.1:${PORT:-8000}/.
# Loopback only; Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f www/pkg/alro_ranker.js ] || { echo "www/pkg/ missing: run bash scripts/build-wasm.sh first" >&2; exit 1; }
exec python3 www/tools/serve.py --port "${PORT:-8000}" --dir www
