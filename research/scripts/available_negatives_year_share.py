#!/usr/bin/env python3
"""Share of 1997+ titles among positives and negatives of ML-100K windows (test: each user's last
5 ratings, validation: the 5 before, train: every 5 before that), with negatives drawn uniformly
from the films the user never rated ("uniform") or only from those someone had rated by the
window's last rating ("available", no film from the future). Its own draws; stdlib only.

  python3 research/scripts/available_negatives_year_share.py ../shared/data/ml-100k
"""
import collections
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from note_ceiling_m20 import L, M, P, load_ml100k  # noqa: E402
from release_year_signal import NEW_FROM, year  # noqa: E402


def main():
    by_user, titles = load_ml100k(sys.argv[1])  # folder with u.data and u.item
    first = {}  # each film's first rating
    for rs in by_user.values():
        for t, i, _ in rs:
            first[i] = min(first.get(i, t), t)
    new = {i: (year(t) or 0) >= NEW_FROM for i, t in titles.items()}
    items, rng = sorted(titles), random.Random(1)
    # (split, negatives) -> [new positives, positives, new negatives, negatives]
    shares = collections.defaultdict(lambda: [0, 0, 0, 0])
    for rs in by_user.values():
        if len(rs) < L + 2 * P:
            continue
        rated = {i for _, i, _ in rs}
        # Windows from the end: test = the last P, validation = the P before, then training
        # windows every P before that.
        for k, end in enumerate(range(len(rs), L + P - 1, -P)):
            window = rs[end - P:end]
            split = "test" if k == 0 else "val" if k == 1 else "train"
            now = window[-1][0]
            for how in ("uniform", "available"):
                pool = [i for i in items
                        if i not in rated and (how == "uniform" or first[i] <= now)]
                negatives = rng.sample(pool, min(M - P, len(pool)))
                s = shares[(split, how)]
                s[0] += sum(new[i] for _, i, _ in window)
                s[1] += P
                s[2] += sum(new[i] for i in negatives)
                s[3] += len(negatives)
    for key in sorted(shares):
        s = shares[key]
        print(key, f"pos97 {s[0] / s[1]:.3f} neg97 {s[2] / s[3]:.3f}")


if __name__ == "__main__":
    main()
