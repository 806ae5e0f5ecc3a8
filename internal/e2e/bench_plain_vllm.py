"""Plain vllm.LLM.generate baseline of `make bench-e2e`.

Usage: python bench_plain_vllm.py MODEL_DIR PROMPTS_JSONL MAX_TOKENS
Runs the prompts (rows {"id", "prompt"}) through one vllm.LLM with the engine
and sampling settings of the e2e batch job on CPU, and prints one line "rayvllm-bench-plain: " + JSON (vLLM logs to stdout too):

    startup_seconds   process start to engine ready (imports, model load)
    seconds           the timed generate() call over all prompts
    output_tokens     generated tokens (engine token ids), summed
    output_tokens_per_second  output_tokens / seconds
    wall_seconds      process start to the end of generate()

Four prompts are generated once before the timed call, so that one-time
work on the first request is not counted (the batch job's engine metrics
start at its first request, which also pays it: a small bias against it).
"""

import json
import sys
import time

T0 = time.time()


def main():
    model, prompts_path, max_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from vllm import LLM, SamplingParams

    with open(prompts_path, encoding="utf-8") as f:
        prompts = [json.loads(line)["prompt"] for line in f if line.strip()]
    llm = LLM(model=model, dtype="float32", max_model_len=512, max_num_seqs=64, seed=0,
              kv_cache_memory_bytes=256 * 2**20, enforce_eager=True)
    sp = SamplingParams(max_tokens=max_tokens, min_tokens=1, temperature=1.0, seed=0)
    llm.generate(prompts[:4], sp, use_tqdm=False)
    ready = time.time()
    start = time.perf_counter()
    outs = llm.generate(prompts, sp, use_tqdm=False)
    seconds = time.perf_counter() - start
    tokens = sum(len(o.outputs[0].token_ids) for o in outs)
    print("rayvllm-bench-plain: " + json.dumps({
        "prompts": len(prompts),
        "startup_seconds": round(ready - T0, 2),
        "seconds": round(seconds, 3),
        "output_tokens": tokens,
        "output_tokens_per_second": round(tokens / seconds, 1),
        "wall_seconds": round(time.time() - T0, 2),
    }), flush=True)


if __name__ == "__main__":
    main()
