#!/usr/bin/env python3
"""Rewrites prepared lists for the sanity task of BENCHMARKS.md: each candidate's relevance
becomes its popularity tier (from the `popularity T/N` note, so the lists must be prepared with
--popularity-tiers) and the target becomes exactly the tier order, ties by shown position — an
answer fully written in the prompt. Standard library only.

  alro data prepare --dataset ml-100k --path ../shared/data/ml-100k --history-len 5 \\
      --candidates 10 --popularity-tiers 7 --out /tmp/notes
  python3 scripts/tier_sanity_lists.py /tmp/notes /tmp/tier
  alro train --data /tmp/tier --config configs/ml100k-tier-sanity.toml --preset sft
"""
import json
import os
import shutil
import sys


def rewrite(src, dst):
    with open(src) as f, open(dst, "w") as out:
        for n, line in enumerate(f, 1):
            ex = json.loads(line)
            try:
                tiers = [int(c["note"].split()[1].split("/")[0]) for c in ex["candidates"]]
            except (KeyError, IndexError, ValueError):
                raise SystemExit(f"{src}:{n}: a candidate has no `popularity T/N` note "
                                 "(prepare the lists with --popularity-tiers)")
            ex["relevance"] = [float(t) for t in tiers]
            ex["target"] = sorted(range(len(tiers)), key=lambda i: (-tiers[i], i))
            out.write(json.dumps(ex) + "\n")


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, dst = sys.argv[1:]
    os.makedirs(dst, exist_ok=True)
    for name in ("train.jsonl", "validation.jsonl", "test.jsonl"):
        if os.path.exists(os.path.join(src, name)):
            rewrite(os.path.join(src, name), os.path.join(dst, name))
    if os.path.exists(os.path.join(src, "manifest.json")):
        shutil.copy(os.path.join(src, "manifest.json"), dst)


if __name__ == "__main__":
    main()
