#!/usr/bin/env bash
# Side-by-side LoRA training throughput: alro vs PyTorch + PEFT on the same GGUF, the same token
# ids (real ML-100K ranking prompts) and the same LoRA setup, on this machine's cores.
# Needs the PyTorch venv described at the top of benches/peft_train.py.
#   bash benches/run_training.sh [MODEL] [STEPS] [PRESET]
# PRESET: sft (one view, SFT loss; the default) or alro (two views + SLL + PSL, the default
# training objective: PyTorch computes the same objective from the same views).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${ALRO_TORCH:-$HOME/.cache/alro-torch/bin/python}
MODEL=$(realpath "${1:-.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf}")
STEPS=${2:-4}
PRESET=${3:-sft}
THREADS=$(nproc)
tmp=$(mktemp -d)
cargo build -q --release -p alro-trainer
./target/release/alro data prepare --dataset ml-100k --path ../shared/data/ml-100k --out "$tmp/data" >/dev/null
cargo bench -q -p alro-trainer --bench train_step -- --model "$MODEL" --data "$tmp/data" \
  --steps "$STEPS" --preset "$PRESET" --out "$tmp/inputs.json" | tee "$tmp/ours.json"
"$PY" benches/peft_train.py --model "$MODEL" --inputs "$tmp/inputs.json" --threads "$THREADS" \
  --warmup 1 --json | tail -1 | tee "$tmp/theirs.json"
python3 - "$tmp/ours.json" "$tmp/theirs.json" <<'PY'
import json, sys
a, b = (json.loads(open(p).read().strip().splitlines()[-1]) for p in sys.argv[1:3])
print(f"LoRA {a['preset']} step, {a['tokens_per_s']/a['examples_per_s']:.0f} tokens/example: "
      f"alro {a['examples_per_s']:.3f} ex/s ({a['tokens_per_s']:.0f} tok/s), "
      f"PyTorch+PEFT {b['examples_per_s']:.3f} ex/s ({b['total_tokens_per_s']:.0f} tok/s), "
      f"ratio {a['examples_per_s']/b['examples_per_s']:.2f}x; peak RSS alro "
      f"{a['peak_rss_mib']:.0f} MiB, PyTorch {b['peak_rss_mib']:.0f} MiB; warm-up loss alro "
      f"{a['warmup_loss']:.6f}, PyTorch {b['warmup_losses'][0] if b['warmup_losses'] else float('nan'):.6f}")
PY
