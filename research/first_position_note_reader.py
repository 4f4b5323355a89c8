"""What a pure note reader reaches on the first-position loss (docs/METHOD.md §6).

For every 10th training list of a prepared folder (similarity notes), the loss
-sum_i t_i log softmax(a * tier)_i with t_i = (2^rel_i - 1) / sum_j (2^rel_j - 1), for a few
temperatures a; also the target's own entropy (the floor) and ln m (a uniform answer).

    python3 research/first_position_note_reader.py PREPARED/train.jsonl
"""
import json
import math
import sys

rows = []
for k, line in enumerate(open(sys.argv[1])):
    if k % 10:
        continue
    d = json.loads(line)
    gains = [2 ** r - 1 for r in d["relevance"]]
    total = sum(gains)
    if total <= 0:
        continue
    tiers = [int(c["note"].split()[1].split("/")[0]) for c in d["candidates"]]
    rows.append(([g / total for g in gains], tiers))
entropy = sum(-sum(x * math.log(x) for x in t if x > 0) for t, _ in rows) / len(rows)
print(f"{len(rows)} lists; target entropy {entropy:.3f}; uniform {math.log(len(rows[0][0])):.3f}")
for a in (0.1, 0.2, 0.3, 0.5, 1, 1.5, 2, 3):  # finer notes (20 tiers) want smaller a
    loss = 0.0
    for t, tiers in rows:
        z = [a * x for x in tiers]
        top = max(z)
        lse = top + math.log(sum(math.exp(v - top) for v in z))
        loss -= sum(ti * (zi - lse) for ti, zi in zip(t, z))
    print(f"a = {a}: {loss / len(rows):.3f}")
