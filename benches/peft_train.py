#!/usr/bin/env python3
"""PyTorch + PEFT side of the LoRA training-throughput benchmark: same GGUF, same token ids.

Each example is one sequence (batch size 1, no padding). The SFT loss is the mean cross-entropy
of the logits at positions target_start-1 .. len-2 predicting tokens[target_start ..]. The
forward pass runs the decoder (model.model) for the hidden states and applies lm_head only to
those target rows, as our Rust trainer does; the full [len, vocab] logits are never built.

Environment (outside the repo; CPU only; the CUDA wheels are installed but never used):

    python3 -m venv /root/.cache/alro-torch
    /root/.cache/alro-torch/bin/pip install --upgrade pip
    # preferred, when that host is reachable (CPU-only wheel, ~200 MB):
    /root/.cache/alro-torch/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
    # what worked here (only PyPI reachable): the default Linux wheel, which pulls the
    # nvidia/cuda-toolkit wheels (venv ~5.6 GB; torch imports and runs on CPU without a GPU):
    /root/.cache/alro-torch/bin/pip install torch==2.15.0 transformers peft gguf numpy
    # versions that worked: torch 2.15.0+cu132, transformers 5.24.0, peft 0.21.2, gguf 0.19.0,
    # numpy 2.4.6 (accelerate 1.15.0 came along), Python 3.11.7

Usage:

    # write a synthetic inputs file (random ids < 49152), then train on it
    /root/.cache/alro-torch/bin/python benches/peft_train.py --write-synthetic prepared/syn300.json \\
        --examples 4 --seq-len 300 --target-len 10 --steps 4
    /root/.cache/alro-torch/bin/python benches/peft_train.py \\
        --model .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf --inputs prepared/syn300.json \\
        --threads 2 --warmup 1 --json

    # loss sanity: one example repeated, lr 1e-3, 10 steps -> the printed losses should fall
    /root/.cache/alro-torch/bin/python benches/peft_train.py --write-synthetic prepared/one.json \\
        --examples 1 --seq-len 300 --target-len 10 --steps 10 --lr 1e-3
    /root/.cache/alro-torch/bin/python benches/peft_train.py \\
        --model .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf --inputs prepared/one.json --warmup 0

Inputs JSON (written by the Rust side):
    {"examples": [{"tokens": [u32...], "target_start": int}],
     "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "targets": ["q_proj", "v_proj"]},
     "lr": 1e-4, "steps": N, "accumulation": 1}

With an "objective" object (written by `cargo bench ... --preset alro --out`), each example
also carries its views and the loss computes the ALRO objective of our trainer (METHOD.md §6):
per view (tokens, prompt_len, targets, identifier_ids, item_cols) one teacher-forced pass whose
rows prompt_len-1 .. prompt_len+m-2 give the SFT cross-entropy and the identifier logits
(columns in item order); SFT, SLL and the first-position loss are means over the views, PSL is
KL(view 1 || view 2) of the row-wise log-softmaxes:

    {"objective": {"sft_weight", "sll_weight", "psl_weight", "first_position_weight", "gamma",
                   "sigma", "pair_loss": "logistic"|"hinge", "psl_divergence": "kl"|"symmetric-kl"},
     "examples": [{..., "views": [{...}, {...}], "pair_weights": [m*m], "first_target": [m]|null}]}

Loop: `warmup` untimed optimizer steps, then `steps` timed ones. Optimizer step i (counted
separately in each phase) uses examples (i*accumulation + j) % len(examples), j <
accumulation: forward, loss / accumulation, backward for each, then AdamW step (torch.optim.AdamW,
weight_decay 0.0) and zero_grad. With accumulation 1 that is one example per step. LoRA weights
come from torch.manual_seed(--seed). Model: transformers' GGUF loader (dequantized to float32,
it undoes llama.cpp's Q/K row permutation), default attention implementation (sdpa).

Reported: examples/s, target tokens/s, total tokens/s (all sequence tokens of timed steps),
seconds/step (mean, min, max), CPU utilization (process CPU s / wall s; about --threads
when the machine was otherwise idle), per-step losses, peak RSS of the whole process (getrusage,
model loading and dequantization included), peak RSS up to the end of loading, and peak RSS
during warmup+training alone (VmHWM after resetting it via /proc/self/clear_refs; null where
not supported), torch/transformers/peft versions, threads.
"""
import argparse
import json
import os
import random
import resource
import sys
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TQDM_DISABLE", "1")  # the GGUF dequantizer's progress bar
warnings.filterwarnings("ignore", category=FutureWarning)


def write_synthetic(args):
    rng = random.Random(args.seed)
    examples = []
    for _ in range(args.examples):
        tokens = [rng.randrange(args.vocab) for _ in range(args.seq_len)]
        examples.append({"tokens": tokens, "target_start": args.seq_len - args.target_len})
    doc = {
        "examples": examples,
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "targets": ["q_proj", "v_proj"]},
        "lr": args.lr,
        "steps": args.steps,
        "accumulation": 1,
    }
    with open(args.write_synthetic, "w") as f:
        json.dump(doc, f)
    print(f"wrote {args.write_synthetic}: {args.examples} x {args.seq_len} tokens, "
          f"{args.target_len} targets each, steps {args.steps}, lr {args.lr}", file=sys.stderr)


def vm_hwm_mib():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def reset_hwm():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def alro_loss(decoder, lm_head, ex, obj, device):
    """The ALRO objective of one example (the same formulas as trainer/src/train/losses.rs).
    Returns (loss, sequence tokens, target tokens)."""
    import math
    import torch
    import torch.nn.functional as F

    outs = []
    for v in ex["views"]:
        ids = torch.tensor([v["tokens"]], dtype=torch.long, device=device)
        m, pl = len(v["targets"]), int(v["prompt_len"])
        hidden = decoder(input_ids=ids, use_cache=False).last_hidden_state
        logits = lm_head(hidden[0, pl - 1:pl - 1 + m])  # [m, vocab]
        sft = F.cross_entropy(logits, torch.tensor(v["targets"], dtype=torch.long, device=device))
        id_logits = logits[:, v["identifier_ids"]][:, v["item_cols"]]
        outs.append((sft, F.log_softmax(id_logits, dim=-1)))
    n = len(outs)
    m = outs[0][1].shape[0]
    w = torch.tensor(ex["pair_weights"], dtype=torch.float32, device=device).view(m, m)
    k = torch.arange(1, m + 1, dtype=torch.float32, device=device)

    def sll(log_y):
        p = torch.softmax(obj["gamma"] * log_y.exp().t(), dim=-1)  # candidates x positions
        s = p @ k
        margin = (s.unsqueeze(0) - s.unsqueeze(1)) * obj["sigma"]  # [i, j] = s_j - s_i
        if obj["pair_loss"] == "hinge":
            term = torch.relu(1.0 - margin)
        else:
            term = F.softplus(-margin) / math.log(2.0)
        return (term * w).sum()

    def kl(lp, lq):
        return (lp.exp() * (lp - lq)).sum() / lp.shape[0]

    total = obj["sft_weight"] * sum(o[0] for o in outs) / n
    if obj["first_position_weight"] > 0 and ex.get("first_target") is not None:
        t = torch.tensor(ex["first_target"], dtype=torch.float32, device=device)
        total = total + obj["first_position_weight"] * sum(-(o[1][0] * t).sum() for o in outs) / n
    if obj["sll_weight"] > 0:
        total = total + obj["sll_weight"] * sum(sll(o[1]) for o in outs) / n
    if n == 2:
        a, b = outs[0][1], outs[1][1]
        psl = kl(a, b) if obj["psl_divergence"] == "kl" else (kl(a, b) + kl(b, a)) / 2
        total = total + obj["psl_weight"] * psl
    return (total, sum(len(v["tokens"]) for v in ex["views"]),
            sum(len(v["targets"]) for v in ex["views"]))


def load_model(path, torch):
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    d, name = os.path.split(os.path.abspath(path))
    try:  # transformers >= 4.56 calls it `dtype`; older versions only know `torch_dtype`
        return AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32)
    except TypeError:
        return AutoModelForCausalLM.from_pretrained(d, gguf_file=name, torch_dtype=torch.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="GGUF file")
    ap.add_argument("--inputs", help="inputs JSON written by the Rust side")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for the first GPU")
    ap.add_argument("--warmup", type=int, default=1, help="untimed optimizer steps before the timed ones")
    ap.add_argument("--json", action="store_true", help="print one JSON line of results on stdout")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write-synthetic", metavar="PATH", help="write a synthetic inputs file and exit")
    ap.add_argument("--examples", type=int, default=4)
    ap.add_argument("--seq-len", type=int, default=300)
    ap.add_argument("--target-len", type=int, default=10)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--vocab", type=int, default=49152)
    args = ap.parse_args()

    if args.write_synthetic:
        write_synthetic(args)
        return
    if not args.model or not args.inputs:
        ap.error("--model and --inputs are required (or --write-synthetic)")

    with open(args.inputs) as f:
        spec = json.load(f)
    examples = spec["examples"]
    lora = spec["lora"]
    lr = float(spec["lr"])
    steps = int(spec["steps"])
    accum = int(spec.get("accumulation", 1))
    objective = spec.get("objective")
    if objective is not None and any("views" not in ex for ex in examples):
        sys.exit("inputs: an objective needs the views of every example")
    if not examples or steps < 1 or accum < 1:
        sys.exit("inputs: need at least one example, steps >= 1, accumulation >= 1")
    for i, ex in enumerate(examples):
        n, ts = len(ex["tokens"]), int(ex["target_start"])
        if not 1 <= ts < n:
            sys.exit(f"example {i}: target_start {ts} must be in 1..{n - 1}")

    import torch
    import torch.nn.functional as F
    import peft
    import transformers
    from peft import LoraConfig, TaskType, get_peft_model

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    t_load = time.perf_counter()
    model = load_model(args.model, torch).to(args.device)
    model.config.use_cache = False
    load_s = time.perf_counter() - t_load
    vocab = model.config.vocab_size
    for i, ex in enumerate(examples):
        if max(ex["tokens"]) >= vocab:
            sys.exit(f"example {i}: token id >= vocab size {vocab}")

    cfg = LoraConfig(
        r=int(lora["r"]),
        lora_alpha=float(lora["alpha"]),
        lora_dropout=float(lora.get("dropout", 0.0)),
        target_modules=list(lora["targets"]),
        bias="none",
        task_type=TaskType.CAUSAL_LM,
    )
    model = get_peft_model(model, cfg)
    model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)

    # The LlamaForCausalLM inside the PEFT wrapper (LoRA layers already injected into it).
    causal_lm = model.get_base_model()
    decoder, lm_head = causal_lm.model, causal_lm.lm_head
    batches = [
        (torch.tensor([ex["tokens"]], dtype=torch.long, device=args.device),
         int(ex["target_start"]),
         torch.tensor(ex["tokens"][int(ex["target_start"]):], dtype=torch.long, device=args.device))
        for ex in examples
    ]
    cuda = args.device.startswith("cuda")

    def step(i):
        """One optimizer step over `accum` examples; returns (loss, seq tokens, target tokens)."""
        total_loss, n_tok, n_tgt = 0.0, 0, 0
        for j in range(accum):
            e = (i * accum + j) % len(batches)
            if objective is not None:
                loss, tok, tgt = alro_loss(decoder, lm_head, examples[e], objective, args.device)
            else:
                ids, ts, targets = batches[e]
                hidden = decoder(input_ids=ids, use_cache=False).last_hidden_state  # [1, L, H]
                # Only the rows that predict targets: positions ts-1 .. L-2 -> lm_head.
                logits = lm_head(hidden[0, ts - 1:-1])  # [L - ts, vocab]
                loss = F.cross_entropy(logits, targets)
                tok, tgt = ids.shape[1], targets.numel()
            (loss / accum).backward()
            total_loss += loss.item() / accum
            n_tok += tok
            n_tgt += tgt
        opt.step()
        opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()  # the step ends when the GPU's work does
        return total_loss, n_tok, n_tgt

    load_peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    hwm_reset = reset_hwm()  # also resets ru_maxrss on Linux, hence load_peak_mib above
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    warm_losses = [step(i)[0] for i in range(args.warmup)]
    losses, times = [], []
    tok_total = tgt_total = 0
    cpu0 = time.process_time()
    for i in range(steps):
        t = time.perf_counter()
        loss, n_tok, n_tgt = step(i)
        times.append(time.perf_counter() - t)
        losses.append(loss)
        tok_total += n_tok
        tgt_total += n_tgt
        if not args.json:
            print(f"step {i}: loss {loss:.4f}  {times[-1]:.3f} s", file=sys.stderr)

    elapsed = sum(times)
    cpu_s = time.process_time() - cpu0
    res = {
        "examples_per_s": steps * accum / elapsed,
        "target_tokens_per_s": tgt_total / elapsed,
        "total_tokens_per_s": tok_total / elapsed,
        "sec_per_step_mean": elapsed / steps,
        "sec_per_step_min": min(times),
        "sec_per_step_max": max(times),
        # process CPU seconds / wall seconds over the timed steps: about `threads` when the
        # cores were ours alone; much lower means other load was competing (rerun)
        "cpu_utilization": cpu_s / elapsed,
        "steps": steps,
        "warmup": args.warmup,
        "accumulation": accum,
        "examples": len(examples),
        "mean_seq_len": sum(len(e["tokens"]) for e in examples) / len(examples),
        "timed_tokens": tok_total,
        "timed_target_tokens": tgt_total,
        "losses": losses,
        "warmup_losses": warm_losses,
        "objective": "alro" if objective is not None else "sft",
        "lora": {"r": cfg.r, "alpha": cfg.lora_alpha, "dropout": cfg.lora_dropout,
                 "targets": sorted(cfg.target_modules)},
        "trainable_params": trainable,
        "lr": lr,
        "load_s": load_s,
        "peak_rss_mib": max(load_peak_mib, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0),
        "load_peak_rss_mib": load_peak_mib,
        "train_peak_rss_mib": vm_hwm_mib() if hwm_reset else None,
        "device": args.device,
        # GPU memory PyTorch's allocator held at most during warm-up + training (weights too)
        "cuda_peak_allocated_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "threads": torch.get_num_threads(),
        "attn_implementation": getattr(causal_lm.config, "_attn_implementation", None),
    }
    if args.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()
