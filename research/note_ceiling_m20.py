#!/usr/bin/env python3
"""How far notes alone go on 20-candidate lists: an independent re-implementation (stdlib only)
of the default protocol on ML-100K (L 10, m 20, P 5; last P ratings of each user are the test
window; negatives never rated by the user, no same-title film; counts and rater sets from every
user's ratings before their test window, the list's own user left out of the cosine), scoring
NDCG@10 (gain 2^rel − 1, the metric of `alro eval`) of orders a ranker that reads notes could
copy. Its own random draws, so its lists are not `alro data prepare`'s: use it to compare notes
with each other, and `alro eval` for the numbers of record.

  python3 research/note_ceiling_m20.py ../shared/data/ml-100k            # uniform negatives
  python3 research/note_ceiling_m20.py ../shared/data/ml-100k --popular  # by rating count
"""
import argparse
import collections
import math
import os
import random

P, L, M = 5, 10, 20


def ndcg10(rel, order):
    dcg = sum((2 ** rel[j] - 1) / math.log2(p + 2) for p, j in enumerate(order[:10]))
    ideal = sorted(rel, reverse=True)
    return dcg / sum((2 ** x - 1) / math.log2(p + 2) for p, x in enumerate(ideal[:10]))


def load_ml100k(folder):
    """Every user's ratings as time-sorted (timestamp, item, rating), and the item titles."""
    by_user = collections.defaultdict(list)
    with open(os.path.join(folder, "u.data")) as f:
        for line in f:
            u, i, r, t = map(int, line.split("\t"))
            by_user[u].append((t, i, r))
    for rs in by_user.values():
        rs.sort()
    titles = {}
    with open(os.path.join(folder, "u.item"), encoding="latin-1") as f:
        for line in f:
            fields = line.split("|")
            titles[int(fields[0])] = fields[1]
    return by_user, titles


def before_test(by_user):
    """(user, item, rating) of every rating before its user's test window: the baselines' cut."""
    for u, rs in by_user.items():
        for _, i, r in rs[:-P]:
            yield u, i, r


def cosine(sets, a, b, user):
    """Cosine of the user sets of items a and b (e.g. their raters), without `user`."""
    ra, rb = sets[a] - {user}, sets[b] - {user}
    return len(ra & rb) / math.sqrt(len(ra) * len(rb)) if ra and rb else 0.0


def test_lists(by_user, titles, count, rng, popular):
    """Each user's test list: (user, ratings, shuffled [(item, rating or 0)], relevances). The
    M - P negatives are films the user never rated (nor one of the same title), drawn uniformly
    or, with `popular`, in proportion to their rating count `count` (+1)."""
    items = sorted(titles)
    weights = [count[i] + 1 for i in items]
    for u in sorted(by_user):
        rs = by_user[u]
        if len(rs) < L + 2 * P:
            continue
        rated = {i for _, i, _ in rs}
        rated_titles = {titles[i] for i in rated}
        negatives = []
        while len(negatives) < M - P:
            i = rng.choices(items, weights)[0] if popular else rng.choice(items)
            if i not in rated and titles[i] not in rated_titles and i not in negatives:
                negatives.append(i)
        cands = [(i, r) for _, i, r in rs[-P:]] + [(i, 0) for i in negatives]
        rng.shuffle(cands)
        yield u, rs, cands, [r for _, r in cands]


def parse_args(doc):
    """The command line of these protocol re-implementations: the ML-100K folder, the kind of
    negatives and the seed of the test-list draw (`doc` is the script's help text)."""
    ap = argparse.ArgumentParser(description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ml100k", help="folder with u.data and u.item")
    ap.add_argument("--popular", action="store_true",
                    help="negatives drawn in proportion to their rating counts")
    ap.add_argument("--seed", type=int, default=1)
    return ap.parse_args()


def main():
    args = parse_args(__doc__)

    by_user, titles = load_ml100k(args.ml100k)
    raters, count = collections.defaultdict(set), collections.Counter()
    for u, i, _ in before_test(by_user):
        raters[i].add(u)
        count[i] += 1
    top = max(count.values())

    def pop_tier(c, n=7):
        return 1 + sum(1 for k in range(1, n) if (c << k) >= top)

    scores = collections.defaultdict(list)
    for u, rs, cands, rel in test_lists(by_user, titles, count, random.Random(args.seed),
                                        args.popular):
        hist = [i for _, i, _ in rs[-P - L:-P]]
        sim = [sum(cosine(raters, c, h, u) for h in hist) / len(hist) for c, _ in cands]
        pop = [count[c] for c, _ in cands]

        def by(key):  # ties by shown position, as a model copying the note would
            return ndcg10(rel, sorted(range(M), key=lambda j: (-key(j), j)))

        scores["random (shown order)"].append(ndcg10(rel, list(range(M))))
        scores["popularity (count)"].append(by(lambda j: pop[j]))
        scores["popularity T/7"].append(by(lambda j: pop_tier(pop[j])))
        scores["similarity (cosine)"].append(by(lambda j: sim[j]))
        scores["similarity T/7 (tenths)"].append(by(lambda j: min(7, 1 + int(10 * sim[j]))))
        scores["similarity in 40ths"].append(by(lambda j: min(20, 1 + int(40 * sim[j]))))
        scores["similarity T/7, then popularity T/7"].append(
            by(lambda j: 100 * min(7, 1 + int(10 * sim[j])) + pop_tier(pop[j])))
    for name, v in scores.items():
        print(f"{name:38s} NDCG@10 {sum(v) / len(v):.4f}  ({len(v)} lists)")


if __name__ == "__main__":
    main()
