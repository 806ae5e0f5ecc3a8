# Feasibility probe for issue 8 (see ../FEASIBILITY.md); throw-away measurement script, not a test.
import os, sys, time, json
def main():
    model = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    t0 = time.time()
    from vllm import LLM, SamplingParams
    llm = LLM(model=model, dtype=os.environ.get("DTYPE", "float32"), max_model_len=512, seed=0,
              max_num_seqs=int(os.environ.get("MAX_NUM_SEQS", "64")), kv_cache_memory_bytes=256 * 2**20, enforce_eager=os.environ.get("EAGER") == "1")
    t1 = time.time()
    words = "the miller listened to the river before the sun rose over the valley and the clock".split()
    prompts = [" ".join(words[(i % 7):(i % 7) + 5 + i % 5]) + f" number {i}" for i in range(n)]
    sp = SamplingParams(max_tokens=16, seed=0, temperature=float(os.environ.get("TEMP", "1.0")))
    llm.generate(prompts[:4], sp)  # warm-up
    t2 = time.time()
    outs = llm.generate(prompts, sp)
    t3 = time.time()
    gen = sum(len(o.outputs[0].token_ids) for o in outs)
    prompt_toks = sum(len(o.prompt_token_ids) for o in outs)
    print("SAMPLE", [o.outputs[0].text for o in outs[:3]])
    print("RESULT", json.dumps({"prompts": n, "gen_tokens": gen, "prompt_tokens": prompt_toks, "init_s": round(t1 - t0, 1),
          "gen_s": round(t3 - t2, 2), "gen_tok_per_s": round(gen / (t3 - t2), 1), "distinct_outputs": len({o.outputs[0].text for o in outs}), "empty": sum(1 for o in outs if not o.outputs[0].token_ids),
          "finish": {r: sum(1 for o in outs if o.outputs[0].finish_reason == r) for r in {o.outputs[0].finish_reason for o in outs}}}))

if __name__ == '__main__':
    main()