#!/usr/bin/env python3
"""llama.cpp's side of the inference benchmark: same GGUF, same token ids, same thread count.

    python benches/llamacpp_inference.py MODEL.gguf IDS.json [REPEATS]

IDS.json comes from `cargo bench -p alro-trainer --bench inference -- --out IDS.json`.
- prefill: eval of the 512 ids in one batch (n_batch = 512), fresh KV cache each time;
- rank: prefill of the ranking prompt + 19 single-token decode steps, each choosing the
  highest-logit identifier not yet used (the same constrained greedy decoding as ours);
- decode step: the median time of one of those single-token evals.
"""
import json
import resource
import sys
import time

import os

import numpy as np
import llama_cpp
from llama_cpp import Llama

# ALRO_LLAMA_NO_EXTRA_BUFTS=1: load without llama.cpp's extra buffer types (weight repacking,
# AMX). A native build on a CPU that advertises AMX crashes in them inside some VMs.
if os.environ.get("ALRO_LLAMA_NO_EXTRA_BUFTS") == "1":
    _defaults = llama_cpp.llama_model_default_params

    def _without_extra_bufts():
        params = _defaults()
        params.use_extra_bufts = False
        return params

    llama_cpp.llama_cpp.llama_model_default_params = _without_extra_bufts
    llama_cpp.llama.llama_cpp.llama_model_default_params = _without_extra_bufts

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


steps = []


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
            s = time.perf_counter()
            llm.eval([best])
            steps.append(time.perf_counter() - s)
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
    "decode_step_ms": sorted(steps)[len(steps) // 2] * 1000,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
