#!/usr/bin/env python3
"""Evidence the similarity note lacks: the release year in the candidate's title.

On ML-100K the protocol's test window is each user's last P ratings, and those are new films far
more often than earlier windows are: 30% of test positives carry a (1997) or (1998) title, 26% of
validation positives, 8-20% of training positives, against 17% of the negatives everywhere. A
ranker that reads titles can use this; one trained only on training windows is taught the
opposite (there, new films are rarer among positives than among negatives).

For every split of a folder written by `alro data prepare ... --similarity-tiers N` this prints
the share of 1997+ films among positives and negatives, and NDCG@10 (gain 2^rel - 1) of the
similarity tier alone and of the tier plus A points for a 1997+ title (ties by shown position),
with a 95% bootstrap interval over lists of the difference to the tier alone.

  alro data prepare --dataset ml-100k --path ../shared/data/ml-100k --similarity-tiers 20 \\
      --similarity-steps 40 [--negatives popular] --out LISTS
  python3 research/release_year_signal.py LISTS
  python3 research/release_year_signal.py LISTS --paired NEW.jsonl OLD.jsonl.gz   # per-list files
"""
import argparse
import json
import math
import os
import random
import re

from paired_per_list import load as load_per_list

NEW_FROM = 1997


def ndcg10(rel, order):
    dcg = sum((2 ** rel[j] - 1) / math.log2(p + 2) for p, j in enumerate(order[:10]))
    ideal = sorted(rel, reverse=True)
    den = sum((2 ** x - 1) / math.log2(p + 2) for p, x in enumerate(ideal[:10]))
    return dcg / den if den else 0.0


def year(title):
    m = re.search(r"\((\d{4})\)\s*$", title.strip())
    return int(m.group(1)) if m else None


def tier(note):
    return int(re.search(r"similarity (\d+)/", note).group(1))


def interval(diffs, rng, rounds=1000):
    means = sorted(sum(rng.choice(diffs) for _ in diffs) / len(diffs) for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lists", help="folder with train/validation/test.jsonl")
    ap.add_argument("--points", type=float, nargs="+", default=[1, 2, 4],
                    help="tier points added for a 1997+ title")
    ap.add_argument("--train-sample", type=int, default=2000,
                    help="training lists to sample (all validation and test lists are used)")
    ap.add_argument("--paired", nargs=2, metavar=("NEW", "OLD"),
                    help="two `alro eval --per-list` files of these test lists: the mean difference "
                         "of their `trained` NDCG@10 by the number of 1997+ positives in a list "
                         "(does NEW read the year where OLD does not?)")
    args = ap.parse_args()
    rng = random.Random(1)
    for split in ("train", "validation", "test"):
        path = os.path.join(args.lists, f"{split}.jsonl")
        if not os.path.exists(path):
            continue
        rows = [json.loads(line) for line in open(path)]
        if split == "train" and len(rows) > args.train_sample:
            rows = rng.sample(rows, args.train_sample)
        shares = {"pos": [0, 0], "neg": [0, 0]}
        by_points = {a: [] for a in [0] + args.points}
        for ex in rows:
            rel, cands = ex["relevance"], ex["candidates"]
            tiers = [tier(c["note"]) for c in cands]
            new = [(year(c["title"]) or 0) >= NEW_FROM for c in cands]
            for r, n in zip(rel, new):
                s = shares["pos" if r > 0 else "neg"]
                s[0] += n
                s[1] += 1
            for a, out in by_points.items():
                order = sorted(range(len(cands)), key=lambda j: (-(tiers[j] + a * new[j]), j))
                out.append(ndcg10(rel, order))
        base = by_points[0]
        print(f"{split}: {len(rows)} lists; {NEW_FROM}+ titles among positives "
              f"{shares['pos'][0] / shares['pos'][1]:.3f}, among negatives "
              f"{shares['neg'][0] / shares['neg'][1]:.3f}")
        print(f"  similarity tier alone           NDCG@10 {sum(base) / len(base):.4f}")
        for a in args.points:
            v = by_points[a]
            diffs = [x - y for x, y in zip(v, base)]
            lo, hi = interval(diffs, rng)
            print(f"  tier + {a:g} for a {NEW_FROM}+ title     NDCG@10 {sum(v) / len(v):.4f}  "
                  f"vs tier {sum(diffs) / len(diffs):+.4f} [{lo:+.4f}, {hi:+.4f}]")
    if args.paired:
        new, old = map(load_per_list, args.paired)
        by_count = {}
        for line in open(os.path.join(args.lists, "test.jsonl")):
            ex = json.loads(line)
            k = sum(1 for r, c in zip(ex["relevance"], ex["candidates"])
                    if r > 0 and (year(c["title"]) or 0) >= NEW_FROM)
            if ex["user"] in new and ex["user"] in old:
                by_count.setdefault(k, []).append(
                    new[ex["user"]]["trained"] - old[ex["user"]]["trained"])
        print(f"NEW - OLD by {NEW_FROM}+ positives in the list:")
        for k in sorted(by_count):
            d = by_count[k]
            print(f"  {k}: {sum(d) / len(d):+.4f} over {len(d)} lists")


if __name__ == "__main__":
    main()
