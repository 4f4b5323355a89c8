#!/usr/bin/env python3
"""How far simple rules over what a list's prompt shows can go (BENCHMARKS.md, "A popularity
warm-up"): ranks each prepared list by the popularity note (ties by shown position), then with
ties or a mix broken by the film's year (in its title) or by how many of the history's genres it
shares (ML-100K's u.item genre flags: what a model could know about a title). Prints mean
NDCG@10 over the first N lists and over all lists of each split. Standard library only.

  alro data prepare --dataset ml-100k --path ../shared/data/ml-100k --history-len 5 \\
      --candidates 3 --positives 1 --popularity-tiers 7 --out /tmp/notes-m3p1
  python3 scripts/prompt_rule_ceiling.py /tmp/notes-m3p1 ../shared/data/ml-100k/u.item
"""
import argparse
import json
import math
import os
import re


def ndcg(rel, order):
    dcg = sum(rel[i] / math.log2(k + 2) for k, i in enumerate(order))
    idcg = sum(r / math.log2(k + 2) for k, r in enumerate(sorted(rel, reverse=True)))
    return dcg / idcg if idcg > 0 else 0.0


def read_items(path):
    genres, year = {}, {}
    with open(path, encoding="latin-1") as f:
        for n, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("|")
            if len(fields) < 6:
                raise SystemExit(f"{path}:{n}: expected the ML-100K u.item layout")
            genres[fields[0]] = [i for i, flag in enumerate(fields[5:]) if flag == "1"]
            m = re.search(r"(\d{4})", fields[2])
            year[fields[0]] = int(m.group(1)) if m else 0
    return genres, year


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lists", help="an `alro data prepare` folder made with --popularity-tiers")
    ap.add_argument("items", help="ML-100K u.item")
    ap.add_argument("--first", type=int, default=100, metavar="N")
    args = ap.parse_args()
    genres, year = read_items(args.items)
    for split in ("validation", "test"):
        path = os.path.join(args.lists, f"{split}.jsonl")
        scores = {}
        with open(path) as f:
            for n, line in enumerate(f, 1):
                ex = json.loads(line)
                cands = ex["candidates"]
                try:
                    tier = [int(c["note"].split()[1].split("/")[0]) for c in cands]
                except (KeyError, IndexError, ValueError):
                    raise SystemExit(f"{path}:{n}: a candidate has no `popularity T/N` note")
                shown = [g for h in ex["history_items"] for g in genres.get(h, [])]
                overlap = [sum(shown.count(g) for g in genres.get(c["id"], [])) for c in cands]
                yr = [year.get(c["id"], 0) for c in cands]
                rules = {
                    "popularity note": lambda i: (-tier[i], i),
                    "history genres": lambda i: (-overlap[i], i),
                    "note, then newer year": lambda i: (-tier[i], -yr[i], i),
                    "note, then history genres": lambda i: (-tier[i], -overlap[i], i),
                    "note + 0.3 x history genres": lambda i: (-(tier[i] + 0.3 * overlap[i]), i),
                }
                for name, key in rules.items():
                    order = sorted(range(len(cands)), key=key)
                    scores.setdefault(name, []).append(ndcg(ex["relevance"], order))
        for name, s in scores.items():
            first = s[: args.first]
            print(f"{split:10} {name:28} first {len(first)}: {sum(first) / len(first):.4f}"
                  f"   all {len(s)}: {sum(s) / len(s):.4f}")


if __name__ == "__main__":
    main()
