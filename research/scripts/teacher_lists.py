#!/usr/bin/env python3
"""Rewrites prepared lists so that their target is the order of a small learned rule over what
the prompt shows (research/benchmarks-history.md, "Recent windows"): the softmax-linear score of the popularity
note and the film's year that research/scripts/prompt_rule_ceiling.py fits on each user's latest training
window ("learned, latest windows"). A curriculum's first stage learns to rank like that rule —
an answer fully written in the prompt, as in scripts/tier_sanity_lists.py — before ALRO on the
real lists. Only training labels are fitted; validation and test lists get the rule's order as
their target (what stage 1 is checked against), never their own labels. Standard library only.

  alro data prepare --dataset ml-100k --path ../shared/data/ml-100k --history-len 5 \\
      --candidates 3 --positives 1 --popularity-tiers 7 --out prepared/notes-m3p1
  python3 research/scripts/teacher_lists.py prepared/notes-m3p1 prepared/teacher --train-sample 1600

Relevance becomes `m − rank` under the rule (so NDCG measures agreement with it); ties by shown
position. With `--train-sample N`, train.jsonl keeps a seeded random N of its lines.
"""
import argparse
import json
import os
import random
import shutil

from prompt_rule_ceiling import learned_rules, prompt_features, tiers_of


def rewrite(src, dst, w, sample=None):
    with open(src) as f:
        lines = list(enumerate(f, 1))  # (line number, text): errors name the file's line
    if sample is not None:
        random.Random(2024).shuffle(lines)
        lines = sorted(lines[:sample])
    changed = 0
    with open(dst, "w") as out:
        for n, line in lines:
            ex = json.loads(line)
            tiers = tiers_of(ex, f"{src}:{n}")
            score = [sum(a * b for a, b in zip(r, w)) for r in prompt_features(ex, tiers)]
            m = len(score)
            order = sorted(range(m), key=lambda i: (-score[i], i))
            changed += order != sorted(range(m), key=lambda i: (-tiers[i], i))
            ex["target"] = order
            ex["relevance"] = [0.0] * m
            for rank, i in enumerate(order):
                ex["relevance"][i] = float(m - rank)
            out.write(json.dumps(ex, separators=(",", ":")) + "\n")
    return len(lines), changed


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", help="an `alro data prepare` folder made with --popularity-tiers")
    ap.add_argument("dst")
    ap.add_argument("--train-sample", type=int, metavar="N")
    args = ap.parse_args()
    w, _ = learned_rules(os.path.join(args.src, "train.jsonl"))
    print("rule weights:", " ".join(f"{x:+.2f}" for x in w))
    os.makedirs(args.dst, exist_ok=True)
    for name in ("train", "validation", "test"):
        sample = args.train_sample if name == "train" else None
        src, dst = (os.path.join(d, f"{name}.jsonl") for d in (args.src, args.dst))
        kept, changed = rewrite(src, dst, w, sample)
        print(f"{name}: {kept} lists, {changed} ordered otherwise than by the note alone")
    shutil.copy(os.path.join(args.src, "manifest.json"), args.dst)


if __name__ == "__main__":
    main()
