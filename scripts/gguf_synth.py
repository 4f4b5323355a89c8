#!/usr/bin/env python3
"""A GGUF with a real model's metadata, tokenizer and tensor layout but random weights.

For timing runs on a machine the real file cannot be copied to (the device tool carries at most
64 MiB; SmolLM2-135M's Q4_1 GGUF is 94 MiB): step time and memory depend on shapes and the
tokenizer, not on weight values. Standard library only.

  gguf_synth.py strip MODEL.gguf HEADER      # header only: metadata + tensor table (~2 MiB)
  gguf_synth.py fill HEADER OUT.gguf [SEED]  # header + random weights of the recorded types

Weights: norms (F32 vectors) are 1.0; quantized blocks get a fixed small scale and random
quants (|w| < 0.1), F16/F32 matrices uniform in ±0.05. Values are finite by construction.
"""
import os
import random
import struct
import sys

# ggml type id -> (block elements, block bytes)
BLOCKS = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 8: (32, 34)}
NAMES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 8: "Q8_0"}


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.d, self.p)
        self.p += struct.calcsize("<" + fmt)
        return v[0]

    def string(self):
        n = self.take("Q")
        s = self.d[self.p:self.p + n]
        self.p += n
        return s.decode("utf-8", "replace")

    def value(self, t):
        scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
        if t in scalar:
            return self.take(scalar[t])
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("I"), self.take("Q")
            return [self.value(et) for _ in range(n)]
        raise ValueError(f"unknown GGUF value type {t}")


def parse(data):
    """(tensors [(name, dims, type, offset)], data_start)."""
    r = Reader(data)
    if data[:4] != b"GGUF":
        raise SystemExit("not a GGUF file")
    r.p = 4
    version, n_tensors, n_kv = r.take("I"), r.take("Q"), r.take("Q")
    if version < 2:
        raise SystemExit(f"GGUF version {version} is not supported")
    align = 32
    for _ in range(n_kv):
        key = r.string()
        v = r.value(r.take("I"))
        if key == "general.alignment":
            align = v
    tensors = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("Q") for _ in range(r.take("I"))]
        tensors.append((name, dims, r.take("I"), r.take("Q")))
    start = (r.p + align - 1) // align * align
    return tensors, start


def nbytes(dims, t):
    if t not in BLOCKS:
        raise SystemExit(f"tensor type {t} is not supported by this script (have {sorted(NAMES.values())})")
    n = 1
    for d in dims:
        n *= d
    per, size = BLOCKS[t]
    return n // per * size


def synth(dims, t, rng):
    n_bytes = nbytes(dims, t)
    if t == 0:
        if len(dims) == 1:
            return struct.pack("<f", 1.0) * dims[0]
        n = n_bytes // 4
        return struct.pack(f"<{n}f", *(rng.uniform(-0.05, 0.05) for _ in range(n)))
    if t == 1:
        n = n_bytes // 2
        return struct.pack(f"<{n}e", *(rng.uniform(-0.05, 0.05) for _ in range(n)))
    per, size = BLOCKS[t]
    blocks = n_bytes // size
    out = bytearray(rng.randbytes(n_bytes))
    head = {2: struct.pack("<e", 0.01), 3: struct.pack("<ee", 0.01, -0.08), 8: struct.pack("<e", 0.0007)}[t]
    for i, b in enumerate(head):
        out[i::size] = bytes([b]) * blocks
    return bytes(out)


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("strip", "fill"):
        raise SystemExit(__doc__)
    src, dst = sys.argv[2], sys.argv[3]
    with open(src, "rb") as f:
        data = f.read()
    tensors, start = parse(data)
    if sys.argv[1] == "strip":
        with open(dst, "wb") as f:
            f.write(data[:start])
        print(f"{dst}: {start} header bytes, {len(tensors)} tensors")
        return
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 7)
    with open(dst + ".tmp", "wb") as f:
        f.write(data[:start])
        pos = 0
        for name, dims, t, offset in sorted(tensors, key=lambda x: x[3]):
            if offset < pos:
                raise SystemExit(f"tensor {name} overlaps the one before it")
            f.write(b"\0" * (offset - pos))
            blob = synth(dims, t, rng)
            f.write(blob)
            pos = offset + len(blob)
    os.replace(dst + ".tmp", dst)
    print(f"{dst}: {start + pos} bytes, {len(tensors)} tensors of random weights")


if __name__ == "__main__":
    main()
