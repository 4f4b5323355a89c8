#!/usr/bin/env python3
"""How far simple rules over what a list's prompt shows can go (research/benchmarks-history.md, "A popularity
warm-up"): ranks each prepared list by the popularity note (ties by shown position), then with
ties or a mix broken by the film's year (in its title) or by how many of the history's genres it
shares (ML-100K's u.item genre flags: what a model could know about a title). Two more rules
are learned: a softmax over the candidates of a linear score of the note and the year (one-hot
tier and year bucket, distance from the history's mean year, newer than every history film),
fitted on the training lists — once on each user's latest training window, once on as many
windows drawn at random from all of them. Prints mean NDCG@10 over the first N lists and over
all lists of each split. Standard library only.

  alro data prepare --dataset ml-100k --path ../shared/data/ml-100k --history-len 5 \\
      --candidates 3 --positives 1 --popularity-tiers 7 --out prepared/notes-m3p1
  python3 research/scripts/prompt_rule_ceiling.py prepared/notes-m3p1 ../shared/data/ml-100k/u.item
"""
import argparse
import json
import math
import os
import random
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


def title_year(title):
    m = re.search(r"\((\d{4})\)\s*$", title) or re.search(r"(\d{4})", title)
    return int(m.group(1)) if m else 0


def prompt_features(ex, tiers):
    """Per candidate: one-hot tier (N), one-hot year bucket (1998+, 1997 … 1990, older), the
    distance from the history's mean year in decades, and whether it is newer than all of them."""
    n = int(ex["candidates"][0]["note"].split("/")[1])
    hy = [y for y in (title_year(h["title"]) for h in ex["history"]) if y] or [1995]
    mean = sum(hy) / len(hy)
    rows = []
    for c, t in zip(ex["candidates"], tiers):
        y = title_year(c["title"])
        f = [0.0] * (n + 10)
        f[t - 1] = 1.0
        f[n + (0 if y >= 1998 else 1 + 1997 - y if y >= 1990 else 9)] = 1.0
        rows.append(f + [abs(y - mean) / 10, float(y >= max(hy))])
    return rows


def fit_softmax(lists, steps=400, lr=0.5, l2=1e-3):
    """Weights of a linear score whose softmax over each list's candidates predicts its most
    relevant one (full-batch gradient descent)."""
    w = [0.0] * len(lists[0][0][0])
    for _ in range(steps):
        g = [l2 * x for x in w]
        for rows, best in lists:
            s = [sum(a * b for a, b in zip(r, w)) for r in rows]
            top = max(s)
            e = [math.exp(v - top) for v in s]
            z = sum(e)
            for i, r in enumerate(rows):
                coef = (e[i] / z - (i == best)) / len(lists)
                for j, x in enumerate(r):
                    if x:
                        g[j] += coef * x
        w = [a - lr * b for a, b in zip(w, g)]
    return w


def learned_rules(path):
    """The two learned weight vectors: latest window per user, and a same-size random sample."""
    by_user, everything = {}, []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            ex = json.loads(line)
            item = (prompt_features(ex, tiers_of(ex, f"{path}:{n}")),
                    max(range(len(ex["relevance"])), key=lambda i: ex["relevance"][i]))
            everything.append(item)
            if ex["window_start"] >= by_user.get(ex["user"], (-1, None))[0]:
                by_user[ex["user"]] = (ex["window_start"], item)
    latest = [item for _, item in by_user.values()]
    sample = random.Random(2024).sample(everything, len(latest))
    return fit_softmax(latest), fit_softmax(sample)


def tiers_of(ex, where):
    try:
        return [int(c["note"].split()[1].split("/")[0]) for c in ex["candidates"]]
    except (KeyError, IndexError, ValueError):
        raise SystemExit(f"{where}: a candidate has no `popularity T/N` note")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lists", help="an `alro data prepare` folder made with --popularity-tiers")
    ap.add_argument("items", help="ML-100K u.item")
    ap.add_argument("--first", type=int, default=100, metavar="N")
    args = ap.parse_args()
    genres, year = read_items(args.items)
    w_latest, w_random = learned_rules(os.path.join(args.lists, "train.jsonl"))
    for split in ("validation", "test"):
        path = os.path.join(args.lists, f"{split}.jsonl")
        scores = {}
        with open(path) as f:
            for n, line in enumerate(f, 1):
                ex = json.loads(line)
                cands = ex["candidates"]
                tier = tiers_of(ex, f"{path}:{n}")
                feats = prompt_features(ex, tier)
                w_latest_i = [sum(a * b for a, b in zip(r, w_latest)) for r in feats]
                w_random_i = [sum(a * b for a, b in zip(r, w_random)) for r in feats]
                shown = [g for h in ex["history_items"] for g in genres.get(h, [])]
                overlap = [sum(shown.count(g) for g in genres.get(c["id"], [])) for c in cands]
                yr = [year.get(c["id"], 0) for c in cands]
                rules = {
                    "popularity note": lambda i: (-tier[i], i),
                    "history genres": lambda i: (-overlap[i], i),
                    "note, then newer year": lambda i: (-tier[i], -yr[i], i),
                    "note, then history genres": lambda i: (-tier[i], -overlap[i], i),
                    "note + 0.3 x history genres": lambda i: (-(tier[i] + 0.3 * overlap[i]), i),
                    "learned, latest windows": lambda i: (-w_latest_i[i], i),
                    "learned, random windows": lambda i: (-w_random_i[i], i),
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
