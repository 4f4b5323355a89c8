#!/usr/bin/env python3
"""Would a ranker that reads two notes have room above the match note? Linear fusions of the
note tiers and classical scores `alro eval --scores` writes per candidate, weights chosen on the
validation lists, then scored on the test lists against the match note alone (ties in
expectation, as `alro eval` scores them; paired 95% bootstrap over lists).

    python3 research/two_note_fusion.py DIR

DIR holds `{validation,test}-{uniform,popular}.scores.jsonl` from
`alro eval --dataset ml-100k --path ../shared/data/ml-100k --match-tiers 20 --similarity-tiers 20
--similarity-steps 40 --negatives NEG --baseline popularity,item-knn,bpr,notes --split SPLIT
--scores FILE`.
"""
import itertools
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from fusion_note_llm import bootstrap, expected_ndcg  # noqa: E402


def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f]


def features(row):
    s = row["scores"]
    # The popularity note's tier: one per halving of the rating count (log2 here, untiered).
    pop = [math.log2(1 + c) for c in s["popularity"]]
    # The candidate's popularity rank within its own list, in 10 tiers (10 = the most rated):
    # a note that carries the list's context rather than a global count.
    m = len(pop)
    rank = {i: r for r, i in enumerate(sorted(range(m), key=lambda i: s["popularity"][i]))}
    popularity_rank = [1 + rank[i] * 10 // m for i in range(m)]
    return {"match": s["note:match"], "similarity": s["note:similarity"], "popularity": pop,
            "popularity-rank": popularity_rank}


def fused(rows, w):
    out = []
    for row in rows:
        f = features(row)
        score = [sum(w[k] * f[k][i] for k in w) for i in range(len(row["relevance"]))]
        out.append(expected_ndcg(row["relevance"], score))
    return out


def mean(v):
    v = [x for x in v if x is not None]
    return sum(v) / len(v)


GRID = {
    "similarity": [0, 0.25, 0.5, 0.75, 1.0, 1.5],
    "popularity": [-1.0, -0.5, -0.25, 0, 0.25, 0.5, 1.0],
    "popularity-rank": [-2.0, -1.5, -1.0, -0.75, -0.5, -0.25, 0, 0.25, 0.5],
}


def main():
    d = sys.argv[1]
    data = {(s, n): load(f"{d}/{s}-{n}.scores.jsonl")
            for s in ("validation", "test") for n in ("uniform", "popular")}
    for extra in (["similarity"], ["popularity"], ["similarity", "popularity"],
                  ["popularity-rank"]):
        for tune in ("uniform", "popular", "both"):
            negs = ("uniform", "popular") if tune == "both" else (tune,)
            best = None
            for ws in itertools.product(*(GRID[k] for k in extra)):
                w = {"match": 1.0, **dict(zip(extra, ws))}
                v = mean(sum((fused(data[("validation", n)], w) for n in negs), []))
                if best is None or v > best[0]:
                    best = (v, w)
            w = best[1]
            line = [f"+{'+'.join(extra):<22} tuned on {tune:<7} w={w}"]
            for n in ("uniform", "popular"):
                rows = data[("test", n)]
                a, b = fused(rows, w), fused(rows, {"match": 1.0})
                diff = [x - y for x, y in zip(a, b) if x is not None]
                m, lo, hi = bootstrap(diff)
                line.append(f"test {n}: {mean(a):.4f} vs match {mean(b):.4f} "
                            f"{m:+.4f} [{lo:+.4f}, {hi:+.4f}]")
            print("\n    ".join(line))
    adaptive(data)


def list_popularity(row):
    """Mean popularity tier (log2 count) of a list's candidates: what tells the two kinds of
    lists apart from inside a list."""
    pop = features(row)["popularity"]
    return sum(pop) / len(pop)


def adaptive(data):
    """The popularity weight chosen by the list itself: `lo` where its candidates' mean
    popularity tier is below θ, `hi` above; θ, `lo`, `hi` tuned on both kinds of validation lists."""
    def score(rows, theta, lo, hi):
        out = []
        for row in rows:
            w = {"match": 1.0, "popularity": lo if list_popularity(row) < theta else hi}
            out.extend(fused([row], w))
        return out
    val = data[("validation", "uniform")] + data[("validation", "popular")]
    best = None
    for theta in (3, 4, 5, 6, 7, 8):
        for lo, hi in itertools.product(GRID["popularity"], repeat=2):
            v = mean(score(val, theta, lo, hi))
            if best is None or v > best[0]:
                best = (v, (theta, lo, hi))
    theta, lo, hi = best[1]
    line = [f"+popularity, weight by the list's mean tier: θ={theta} below {lo} above {hi}"]
    for n in ("uniform", "popular"):
        rows = data[("test", n)]
        a, b = score(rows, theta, lo, hi), fused(rows, {"match": 1.0})
        diff = [x - y for x, y in zip(a, b) if x is not None]
        m, l_, h_ = bootstrap(diff)
        line.append(f"test {n}: {mean(a):.4f} vs match {mean(b):.4f} {m:+.4f} [{l_:+.4f}, {h_:+.4f}]")
    print("\n    ".join(line))


if __name__ == "__main__":
    main()
