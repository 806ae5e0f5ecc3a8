"""Built-in batch inference entrypoint of terraform-provider-rayvllm.

The provider ships this file to the cluster as a runtime_env py_modules
package and runs it as a Ray job:

    python -m rayvllm_batch --config-json '<the rendered vllm block>'

It reads the input with Ray Data (jsonl, parquet or csv), turns every row
into a chat (messages) or completion (prompt) request, runs it through
ray.data.llm's vLLM processor (vLLMEngineProcessorConfig + build_processor),
and writes exactly one output row per input row that keeps the row's id:

    <id column>, generated_text, num_input_tokens, num_generated_tokens

Beside the output (<output path>.metrics.json) it writes the run's metrics,
and it prints them as one log line starting with METRICS_PREFIX, which the
provider reads back into the resource's `metrics` attribute:

    rows                      rows processed by this run
    skipped_rows              rows skipped because resume found their output
    input_tokens              sum of num_input_tokens over the processed rows
    output_tokens             sum of num_generated_tokens over the processed rows
    wall_seconds              wall clock from reading the input to the end of writing
    output_tokens_per_second  output_tokens / wall_seconds
    total_tokens_per_second   (input_tokens + output_tokens) / wall_seconds
    engine_seconds            the engines' busy window: from the first request's
                              arrival to the last request's last token, from
                              vLLM's per-request stats (below); excludes Ray's
                              start-up, model loading, reading and writing
    engine_output_tokens_per_second  output_tokens / engine_seconds, the steady state

vLLM's RequestStateStats (vllm/v1/metrics/stats.py) stamp arrival_time with
the wall clock and first_token_ts/last_token_ts with the engine core's
monotonic clock, so a request's last token in wall-clock time is
arrival_time + first_token_latency + (last_token_ts - first_token_ts).
The two engine_ metrics are null when the rows carry no such stats.

With resume, input rows whose id already appears in the output are skipped
and the new rows are appended; without it the output is overwritten.

`run(cfg, build_processor=...)` takes the processor factory as a parameter
so that tests can run the whole Ray Data pipeline with a deterministic
stand-in for vLLM; `main` always uses build_vllm_processor.
"""

import argparse
import json
import os
import sys
import time

METRICS_PREFIX = "rayvllm-metrics: "
FORMATS = ("jsonl", "parquet", "csv")
OUTPUT_COLUMNS = ("generated_text", "num_input_tokens", "num_generated_tokens")
# Ray Data settings for accelerator = "cpu" when the configuration leaves them
# out. Picked with `make bench-e2e` (docs/benchmarks.md): the setting
# with the best steady tokens/s relative to plain vllm.LLM.generate on the
# same machine (128 and 256 tied within the noise; 256 had the higher
# tokens/s in both runs). One engine: two on a 2-core node were slower, since
# vLLM's CPU backend binds each engine's OpenMP threads to cores itself
# (VLLM_CPU_OMP_THREADS_BIND=auto) and two engines compete for them.
CPU_DEFAULTS = {"batch_size": 256, "max_concurrent_batches": 16, "concurrency": 1}
# Per-row request window (wall clock) for the engine_ metrics; not written.
ARRIVAL, FINISH = "_rayvllm_arrival", "_rayvllm_finish"


class ConfigError(ValueError):
    """The rendered configuration is not usable."""


def load_config(argv=None):
    parser = argparse.ArgumentParser(prog="rayvllm_batch", description=__doc__.splitlines()[0])
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--config-json", help="the job configuration as a JSON object")
    src.add_argument("--config-file", help="a file holding the job configuration as JSON")
    args = parser.parse_args(argv)
    if args.config_file:
        with open(args.config_file, encoding="utf-8") as f:
            cfg = json.load(f)
    else:
        cfg = json.loads(args.config_json)
    validate(cfg)
    return cfg


def validate(cfg):
    if not isinstance(cfg, dict):
        raise ConfigError("the configuration must be a JSON object")
    if not cfg.get("model_source"):
        raise ConfigError("model_source is required")
    inp, out = cfg.get("input") or {}, cfg.get("output") or {}
    for name, section in (("input", inp), ("output", out)):
        if not section.get("path"):
            raise ConfigError(f"{name}.path is required")
        if section.get("format") not in FORMATS:
            raise ConfigError(f"{name}.format must be one of {', '.join(FORMATS)}, got {section.get('format')!r}")
    if bool(inp.get("prompt_column")) == bool(inp.get("messages_column")):
        raise ConfigError("set exactly one of input.prompt_column and input.messages_column")
    if not inp.get("id_column"):
        raise ConfigError("input.id_column is required")


def _filesystem(path):
    """Returns (pyarrow filesystem, path inside it) for a local path or URI."""
    import pyarrow.fs

    if "://" in path:
        return pyarrow.fs.FileSystem.from_uri(path)
    return pyarrow.fs.LocalFileSystem(), os.path.abspath(path)


def _exists(path):
    import pyarrow.fs

    fs, p = _filesystem(path)
    return fs.get_file_info(p).type != pyarrow.fs.FileType.NotFound


def read_table(path, fmt):
    import ray.data

    if fmt == "jsonl":
        return ray.data.read_json(path, lines=True)
    if fmt == "parquet":
        return ray.data.read_parquet(path)
    return ray.data.read_csv(path)


def check_columns(ds, inp):
    names = ds.schema().names
    wanted = [inp["id_column"], inp.get("prompt_column") or inp.get("messages_column")]
    missing = [c for c in wanted if c not in names]
    if missing:
        raise ConfigError(
            f"input {inp['path']} has no column {', '.join(missing)}; its columns are {', '.join(names)}"
        )


def existing_ids(out, id_column):
    """The ids already written to the output, as strings."""
    if not _exists(out["path"]):
        return set()
    done = read_table(out["path"], out["format"])
    if id_column not in done.schema().names:
        raise ConfigError(f"resume: the existing output {out['path']} has no column {id_column}")
    return {str(r[id_column]) for r in done.select_columns([id_column]).iter_rows()}


def _messages(value):
    if isinstance(value, str):
        value = json.loads(value)
    msgs = []
    for m in value:
        m = dict(m)
        msgs.append({"role": str(m["role"]), "content": str(m["content"])})
    return msgs


def uses_chat(cfg):
    inp = cfg["input"]
    return bool(inp.get("messages_column")) or inp.get("apply_chat_template", True)


def make_preprocess(cfg):
    inp = cfg["input"]
    id_col = inp["id_column"]
    prompt_col, messages_col = inp.get("prompt_column"), inp.get("messages_column")
    chat = uses_chat(cfg)
    sampling = {k: v for k, v in (cfg.get("sampling_params") or {}).items() if v is not None}

    def preprocess(row):
        req = {id_col: row[id_col], "sampling_params": dict(sampling)}
        if messages_col:
            req["messages"] = _messages(row[messages_col])
        elif chat:
            req["messages"] = [{"role": "user", "content": str(row[prompt_col])}]
        else:
            req["prompt"] = str(row[prompt_col])
        return req

    return preprocess


def make_postprocess(cfg):
    id_col = cfg["input"]["id_column"]

    def postprocess(row):
        arrival, finish = request_window(row.get("metrics"))
        return {
            id_col: row[id_col],
            "generated_text": row.get("generated_text") or "",
            "num_input_tokens": int(row.get("num_input_tokens") or 0),
            "num_generated_tokens": int(row.get("num_generated_tokens") or 0),
            ARRIVAL: arrival,
            FINISH: finish,
        }

    return postprocess


def request_window(stats):
    """(arrival, last token) of one request in wall-clock seconds from vLLM's
    RequestStateStats as a dict; (0.0, 0.0) when they are missing."""
    try:
        arrival = float(stats["arrival_time"])
        finish = arrival + float(stats["first_token_latency"]) + float(stats["last_token_ts"]) - float(stats["first_token_ts"])
    except (KeyError, TypeError, ValueError):
        return 0.0, 0.0
    if arrival <= 0 or finish < arrival:
        return 0.0, 0.0
    return arrival, finish


def processor_config_kwargs(cfg):
    """The keyword arguments of ray.data.llm.vLLMEngineProcessorConfig."""
    engine = {k: v for k, v in (cfg.get("engine_kwargs") or {}).items() if v is not None}
    kwargs = {"model_source": cfg["model_source"], "engine_kwargs": engine, "chat_template_stage": uses_chat(cfg)}
    for key in ("batch_size", "concurrency", "max_concurrent_batches", "accelerator_type"):
        if cfg.get(key) is not None:
            kwargs[key] = cfg[key]
    workers = engine.get("tensor_parallel_size", 1) * engine.get("pipeline_parallel_size", 1)
    if cfg.get("accelerator") == "cpu":
        # Without explicit bundles the engine stage asks Ray for a GPU per
        # worker. The engine tokenizes and detokenizes itself: separate Ray
        # Data stages would compete with it for the same cores.
        kwargs["placement_group_config"] = {"bundles": [{"CPU": 1} for _ in range(workers)]}
        for key, value in CPU_DEFAULTS.items():
            kwargs.setdefault(key, value)
        kwargs["tokenize_stage"] = False
        kwargs["detokenize_stage"] = False
        return kwargs
    gpus = cfg.get("num_gpus_per_replica")
    if gpus is not None:
        kwargs["placement_group_config"] = {"bundle_per_worker": {"GPU": gpus / workers}}
    return kwargs


def build_vllm_processor(cfg, preprocess, postprocess):
    from ray.data.llm import build_processor, vLLMEngineProcessorConfig

    config = vLLMEngineProcessorConfig(**processor_config_kwargs(cfg))
    return build_processor(config, preprocess=preprocess, postprocess=postprocess)


def write_table(ds, out, append):
    from ray.data import SaveMode

    mode = SaveMode.APPEND if append else SaveMode.OVERWRITE
    if out["format"] == "jsonl":
        ds.write_json(out["path"], mode=mode)
    elif out["format"] == "parquet":
        ds.write_parquet(out["path"], mode=mode)
    else:
        ds.write_csv(out["path"], mode=mode)


def metrics_path(out):
    return out["path"].rstrip("/") + ".metrics.json"


def write_metrics(out, metrics):
    fs, p = _filesystem(metrics_path(out))
    parent = os.path.dirname(p)
    if parent:
        fs.create_dir(parent, recursive=True)
    with fs.open_output_stream(p) as f:
        f.write((json.dumps(metrics, indent=2, sort_keys=True) + "\n").encode())


def run(cfg, build_processor=build_vllm_processor):
    validate(cfg)
    start = time.monotonic()
    inp, out = cfg["input"], cfg["output"]
    ds = read_table(inp["path"], inp["format"])
    check_columns(ds, inp)

    skipped = 0
    if cfg.get("resume"):
        done = existing_ids(out, inp["id_column"])
        if done:
            id_col = inp["id_column"]
            total = ds.count()
            ds = ds.filter(lambda r: str(r[id_col]) not in done)
            ds = ds.materialize()
            skipped = total - ds.count()

    processor = build_processor(cfg, make_preprocess(cfg), make_postprocess(cfg))
    # Materialized once so that writing and the metrics do not run the
    # engine twice.
    result = processor(ds).materialize()
    rows = result.count()
    input_tokens = int(result.sum("num_input_tokens") or 0) if rows else 0
    output_tokens = int(result.sum("num_generated_tokens") or 0) if rows else 0
    if rows:
        write_table(result.select_columns([inp["id_column"], *OUTPUT_COLUMNS]), out, append=bool(cfg.get("resume")))
    wall = time.monotonic() - start
    engine_seconds = None
    if rows and result.min(ARRIVAL) > 0:
        engine_seconds = result.max(FINISH) - result.min(ARRIVAL)
    metrics = {
        "rows": rows,
        "skipped_rows": skipped,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "wall_seconds": round(wall, 3),
        "output_tokens_per_second": round(output_tokens / wall, 3) if wall > 0 else 0.0,
        "total_tokens_per_second": round((input_tokens + output_tokens) / wall, 3) if wall > 0 else 0.0,
        "engine_seconds": round(engine_seconds, 3) if engine_seconds is not None else None,
        "engine_output_tokens_per_second": (
            round(output_tokens / engine_seconds, 3) if engine_seconds else None
        ),
    }
    write_metrics(out, metrics)
    return metrics


def main(argv=None):
    try:
        cfg = load_config(argv)
        metrics = run(cfg)
    except (ConfigError, json.JSONDecodeError) as e:
        print(f"rayvllm_batch: bad configuration: {e}", file=sys.stderr, flush=True)
        return 2
    print(METRICS_PREFIX + json.dumps(metrics, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
