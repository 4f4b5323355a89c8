#!/usr/bin/env python3
"""Rewrites prepared lists for the sanity task of research/benchmarks-history.md: each candidate's relevance
becomes its popularity tier (from the `popularity T/N` note, so the lists must be prepared with
--popularity-tiers; with `--note similarity`, its `similarity T/N` tier) and the target becomes exactly the tier order, ties by shown position — an
answer fully written in the prompt. Standard library only.

  alro data prepare --dataset ml-100k --path ../shared/data/ml-100k --history-len 5 \\
      --candidates 10 --popularity-tiers 7 --out prepared/notes
  python3 scripts/tier_sanity_lists.py prepared/notes prepared/tier
  alro train --data prepared/tier --config research/configs/ml100k-tier-sanity.toml --preset sft

With `--candidates K` (K < the lists' m), each list keeps K candidates of pairwise different
tiers (a seeded choice; lists with fewer than K distinct tiers are dropped) in a seeded random
shown order, and the manifest says m = K: the easiest form of the task (K = 3: pick the most
popular of three, then the next). With `--train-sample N`, train.jsonl keeps a seeded random N of
its lines first (the 1,600-line sample of research/benchmarks-history.md: N = 1600, the default seed).
"""
import argparse
import json
import os
import random


# Relevance is the tier, scaled down to at most this when a note has more tiers: the gains
# 2^rel - 1 of 20 tiers would make the top tier nearly all of every target.
MAX_RELEVANCE = 7


def tiers_of(ex, where, kind="popularity"):
    """The `kind T/N` tiers of a list's candidates (a note may hold several, `, `-separated)."""
    return [t for t, _ in tiers_and_counts(ex, where, kind)]


def tiers_and_counts(ex, where, kind):
    """(T, N) of each candidate's `kind T/N` note part."""
    try:
        return [next(tuple(map(int, part.split()[1].split("/"))) for part in c["note"].split(", ")
                     if part.split()[0] == kind) for c in ex["candidates"]]
    except (KeyError, IndexError, ValueError, StopIteration):
        raise SystemExit(f"{where}: a candidate has no `{kind} T/N` note "
                         f"(prepare the lists with --{kind}-tiers)")


def keep_distinct(tiers, k, rng):
    """Indices of k candidates with pairwise different tiers, in a random shown order."""
    first_of_tier = {}
    order = list(range(len(tiers)))
    rng.shuffle(order)
    for i in order:
        first_of_tier.setdefault(tiers[i], i)
    if len(first_of_tier) < k:
        return None
    return rng.sample(sorted(first_of_tier.values()), k)


def rewrite(src, dst, k, rng, sample=None, kind="popularity"):
    kept = 0
    with open(src) as f:
        lines = list(enumerate(f, 1))  # (line number, text): errors name the file's line
    if sample is not None:
        random.Random(2024).shuffle(lines)
        lines = lines[:sample]
    with open(dst, "w") as out:
        for n, line in lines:
            ex = json.loads(line)
            noted = tiers_and_counts(ex, f"{src}:{n}", kind)
            tiers = [t for t, _ in noted]
            if k:
                keep = keep_distinct(tiers, k, rng)
                if keep is None:
                    continue
                ex["candidates"] = [ex["candidates"][i] for i in keep]
                tiers = [tiers[i] for i in keep]
            scale = min(1.0, MAX_RELEVANCE / noted[0][1])  # every note of a list has the same N
            ex["relevance"] = [t * scale for t in tiers]
            ex["target"] = sorted(range(len(tiers)), key=lambda i: (-tiers[i], i))
            out.write(json.dumps(ex) + "\n")
            kept += 1
    return kept


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="an `alro data prepare` folder prepared with --popularity-tiers")
    ap.add_argument("dst")
    ap.add_argument("--candidates", type=int, default=0, metavar="K",
                    help="keep K candidates of different tiers per list (default: all)")
    ap.add_argument("--train-sample", type=int, metavar="N",
                    help="first keep a seeded random N lines of train.jsonl")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--note", choices=("popularity", "similarity"), default="popularity",
                    help="which note's tiers become the target (default: popularity)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.dst, exist_ok=True)
    for name in ("train.jsonl", "validation.jsonl", "test.jsonl"):
        path = os.path.join(args.src, name)
        if os.path.exists(path):
            sample = args.train_sample if name == "train.jsonl" else None
            kept = rewrite(path, os.path.join(args.dst, name), args.candidates, rng, sample,
                           args.note)
            print(f"{name}: {kept} lists")
    manifest_path = os.path.join(args.src, "manifest.json")
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
        if args.candidates:
            manifest["protocol"]["candidates"] = args.candidates
        with open(os.path.join(args.dst, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
