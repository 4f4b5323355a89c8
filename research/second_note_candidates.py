#!/usr/bin/env python3
"""Would a second note built from the same ratings add to the similarity note? An independent
re-implementation (stdlib only) of the default protocol on ML-100K, as research/note_ceiling_m20.py
(its own random draws: compare the rows with each other, not with `alro eval`), scoring NDCG@10
(gain 2^rel - 1) of candidate orders a ranker reading notes could copy, each with a 95% bootstrap
interval of its difference to the similarity note (20 tiers of 1/40 cosine, the release's note).

Candidates for a second note: the cosine over the history films the user liked (4-5 stars) or
weighted by the user's rating; the cosine of "liked" rater sets (raters who gave 4-5); the mean
cosine over the user's whole profile before the window instead of the last L; the film's mean
rating (shrunk to the global mean by 10 pseudo-ratings); and sums and products of these with the
note. None adds more than a few thousandths on both kinds of negatives: what the note misses is
not in who rated what (research/release_year_signal.py: the title's year is).

  python3 research/second_note_candidates.py ../shared/data/ml-100k            # uniform negatives
  python3 research/second_note_candidates.py ../shared/data/ml-100k --popular  # by rating count
"""
import collections
import random

from note_ceiling_m20 import (L, M, P, before_test, cosine, load_ml100k, ndcg10, parse_args,
                              test_lists)


def main():
    args = parse_args(__doc__)

    by_user, titles = load_ml100k(args.ml100k)
    # Counts and rater sets at the baselines' cut.
    raters, liked = collections.defaultdict(set), collections.defaultdict(set)
    count, rating_sum = collections.Counter(), collections.Counter()
    for u, i, r in before_test(by_user):
        raters[i].add(u)
        count[i] += 1
        rating_sum[i] += r
        if r >= 4:
            liked[i].add(u)
    global_mean = sum(rating_sum.values()) / sum(count.values())

    def mean_rating(i, k=10):
        return (rating_sum[i] + k * global_mean) / (count[i] + k)

    def note(s):
        return min(20, 1 + int(40 * s))

    scores = collections.defaultdict(list)
    for u, rs, cands, rel in test_lists(by_user, titles, count, random.Random(args.seed),
                                        args.popular):
        hist = [(i, r) for _, i, r in rs[-P - L:-P]]
        liked_hist = [i for i, r in hist if r >= 4] or [i for i, _ in hist]
        user_mean = sum(r for _, r in hist) / len(hist)
        profile = [i for _, i, _ in rs[:-P]]

        def mean_cos(sets, c, films):
            return sum(cosine(sets, c, h, u) for h in films) / len(films)

        sim = [mean_cos(raters, c, [h for h, _ in hist]) for c, _ in cands]
        sim_liked = [mean_cos(raters, c, liked_hist) for c, _ in cands]
        sim_weighted = [sum((r - user_mean + 0.5) * cosine(raters, c, h, u) for h, r in hist)
                        / len(hist) for c, _ in cands]
        liked_raters = [mean_cos(liked, c, [h for h, _ in hist]) for c, _ in cands]
        sim_profile = [mean_cos(raters, c, profile) for c, _ in cands]
        quality = [mean_rating(c) for c, _ in cands]

        def by(key):  # ties by shown position, as a model copying the note would
            return ndcg10(rel, sorted(range(M), key=lambda j: (-key(j), j)))

        scores["similarity note (20 tiers of 1/40)"].append(by(lambda j: note(sim[j])))
        scores["similarity cosine (untiered)"].append(by(lambda j: sim[j]))
        scores["cosine over liked history films"].append(by(lambda j: sim_liked[j]))
        scores["cosine weighted by history rating"].append(by(lambda j: sim_weighted[j]))
        scores["cosine of liked-rater sets"].append(by(lambda j: liked_raters[j]))
        scores["note + liked-rater cosine"].append(by(lambda j: sim[j] + liked_raters[j]))
        scores["cosine over the whole profile"].append(by(lambda j: sim_profile[j]))
        scores["note + 0.5 whole-profile cosine"].append(by(lambda j: sim[j] + 0.5 * sim_profile[j]))
        scores["mean rating (shrunk)"].append(by(lambda j: quality[j]))
        scores["cosine x sqrt(mean rating)"].append(by(lambda j: sim[j] * quality[j] ** 0.5))
        scores["note + (mean rating - mean)"].append(
            by(lambda j: note(sim[j]) + (quality[j] - global_mean)))
    base = scores["similarity note (20 tiers of 1/40)"]
    boot = random.Random(7)
    for name, v in scores.items():
        diffs = [a - b for a, b in zip(v, base)]
        means = sorted(sum(boot.choice(diffs) for _ in diffs) / len(diffs) for _ in range(1000))
        print(f"{name:36s} NDCG@10 {sum(v) / len(v):.4f}  vs note {sum(diffs) / len(diffs):+.4f} "
              f"[{means[25]:+.4f}, {means[974]:+.4f}]  ({len(v)} lists)")


if __name__ == "__main__":
    main()
