# Feasibility probe for issue 8 (see ../FEASIBILITY.md); throw-away measurement script, not a test.
import os, sys, time, json

def main():
    model = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    mode = os.environ.get("MODE", "cpu_pg")  # "default" = no placement_group_config
    t0 = time.time()
    import ray
    from ray.data.llm import vLLMEngineProcessorConfig, build_processor
    ray.init(num_cpus=2, include_dashboard=False)
    kw = dict(
        model_source=model,
        engine_kwargs=dict(dtype="float32", max_model_len=512, kv_cache_memory_bytes=256 * 2**20,
                           enforce_eager=os.environ.get("EAGER", "1") == "1", max_num_seqs=64),
        batch_size=int(os.environ.get("BATCH", "16")),
        concurrency=1,
        max_concurrent_batches=int(os.environ.get("MCB", "4")),
        chat_template_stage=False,
        tokenize_stage=False,
        detokenize_stage=False,
        log_engine_metrics=False,
    )
    if mode == "cpu_pg":
        kw["placement_group_config"] = {"bundles": [{"CPU": 1}]}
    config = vLLMEngineProcessorConfig(**kw)
    proc = build_processor(
        config,
        preprocess=lambda row: dict(prompt=row["prompt"], sampling_params=dict(max_tokens=16, seed=0)),
        postprocess=lambda row: dict(id=row["id"], text=row["generated_text"], t=time.time(), m=json.dumps(row.get("metrics")), ttl=row.get("time_taken_llm"),
                                     n_tokens=len(row["generated_tokens"]) if row.get("generated_tokens") is not None else -1),
    )
    words = "the miller listened to the river before the sun rose over the valley and the clock".split()
    rows = [dict(id=i, prompt=" ".join(words[(i % 7):(i % 7) + 5 + i % 5]) + f" number {i}") for i in range(n)]
    ds = ray.data.from_items(rows)
    t1 = time.time()
    out = proc(ds).take_all()
    t2 = time.time()
    gen = sum(r["n_tokens"] for r in out)
    out.sort(key=lambda r: r["t"])
    first_t = out[0]["t"]
    steady_tok = sum(r["n_tokens"] for r in out if r["t"] > first_t + 1e-9)
    steady_s = out[-1]["t"] - first_t
    print("SAMPLE", out[:2])
    ms = [json.loads(r["m"]) for r in out if r["m"] not in (None, "null")]
    if ms:
        w = max(m["last_token_ts"] for m in ms) - min(m["queued_ts"] for m in ms)
        print("ENGINE_WINDOW", json.dumps({"rows_with_metrics": len(ms), "window_s": round(w, 2), "engine_tok_per_s": round(gen / w, 1)}))
    print("RESULT", json.dumps({"mode": mode, "rows": len(out), "ids_unique": len({r["id"] for r in out}), "gen_tokens": gen,
          "empty": sum(1 for r in out if not r["text"]), "ray_init_s": round(t1 - t0, 1), "pipeline_wall_s": round(t2 - t1, 1),
          "tok_per_s_incl_startup": round(gen / (t2 - t1), 1), "steady_s": round(steady_s, 2), "steady_tok_per_s": round(steady_tok / steady_s, 1) if steady_s > 0 else None, "first_row_after_s": round(first_t - t1, 1)}))

if __name__ == "__main__":
    main()
