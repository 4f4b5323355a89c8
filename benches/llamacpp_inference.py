#!/usr/bin/env python3
"""llama.cpp's side of the inference benchmark: same GGUF, same token ids, same thread count.

    python benches/llamacpp_inference.py MODEL.gguf IDS.json [REPEATS]

IDS.json comes from `cargo bench -p alro-trainer --bench inference -- --out IDS.json`.
- prefill: eval of the 512 ids in one batch (n_batch = 512), fresh KV cache each time;
- rank: prefill of the ranking prompt + 19 single-token decode steps, each choosing the
  highest-logit identifier not yet used (the same constrained greedy decoding as ours).
"""
import json
import resource
import sys
import time

import numpy as np
from llama_cpp import Llama

model, ids_path = sys.argv[1], sys.argv[2]
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
ids = json.load(open(ids_path))
threads = 2
llm = Llama(model_path=model, n_ctx=2048, n_batch=512, n_threads=threads, n_threads_batch=threads, logits_all=False, verbose=False)


def prefill():
    llm.reset()
    t = time.perf_counter()
    llm.eval(ids["prefill_ids"])
    return time.perf_counter() - t


def rank():
    llm.reset()
    t = time.perf_counter()
    llm.eval(ids["rank_prompt_ids"])
    allowed = list(ids["identifier_ids"])
    order = []
    while len(allowed) > 1:
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))
        best = max(allowed, key=lambda i: logits[i])
        allowed.remove(best)
        order.append(best)
        if len(allowed) > 1:
            llm.eval([best])
    order.append(allowed[0])
    return time.perf_counter() - t


prefill()  # warm-up
p = sorted(prefill() for _ in range(repeats))[repeats // 2]
r = sorted(rank() for _ in range(repeats))[repeats // 2]
print(json.dumps({
    "impl": "llama.cpp",
    "threads": threads,
    "prefill_tokens": len(ids["prefill_ids"]),
    "prefill_s": p,
    "prefill_tokens_per_s": len(ids["prefill_ids"]) / p,
    "rank_s": r,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
