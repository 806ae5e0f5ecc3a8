"""GPU probe for the memory model's sampler and non-torch terms.

Re-implements, in plain PyTorch, the live set of vLLM V1's PyTorch-native
sampling path during the start-up profile (`_dummy_sampler_run` with
temperature, top-k and top-p on: fp32 copy of the logits, sort values and
int64 indices, top-k/top-p masks, softmax/cumsum, scatter back, softmax and
the exponential draw) and reports the measured peak bytes per logit, plus the
GPU's usable memory, the CUDA context and copy bandwidth. No vLLM needed.
Usage: OUT=dir python sampler_probe.py  (writes $OUT/sampler-probe.json)
"""
import json
import os
import time

import torch


def sampler(logits_bf16, top_k, top_p, temperature):
    logits = logits_bf16.to(torch.float32)
    logits.div_(temperature.unsqueeze(1))
    logits_sort, logits_idx = logits.sort(dim=-1, descending=False)
    kth = logits_sort.gather(1, (logits_sort.size(1) - top_k).unsqueeze(1))
    logits_sort.masked_fill_(logits_sort < kth, -float("inf"))
    probs_sort = logits_sort.softmax(dim=-1)
    probs_sum = torch.cumsum(probs_sort, dim=-1, out=probs_sort)
    mask = probs_sum <= 1 - top_p.unsqueeze(1)
    mask[:, -1] = False
    logits_sort.masked_fill_(mask, -float("inf"))
    logits = logits_sort.scatter(dim=-1, index=logits_idx, src=logits_sort)
    probs = logits.softmax(dim=-1, dtype=torch.float32)
    q = torch.empty_like(probs).exponential_()
    return probs.div_(q).argmax(dim=-1)


def main():
    dev = torch.device("cuda")
    res = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name()}
    free, total = torch.cuda.mem_get_info()
    res["total_gib"] = total / 2**30
    res["used_after_ctx_gib"] = (total - free) / 2**30
    rows_list = [256, 1024]
    vocabs = {"llama-2 (32000)": 32000, "llama-3 (128256)": 128256, "qwen (151936)": 151936}
    res["sampler"] = []
    for name, vocab in vocabs.items():
        for rows in rows_list:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            logits = torch.randn(rows, vocab, device=dev, dtype=torch.bfloat16)
            top_k = torch.full((rows,), 50, device=dev, dtype=torch.long)
            top_p = torch.full((rows,), 0.9, device=dev)
            temp = torch.full((rows,), 0.7, device=dev)
            out = sampler(logits, top_k, top_p, temp)
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - base
            small = 3 * rows * 8 + out.numel() * 8
            res["sampler"].append({
                "vocab": name, "rows": rows,
                "peak_gib": round(peak / 2**30, 4),
                "bytes_per_logit": round((peak - small) / (rows * vocab), 2),
            })
            del logits, top_k, top_p, temp, out
    torch.cuda.empty_cache()
    n = 4 * 2**30
    a = torch.empty(n, dtype=torch.uint8, device=dev)
    b = torch.empty_like(a)
    b.copy_(a)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    reps = 20
    for _ in range(reps):
        b.copy_(a)
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    res["copy_tbps_read_plus_write"] = round(2 * n * reps / dt / 1e12, 3)
    del a, b
    x = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    x @ x
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(20):
        x @ x
    torch.cuda.synchronize()
    res["bf16_matmul_tflops"] = round(20 * 2 * 8192**3 / (time.perf_counter() - t0) / 1e12, 1)
    out_dir = os.environ.get("OUT", ".")
    with open(os.path.join(out_dir, "sampler-probe.json"), "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
