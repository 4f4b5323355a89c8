#!/usr/bin/env python3
"""Paired difference of one ranker between two `alro eval --per-list` files of the same lists
(e.g. two releases that read different notes, which one `alro eval` run cannot hold): mean
per-list Δ NDCG@10 with a 95% bootstrap interval (1000 resamples, seed 2024), after checking
that a baseline scores every list identically in both (so the lists are the same).

    python3 research/paired_per_list.py NEW.jsonl OLD.jsonl [ranker, default trained] [check, default item-knn]
"""
import gzip
import json
import random
import sys


def load(path):
    """A per-list file, plain or gzipped (research/per-list/ keeps the releases' files as .gz)."""
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        return {d["user"]: d["ndcg@10"] for d in map(json.loads, f)}


def main():
    new, old = load(sys.argv[1]), load(sys.argv[2])
    ranker = sys.argv[3] if len(sys.argv) > 3 else "trained"
    check = sys.argv[4] if len(sys.argv) > 4 else "item-knn"
    users = [u for u in new if u in old and new[u].get(ranker) is not None
             and old[u].get(ranker) is not None]
    differ = [u for u in users if abs(new[u][check] - old[u][check]) > 1e-12]
    if differ:
        raise SystemExit(f"{len(differ)} lists score differently by {check}: not the same lists")
    d = [new[u][ranker] - old[u][ranker] for u in users]
    rng = random.Random(2024)
    n = len(d)
    means = sorted(sum(d[rng.randrange(n)] for _ in range(n)) / n for _ in range(1000))
    print(f"{ranker}: Δ NDCG@10 {sum(d) / n:+.4f} [{means[25]:+.4f}, {means[974]:+.4f}] over {n} lists")


if __name__ == "__main__":
    main()
