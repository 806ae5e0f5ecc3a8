"""Stand-in batch job for the apply-level test of modules/batch-inference.

The test's local Ray has no GPU and no vLLM, so the module's job runs in
custom-entrypoint mode with this script. It checks that the module handed it
the plan (RAYVLLM_* environment variables), reads the prompts from
RAYVLLM_INPUT_URI (a local jsonl file), "answers" each batch of
RAYVLLM_BATCH_SIZE rows in a Ray task (the prompt's words reversed, one token
per word), writes one output row per input row to RAYVLLM_OUTPUT_URI, and
prints the metrics line that rayvllm_batch_job reads back, with the same
fields as the built-in script.
"""

import json
import os
import sys
import time

import ray

REQUIRED = ("RAYVLLM_STACK", "RAYVLLM_INPUT_URI", "RAYVLLM_OUTPUT_URI", "RAYVLLM_MODEL_SOURCE", "RAYVLLM_BATCH_SIZE",
            "RAYVLLM_CONCURRENCY", "RAYVLLM_MAX_NUM_SEQS", "RAYVLLM_MAX_NUM_BATCHED_TOKENS", "RAYVLLM_MAX_MODEL_LEN")


@ray.remote(num_cpus=0.1)
def answer(rows):
    out = []
    for r in rows:
        words = r["prompt"].split()
        out.append({"id": r["id"], "generated_text": " ".join(reversed(words)),
                    "num_input_tokens": len(words), "num_generated_tokens": len(words)})
    return out


def main():
    missing = [k for k in REQUIRED if not os.environ.get(k)]
    if missing:
        sys.exit("missing from the job's environment: " + ", ".join(missing))
    batch_size = int(os.environ["RAYVLLM_BATCH_SIZE"])
    start = time.time()
    with open(os.environ["RAYVLLM_INPUT_URI"], encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    ray.init()
    batches = [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]
    results = [r for part in ray.get([answer.remote(b) for b in batches]) for r in part]
    out_dir = os.environ["RAYVLLM_OUTPUT_URI"]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "part-00000.jsonl"), "w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    wall = max(time.time() - start, 1e-6)
    inp = sum(r["num_input_tokens"] for r in results)
    gen = sum(r["num_generated_tokens"] for r in results)
    metrics = {"rows": len(results), "skipped_rows": 0, "input_tokens": inp, "output_tokens": gen,
               "wall_seconds": wall, "output_tokens_per_second": gen / wall,
               "total_tokens_per_second": (inp + gen) / wall}
    print("rayvllm-metrics: " + json.dumps(metrics, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
