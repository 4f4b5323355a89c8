#!/usr/bin/env python3
"""Independent learning check: trains PyTorch + PEFT LoRA on exactly the token ids our trainer
sees and prints how the SFT loss moves, so "our trainer does not learn X" can be told apart from
"this backbone does not learn X at this budget". Same recipe as `alro train --preset sft`: LoRA
on the 7 projections of the last N blocks, r 8, alpha 16, AdamW (no weight decay), linear
warm-up over the first 10 % of steps then cosine to 10 % of the peak, gradient clipping at 1.0,
SFT = mean cross-entropy of the target identifiers, one pass over the examples in file order.

Inputs come from our training benchmark, which renders the lists with our prompt and tokenizer:

    cargo bench -p alro-trainer --bench train_step -- --data prepared/tier3 --examples 480 \\
        --steps 1 --out prepared/t3_inputs.json
    /root/.cache/alro-torch/bin/python research/scripts/peft_learning_check.py prepared/t3_inputs.json \\
        --lr 3e-3 --accumulation 4 --last-layers 8

(the PyTorch environment is the one of benches/peft_train.py). Every 10 optimizer steps it
prints the mean SFT loss and the mean first-position loss over the last 40 examples next to
the levels of a uniformly random permutation (ln(m!)/m per token, ln m at the first position).
"""
import argparse
import json
import math
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TQDM_DISABLE", "1")

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", help="inputs JSON written by the train_step benchmark (--out)")
    ap.add_argument("--model", default=".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--accumulation", type=int, default=4)
    ap.add_argument("--last-layers", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    examples = json.load(open(args.inputs))["examples"]
    m = len(examples[0]["tokens"]) - examples[0]["target_start"] + 1
    model = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(os.path.abspath(args.model)),
        gguf_file=os.path.basename(args.model), dtype=torch.float32)
    layers = model.config.num_hidden_layers
    model = get_peft_model(model, LoraConfig(
        r=8, lora_alpha=16, lora_dropout=0.0, target_modules=TARGETS,
        layers_to_transform=list(range(layers - args.last_layers, layers))))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    inner = model.base_model.model  # LlamaForCausalLM with the adapters injected

    steps = len(examples) // args.accumulation
    warmup = max(1, steps // 10)
    print(f"{len(examples)} examples, m = {m}, {steps} steps; random permutation: "
          f"SFT {math.lgamma(m + 1) / m:.3f}, first position {math.log(m):.3f}", flush=True)
    sft, first, t0 = [], [], time.time()
    for s in range(steps):
        if s < warmup:
            factor = (s + 1) / warmup
        else:
            factor = 0.1 + 0.45 * (1 + math.cos(math.pi * (s - warmup) / max(1, steps - warmup)))
        for group in opt.param_groups:
            group["lr"] = args.lr * factor
        for j in range(args.accumulation):
            ex = examples[s * args.accumulation + j]
            tokens = torch.tensor([ex["tokens"]])
            start = ex["target_start"]
            hidden = inner.model(input_ids=tokens).last_hidden_state[0, start - 1:-1]
            ce = torch.nn.functional.cross_entropy(
                inner.lm_head(hidden), tokens[0, start:], reduction="none")
            (ce.mean() / args.accumulation).backward()
            sft.append(ce.mean().item())
            first.append(ce[0].item())
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad()
        if (s + 1) % 10 == 0:
            print(f"step {s + 1}: SFT {sum(sft[-40:]) / len(sft[-40:]):.3f}, first position "
                  f"{sum(first[-40:]) / len(first[-40:]):.3f} ({time.time() - t0:.0f} s)",
                  flush=True)


if __name__ == "__main__":
    main()
