#!/usr/bin/env python3
"""How finely must the similarity note be cut? NDCG@10 of ranking 20-candidate lists by the note's
tier alone, at several resolutions (steps per unit cosine) and caps, on ML-100K.

An approximation of the protocol (L 10, m 20, P 5, the last window of each user, item-kNN cosines
over every rating before the test window without the user, negatives drawn here with Python's
RNG), for choosing a resolution; `alro eval --baseline notes --similarity-tiers N
--similarity-steps S` measures the chosen one on the protocol's own lists.

    python3 research/note_resolution.py ../shared/data/ml-100k [uniform|popular]
"""
import collections
import math
import random
import sys

root = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else "uniform"
P, L, M = 5, 10, 20
rows = [tuple(map(int, l.split("\t"))) for l in open(f"{root}/u.data")]
by = collections.defaultdict(list)
for u, i, r, t in rows:
    by[u].append((t, i, r))
for u in by:
    by[u].sort()
items = sorted({i for _, i, _, _ in rows})
titles = {}
for l in open(f"{root}/u.item", encoding="latin-1"):
    f = l.split("|")
    titles[int(f[0])] = f[1]
raters = collections.defaultdict(set)
count = collections.Counter()
for u, rs in by.items():
    for t, i, r in rs[:-P]:
        raters[i].add(u)
        count[i] += 1


def cos(a, b, u):
    A, B = raters[a] - {u}, raters[b] - {u}
    return len(A & B) / math.sqrt(len(A) * len(B)) if A and B else 0.0


def ndcg(rel, order, k=10):
    d = sum((2 ** rel[j] - 1) / math.log2(p + 2) for p, j in enumerate(order[:k]))
    z = sum((2 ** x - 1) / math.log2(p + 2) for p, x in enumerate(sorted(rel, reverse=True)[:k]))
    return d / z


rng = random.Random(1)
weights = [count[i] for i in items]
res = collections.defaultdict(list)
for u in sorted(by):
    rs = by[u]
    if len(rs) < L + 2 * P:
        continue
    test, hist = rs[-P:], rs[-P - L:-P]
    rated = {i for _, i, _ in rs}
    rated_titles = {titles[i] for i in rated}
    neg = []
    while len(neg) < M - P:
        i = rng.choices(items, weights=weights)[0] if mode == "popular" else rng.choice(items)
        if i in rated or titles[i] in rated_titles or i in neg:
            continue
        neg.append(i)
    cands = [(i, r) for _, i, r in test] + [(i, 0) for i in neg]
    rng.shuffle(cands)
    rel = [r for _, r in cands]
    sims = [sum(cos(c, x, u) for _, x, _ in hist) / L for c, _ in cands]

    def order(key):
        return sorted(range(M), key=lambda j: (-key(j), j))  # ties: shown order

    res["mean cosine (no tiers)"].append(ndcg(rel, order(lambda j: sims[j])))
    for steps, cap in ((10, 7), (20, 10), (30, 15), (40, 20), (50, 20), (100, 50)):
        tier = [min(cap, 1 + int(steps * s)) for s in sims]
        res[f"{steps} steps, {cap} tiers"].append(ndcg(rel, order(lambda j: tier[j])))
for k, v in res.items():
    print(f"{k:24s} {sum(v) / len(v):.4f}  ({len(v)} lists, {mode} negatives)")
