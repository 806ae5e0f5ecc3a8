# Feasibility probe for issue 8 (see ../FEASIBILITY.md); throw-away measurement script, not a test.
import os, sys, time, json, socket, urllib.request

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def main():
    model = sys.argv[1]
    t0 = time.time()
    import ray
    from ray import serve
    from ray.serve.llm import LLMConfig, build_openai_app
    ray.init(num_cpus=2, include_dashboard=False)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    cfg = LLMConfig(
        model_loading_config=dict(model_id="tiny", model_source=model),
        accelerator_config={"kind": "cpu"},
        placement_group_config={"bundles": [{"CPU": 1}]},
        engine_kwargs=dict(dtype="float32", max_model_len=512, kv_cache_memory_bytes=256 * 2**20, enforce_eager=True, max_num_seqs=16),
        deployment_config=dict(num_replicas=1, ray_actor_options={"num_cpus": 0}),
        log_engine_metrics=False,
    )
    app = build_openai_app({"llm_configs": [cfg]})
    serve.run(app, blocking=False)
    t1 = time.time()
    body = json.dumps({"model": "tiny", "prompt": "the miller listened to the river", "max_tokens": 16, "seed": 0}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", data=body, headers={"Content-Type": "application/json"})
    resp = json.loads(urllib.request.urlopen(req, timeout=120).read())
    t2 = time.time()
    print("RESPONSE", json.dumps(resp)[:600])
    print("RESULT", json.dumps({"startup_s": round(t1 - t0, 1), "request_s": round(t2 - t1, 2), "completion_tokens": resp.get("usage", {}).get("completion_tokens")}))
    serve.shutdown(); ray.shutdown()

if __name__ == "__main__":
    main()
