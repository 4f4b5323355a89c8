#!/usr/bin/env python3
"""Training lists from each user's latest window before the test: the validation lists of
`alro data prepare`, split by user into a training set and a small held-out validation set.
Standard library only.

Why: the test window is each user's last ratings, and on MovieLens 100K those differ from the
user's earlier windows in a way a title shows — new films (1997, 1998) are 30% of test
positives and 26% of validation positives, but 8-20% of training positives, against 17% of
negatives everywhere (research/release_year_signal.py). A ranker trained on the earlier windows
only learns the opposite. The validation window ends where the test window starts, and the
baselines are fitted on every rating before the test window, so training on it uses no rating
they do not see.

  alro data prepare --dataset ml-100k --path ../shared/data/ml-100k --similarity-tiers 20 \\
      --similarity-steps 40 --out m20
  python3 research/scripts/latest_window_lists.py m20 latest   # 903 training, 40 validation lists
  alro train --data latest --config research/configs/release-stage5-latest-window.toml \
      --init-adapter models/ranker/adapter.safetensors --out runs/stage5

Tried as a fifth release stage and not adopted: 0.0039 and 0.0034 below the release on the test
lists (research/release-ranker-log.md, "Stage 5").

The held-out users are a seeded random choice (`--holdout`, `--seed`); the training lists are in
a seeded random order and marked `"split": "train"`. manifest.json is copied unchanged.
"""
import argparse
import json
import os
import random
import shutil


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lists", help="folder written by `alro data prepare` (validation.jsonl)")
    ap.add_argument("out", help="folder to write train.jsonl, validation.jsonl, manifest.json")
    ap.add_argument("--holdout", type=int, default=40, help="users kept for validation")
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    src = os.path.join(args.lists, "validation.jsonl")
    with open(src) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    users = sorted({r["user"] for r in rows}, key=lambda u: (len(u), u))
    if args.holdout >= len(users):
        raise SystemExit(f"{src}: {len(users)} users, fewer than --holdout {args.holdout} + 1")
    held = set(random.Random(args.seed).sample(users, args.holdout))
    train = [r for r in rows if r["user"] not in held]
    validation = [r for r in rows if r["user"] in held]
    random.Random(args.seed + 1).shuffle(train)
    for r in train:
        r["split"] = "train"
    os.makedirs(args.out, exist_ok=True)
    for name, part in (("train", train), ("validation", validation)):
        with open(os.path.join(args.out, f"{name}.jsonl"), "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in part))
    shutil.copy(os.path.join(args.lists, "manifest.json"), os.path.join(args.out, "manifest.json"))
    print(f"{args.out}: {len(train)} training lists, {len(validation)} validation lists "
          f"(latest window before the test of each user)")


if __name__ == "__main__":
    main()
