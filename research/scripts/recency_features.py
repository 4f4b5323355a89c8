#!/usr/bin/env python3
"""Would a time feature shown in the prompt let a ranker learn the recency edge from all
training windows, not only each user's latest one? (research/benchmarks-history.md, "Time features".)

The learned rule of research/scripts/prompt_rule_ceiling.py beats popularity on the test lists only when
it is fitted on the latest windows, because the film's year means something else in a window
months older (a 1998 film there was often not yet out, so a negative). A note computed relative
to the list's own time would mean the same in every window. This script fits the same
softmax-linear rule on the popularity tier plus one of these candidate features, once on the
latest window per user and once on as many random windows, and prints test NDCG@10:
- year: the year bucket of the title (1998, 1997, 1995–96, older) — absolute, as the prompt shows;
- release age: time from the film's u.item release date to the list's last history rating
  (not yet out, < 3, < 6, < 12, < 24 months, older);
- first rating: time from the film's first rating to the list's last history rating (none yet,
  < 30, < 60, < 120 days, older), counted only over the ratings the baselines may be fitted on
  (Protocol::fit_ratings: each user's last rating, and for training lists the one before it,
  excluded).
Standard library only.

  alro data prepare --dataset ml-100k --path ../shared/data/ml-100k --history-len 5 \\
      --candidates 3 --positives 1 --popularity-tiers 7 --out prepared/notes-m3p1
  python3 research/scripts/recency_features.py prepared/notes-m3p1 ../shared/data/ml-100k
"""
import argparse
import bisect
import datetime
import json
import os
import random

from prompt_rule_ceiling import fit_softmax, ndcg, tiers_of, title_year

DAY = 86400


def one_hot(k, n):
    row = [0.0] * n
    row[k] = 1.0
    return row


def read_times(folder):
    """(user, item) → timestamp, and per item the sorted timestamps of the ratings a baseline may
    see for test lists (each user's last rating held out) and for training lists (last two)."""
    by_user = {}
    with open(os.path.join(folder, "u.data")) as f:
        for n, line in enumerate(f, 1):
            try:
                u, i, _, t = line.split()
                by_user.setdefault(u, []).append((int(t), int(i), i))
            except ValueError:
                raise SystemExit(f"{folder}/u.data:{n}: expected `user item rating timestamp`")
    when, seen = {}, {"test": {}, "train": {}}
    for u, rs in by_user.items():
        rs.sort()
        for t, _, i in rs:
            when[(u, i)] = t
        for split, held in (("test", 1), ("train", 2)):
            for t, _, i in rs[: len(rs) - held]:
                seen[split].setdefault(i, []).append(t)
    for split in seen.values():
        for ts in split.values():
            ts.sort()
    return when, seen


def read_release(folder):
    out = {}
    with open(os.path.join(folder, "u.item"), encoding="latin-1") as f:
        for line in f:
            fields = line.split("|")
            try:
                d = datetime.datetime.strptime(fields[2], "%d-%b-%Y")
                out[fields[0]] = d.replace(tzinfo=datetime.timezone.utc).timestamp()
            except (IndexError, ValueError):
                pass  # 1 film has no release date: it gets the "older" bucket
    return out


def features(ex, split, kind, when, seen, release, where):
    ref = when[(ex["user"], ex["history_items"][-1])]
    tiers = tiers_of(ex, where)
    n = int(ex["candidates"][0]["note"].split("/")[1])
    rows = []
    for c, tier in zip(ex["candidates"], tiers):
        row = one_hot(tier - 1, n)
        if kind == "year":
            y = title_year(c["title"])
            row += one_hot(0 if y >= 1998 else 1 if y == 1997 else 2 if y >= 1995 else 3, 4)
        elif kind == "release age":
            months = (ref - release.get(c["id"], 0)) / DAY / 30.4
            row += one_hot(next(k for k, lim in enumerate((0, 3, 6, 12, 24, 1e9)) if months < lim), 6)
        elif kind == "first rating":
            ts = seen[split].get(c["id"], [])
            days = (ref - ts[0]) / DAY if bisect.bisect_left(ts, ref) > 0 else -1
            row += one_hot(next(k for k, lim in enumerate((0, 30, 60, 120, 1e9)) if days < lim), 5)
        rows.append(row)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lists", help="an `alro data prepare` folder made with --popularity-tiers")
    ap.add_argument("ml100k", help="the ML-100K folder (u.data, u.item)")
    args = ap.parse_args()
    when, seen = read_times(args.ml100k)
    release = read_release(args.ml100k)

    def read(split):
        path = os.path.join(args.lists, f"{split}.jsonl")
        with open(path) as f:
            return [(json.loads(line), f"{path}:{n}") for n, line in enumerate(f, 1)]

    train, test = read("train"), read("test")
    latest = {}
    for ex, where in train:
        if ex["window_start"] >= latest.get(ex["user"], ({"window_start": -1}, ""))[0]["window_start"]:
            latest[ex["user"]] = (ex, where)
    fits = {"latest windows": list(latest.values()),
            "random windows": random.Random(2024).sample(train, len(latest))}
    print(f"{'feature':14} {'fitted on':16} test NDCG@10 ({len(test)} lists)")
    for kind in ("none", "year", "release age", "first rating"):
        for name, lists in fits.items():
            w = fit_softmax([(features(ex, "train", kind, when, seen, release, where),
                              max(range(len(ex["relevance"])), key=lambda i: ex["relevance"][i]))
                             for ex, where in lists])
            total = 0.0
            for ex, where in test:
                rows = features(ex, "test", kind, when, seen, release, where)
                score = [sum(a * b for a, b in zip(r, w)) for r in rows]
                total += ndcg(ex["relevance"], sorted(range(len(rows)), key=lambda i: (-score[i], i)))
            print(f"{kind:14} {name:16} {total / len(test):.4f}", flush=True)


if __name__ == "__main__":
    main()
