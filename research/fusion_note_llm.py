#!/usr/bin/env python3
"""Does the ranker add anything to the note it reads? Score fusion of the release ranker's
single-pass log-probabilities with the similarity tier of each candidate's note:
`score = log p₁(candidate) + w · tier`, for a grid of w, against the note alone (ties scored by
their expected NDCG, as `alro eval` does), with a paired 95% bootstrap interval over lists.

    python3 research/fusion_note_llm.py LISTS.jsonl SCORES.jsonl [--w W ...]

LISTS.jsonl: `alro data prepare` examples (candidates with `similarity T/N` notes, relevance);
SCORES.jsonl: `alro rank --mode single --format jsonl` on the same file (line i answers list i).
"""
import argparse
import json
import math
import random
import re

K = 10


def gain(r):
    return 2.0 ** r - 1.0


def expected_ndcg(rel, scores, k=K):
    """NDCG@k with ties in expectation (every tied block gets its mean gain at each position)."""
    ideal = sorted(rel, reverse=True)
    idcg = sum(gain(r) / math.log2(i + 2) for i, r in enumerate(ideal[:k]))
    if idcg == 0:
        return None
    order = sorted(range(len(rel)), key=lambda i: -scores[i])
    dcg, pos = 0.0, 0
    while pos < len(order) and pos < k:
        end = pos
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[pos]]:
            end += 1
        block = order[pos:end + 1]
        mean_gain = sum(gain(rel[i]) for i in block) / len(block)
        dcg += sum(mean_gain / math.log2(p + 2) for p in range(pos, min(end + 1, k)))
        pos = end + 1
    return dcg / idcg


def tier(note):
    m = re.search(r"similarity (\d+)/(\d+)", note or "")
    if not m:
        raise SystemExit(f"note {note!r} has no `similarity T/N` part")
    return int(m.group(1))


def bootstrap(d, seed=2024, b=1000):
    rng = random.Random(seed)
    n = len(d)
    means = sorted(sum(d[rng.randrange(n)] for _ in range(n)) / n for _ in range(b))
    return sum(d) / n, means[int(0.025 * b)], means[int(0.975 * b) - 1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lists")
    ap.add_argument("scores")
    ap.add_argument("--w", type=float, nargs="*",
                    default=[0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 1e6])
    a = ap.parse_args()
    with open(a.lists) as f:
        lists = [json.loads(l) for l in f]
    with open(a.scores) as f:
        answers = [json.loads(l) for l in f]
    if len(lists) != len(answers):
        raise SystemExit(f"{len(lists)} lists but {len(answers)} answers")
    rows = []
    for ex, ans in zip(lists, answers):
        ids = [c["id"] for c in ex["candidates"]]
        if sorted(ids) != sorted(ans["ranking"]):
            raise SystemExit(f"user {ex['user']}: the answer ranks other candidates")
        rows.append(([tier(c["note"]) for c in ex["candidates"]],
                     [ans["scores"][i] for i in ids], ex["relevance"]))
    note = [expected_ndcg(rel, t) for t, _, rel in rows]
    keep = [i for i, v in enumerate(note) if v is not None]
    note = [note[i] for i in keep]
    print(f"{len(keep)} lists; note alone {sum(note) / len(note):.4f}")
    for w in a.w:
        fused = [expected_ndcg(rows[i][2], [lp + w * t for t, lp in zip(rows[i][0], rows[i][1])])
                 for i in keep]
        mean, lo, hi = bootstrap([f - n for f, n in zip(fused, note)])
        print(f"w {w:g}: {sum(fused) / len(fused):.4f}  vs note {mean:+.4f} [{lo:+.4f}, {hi:+.4f}]")


if __name__ == "__main__":
    main()
