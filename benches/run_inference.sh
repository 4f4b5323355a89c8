#!/usr/bin/env bash
# Side-by-side inference benchmark: alro vs llama.cpp (llama-cpp-python) on the same GGUF and
# the same token ids, on this machine's cores. Prints both JSON reports and the ratios.
# Needs llama-cpp-python: python3 -m venv ~/.cache/alro-pyref && ~/.cache/alro-pyref/bin/pip install llama-cpp-python==0.3.36 numpy
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${ALRO_PYREF:-$HOME/.cache/alro-pyref/bin/python}
MODEL=$(realpath "${1:-.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf}")
tmp=$(mktemp -d)
cargo bench -q -p alro-trainer --bench inference -- --model "$MODEL" --out "$tmp/ids.json" | tee "$tmp/ours.json"
"$PY" benches/llamacpp_inference.py "$MODEL" "$tmp/ids.json" | tee "$tmp/theirs.json"
python3 - "$tmp/ours.json" "$tmp/theirs.json" <<'PY'
import json, sys
a, b = (json.loads(open(p).read().strip().splitlines()[-1]) for p in sys.argv[1:3])
print(f"prefill 512 tok: alro {a['prefill_tokens_per_s']:.0f} tok/s, llama.cpp {b['prefill_tokens_per_s']:.0f} tok/s, ratio {a['prefill_tokens_per_s']/b['prefill_tokens_per_s']:.2f}x")
print(f"rank 20 candidates ({a['rank_prompt_tokens']} prompt tokens): alro {a['rank_s']*1000:.0f} ms, llama.cpp {b['rank_s']*1000:.0f} ms, speed ratio {b['rank_s']/a['rank_s']:.2f}x")
print(f"decode step: alro {a['decode_step_ms']:.1f} ms, llama.cpp {b['decode_step_ms']:.1f} ms, speed ratio {b['decode_step_ms']/a['decode_step_ms']:.2f}x")
print(f"peak RSS: alro {a['peak_rss_mib']:.0f} MiB, llama.cpp {b['peak_rss_mib']:.0f} MiB")
PY
