#!/usr/bin/env python3
"""The table of scripts/claims.sh: per recipe, NDCG@10 on the scored test lists for each seed,
their mean and spread (sample standard deviation, min–max), training time; each recipe against
SFT paired per list and seed (mean Δ over the seeds' lists pooled, 95% bootstrap interval, 1000
resamples, seed 2024); then the position-bias rows (SFT vs ALRO) and bootstrap vs single pass.

    python3 research/claims_summary.py RESULTS_DIR
"""
import glob
import json
import os
import random
import statistics
import sys

RECIPES = ["sft", "sft+sll", "sft+psl", "alro"]
NAMES = {"sft": "SFT", "sft+sll": "SFT+SLL", "sft+psl": "SFT+PSL", "alro": "ALRO"}


def row(path):
    """The adapter's line of an `alro eval --json` result (the only LLM ranker in it)."""
    rows = [json.loads(line) for line in open(path) if line.strip()]
    return rows[-1]


def per_list(path, ranker):
    out = {}
    for line in open(path):
        d = json.loads(line)
        value = d["ndcg@10"].get(ranker)
        if value is not None:
            out[d["user"]] = value
    return out


def interval(diffs):
    rng = random.Random(2024)
    n = len(diffs)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(1000))
    return sum(diffs) / n, means[25], means[974]


def main(results):
    seeds = sorted({os.path.basename(p).split("-seed")[1].split(".")[0]
                    for p in glob.glob(f"{results}/*-seed*.json")}, key=int)
    lines = ["| recipe | " + " | ".join(f"seed {s}" for s in seeds)
             + " | mean | spread (sd; min–max) | vs SFT, paired [95%] | training s (mean) |",
             "|---|" + "---:|" * len(seeds) + "---:|---|---|---:|"]
    warmup = f"{results}/warmup.json"
    if os.path.exists(warmup):
        w = row(warmup)
        lines.insert(2, "| warm-up only (where every run starts) | "
                     + " | ".join("–" for _ in seeds) + f" | {w['ndcg@10']:.4f} | | | |")
    for recipe in RECIPES:
        scores, times, diffs = [], [], []
        cells = []
        for s in seeds:
            base = f"{results}/{recipe}-seed{s}"
            if not os.path.exists(base + ".json"):
                cells.append("–")
                continue
            scores.append(row(base + ".json")["ndcg@10"])
            cells.append(f"{scores[-1]:.4f}")
            if os.path.exists(base + ".train-seconds"):
                times.append(int(open(base + ".train-seconds").read()))
            sft = f"{results}/sft-seed{s}.per-list.jsonl"
            if recipe != "sft" and os.path.exists(sft):
                a, b = per_list(base + ".per-list.jsonl", recipe), per_list(sft, "sft")
                diffs += [a[u] - b[u] for u in a if u in b]
        if not scores:
            continue
        mean = statistics.mean(scores)
        # One seed has no spread yet: say so rather than print nan.
        spread = (f"{statistics.stdev(scores):.4f}; {min(scores):.4f}–{max(scores):.4f}"
                  if len(scores) > 1 else "one seed")
        versus = "" if not diffs else "{:+.4f} [{:+.4f}, {:+.4f}]".format(*interval(diffs))
        lines.append(f"| {NAMES[recipe]} | " + " | ".join(cells)
                     + f" | {mean:.4f} | {spread} | {versus} | "
                     + (f"{statistics.mean(times):.0f}" if times else "") + " |")
    print("\n".join(lines))

    bias = sorted(glob.glob(f"{results}/*.position-bias.json"))
    if bias:
        print("\n| recipe (first seed) | lists × orders | mean Kendall τ | NDCG@10 spread (sd) | mean NDCG@10 |")
        print("|---|---|---:|---:|---:|")
        for path in bias:
            r = row(path)
            pb = r["position_bias"]
            recipe = os.path.basename(path).split("-seed")[0]
            print(f"| {NAMES.get(recipe, recipe)} | {r['lists']} × {pb['orders']} | "
                  f"{pb['kendall_tau']:.4f} | {pb['ndcg10_spread']:.4f} | {pb['ndcg10_mean']:.4f} |")

    modes = [(m, glob.glob(f"{results}/alro-seed*.{m}-*.json")) for m in ("single", "bootstrap")]
    if all(paths for _, paths in modes):
        print("\n| ALRO (first seed), inference | lists | NDCG@10 | wall s |")
        print("|---|---:|---:|---:|")
        for mode, paths in modes:
            r = row(paths[0])
            label = "single pass" if mode == "single" else "bootstrap, B = 5 greedy lists, Borda"
            print(f"| {label} | {r['lists']} | {r['ndcg@10']:.4f} | {r['seconds']} |")


if __name__ == "__main__":
    main(sys.argv[1])
