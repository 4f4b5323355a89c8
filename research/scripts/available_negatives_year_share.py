#!/usr/bin/env python3
"""Share of 1997+ titles among positives and negatives of ML-100K windows (test: each user's last
5 ratings, validation: the 5 before, train: every 5 before that), with negatives drawn uniformly
from the films the user never rated ("uniform") or only from those someone had rated by the
window's last rating ("available", no film from the future). Its own draws; stdlib only.

  python3 research/scripts/available_negatives_year_share.py ../shared/data/ml-100k
"""
import collections, re, random, os, sys
P, L, M = 5, 10, 20
d = sys.argv[1]  # folder with u.data and u.item
by_user = collections.defaultdict(list); first = {}
for line in open(os.path.join(d, "u.data")):
    u, i, r, t = map(int, line.split("\t")); by_user[u].append((t, i, r))
    first[i] = min(first.get(i, t), t)
titles = {}
for line in open(os.path.join(d, "u.item"), encoding="latin-1"):
    f = line.split("|"); titles[int(f[0])] = f[1]
def year(i):
    m = re.search(r"\((\d{4})\)\s*$", titles[i].strip()); return int(m.group(1)) if m else 1990
items = sorted(titles); rng = random.Random(1)
st = collections.defaultdict(lambda: [0, 0, 0, 0])
for u, rs in by_user.items():
    rs.sort()
    if len(rs) < L + 2 * P: continue
    rated = {i for _, i, _ in rs}
    # windows: test = last P, validation = the P before, train windows stride P before that
    ends = list(range(len(rs), L + P - 1, -P))
    for k, end in enumerate(ends):
        win = rs[end - P:end]
        kind = "test" if k == 0 else "val" if k == 1 else "train"
        tnow = win[-1][0]
        for mode in ("uniform", "available"):
            pool = [i for i in items if i not in rated and (mode == "uniform" or first[i] <= tnow)]
            neg = rng.sample(pool, min(M - P, len(pool)))
            s = st[(kind, mode)]
            s[0] += sum(year(i) >= 1997 for _, i, _ in win); s[1] += P
            s[2] += sum(year(i) >= 1997 for i in neg); s[3] += len(neg)
for k in sorted(st):
    s = st[k]; print(k, f"pos97 {s[0]/s[1]:.3f} neg97 {s[2]/s[3]:.3f}")
