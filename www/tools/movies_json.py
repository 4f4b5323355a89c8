#!/usr/bin/env python3
"""Writes the demo page's movie list from the vendored MovieLens latest-small files.

Usage: python3 www/tools/movies_json.py data/ml-latest-small www/data/movies.json

Output: {"source": ..., "movies": [{"id": "ml123", "t": title, "g": genres, "n": ratings}, ...]}
sorted by number of ratings (popularity), most rated first; ties by id so the file is
byte-identical on every build. Standard library only (lzma, csv, json).
"""
import csv
import io
import json
import lzma
import sys
from collections import Counter
from pathlib import Path


def read_csv_xz(path):
    with lzma.open(path, "rt", encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f)


def main(src, out):
    src = Path(src)
    counts = Counter(row["movieId"] for row in read_csv_xz(src / "ratings.csv.xz"))
    movies = []
    for row in read_csv_xz(src / "movies.csv.xz"):
        movies.append(
            {
                "id": "ml" + row["movieId"],
                "t": row["title"].strip(),
                "g": "" if row["genres"] == "(no genres listed)" else row["genres"],
                "n": counts.get(row["movieId"], 0),
            }
        )
    movies.sort(key=lambda m: (-m["n"], int(m["id"][2:])))
    doc = {
        "source": "MovieLens latest-small (GroupLens, grouplens.org); see data/ml-latest-small/README.txt",
        "movies": movies,
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    tmp.replace(out)
    print(f"[www] {out}: {len(movies)} movies, {out.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
