#!/usr/bin/env python3
"""How far a note alone goes: ranks every list of a prepared folder by one kind of note's tier
(`popularity T/N` or `similarity T/N`; ties by shown position, as a model copying the note would)
and prints mean NDCG per split — the row "the note alone" of the 3-candidate tables of
research/benchmarks-history.md. Stdlib only. Its NDCG uses linear gains over the whole list, which equals
`alro eval`'s NDCG@10 (gain 2^rel − 1, cut at 10) only for lists of at most 10 candidates with
0/1 relevance (the m = 3, P = 1 lists it was written for); for any other list use
`alro eval --baseline notes`.

  alro data prepare --dataset ml-100k --path ../shared/data/ml-100k --history-len 5 \\
      --candidates 3 --positives 1 --similarity-tiers 7 --out prepared/sim-m3
  python3 research/scripts/note_order.py prepared/sim-m3 --note similarity
"""
import argparse
import json
import os
import sys

# tier_sanity_lists is a product script (scripts/); this experiment sits in research/scripts/.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from prompt_rule_ceiling import ndcg
from tier_sanity_lists import tiers_of


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lists", help="an `alro data prepare` folder made with that note")
    ap.add_argument("--note", choices=("popularity", "similarity"), default="similarity")
    ap.add_argument("--limit", type=int, help="only the first N lists of each split")
    args = ap.parse_args()
    for split in ("validation", "test"):
        path = os.path.join(args.lists, f"{split}.jsonl")
        with open(path) as f:
            lines = list(enumerate(f, 1))[: args.limit]
        total = 0.0
        for n, line in lines:
            ex = json.loads(line)
            tiers = tiers_of(ex, f"{path}:{n}", args.note)
            order = sorted(range(len(tiers)), key=lambda i: (-tiers[i], i))
            total += ndcg(ex["relevance"], order)
        print(f"{split}: {len(lines)} lists, NDCG@10 by the {args.note} note {total / len(lines):.4f}")


if __name__ == "__main__":
    main()
