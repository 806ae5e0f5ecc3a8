"""Built-in batch inference entrypoint of terraform-provider-rayvllm.

The provider ships this file to the cluster as a runtime_env py_modules
package and runs it as a Ray job:

    python -m rayvllm_batch --config-json '<the rendered vllm block>'

It reads the input with Ray Data (jsonl, parquet or csv), turns every row
into a chat (messages) or completion (prompt) request, runs it through
ray.data.llm's vLLM processor (vLLMEngineProcessorConfig + build_processor),
and writes exactly one output row per input row that keeps the row's id:

    <id column>, generated_text, num_input_tokens, num_generated_tokens

The output is a directory of shards (part-<run>-<n>.<format>). The driver
streams the processed rows out of Ray Data's streaming executor
(Dataset.iter_batches) and commits a shard every SHARD_ROWS rows or
SHARD_SECONDS seconds (env RAYVLLM_SHARD_ROWS, RAYVLLM_SHARD_SECONDS): written under <output path>.partial/, then moved to
its final name. A killed run therefore leaves only complete shards, and no
more than one shard of rows is ever held by the driver.

With on_row_error = "skip", rows the engine rejects (e.g. a prompt longer
than max_model_len) do not fail the run: ray.data.llm's
should_continue_on_error marks them, and they are written as (id, error) to
<output path>.errors/ in the same shards.

Beside the output (<output path>.metrics.json) it writes the run's metrics,
and it prints them as one log line starting with METRICS_PREFIX, which the
provider reads back into the resource's `metrics` attribute:

    rows                      rows processed by this run
    failed_rows               rows of this run written to the errors output
    skipped_rows              rows skipped because resume found them committed
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

With resume, input rows whose id is in a committed output or error shard
are dropped before the engines (exactly the rows a killed run did not
commit), and the new rows go to new shards; without it the output and the
errors are overwritten. The committed ids are read shard by shard, as
128-bit keys, by a task whose result stays in the object store.

`run(cfg, build_processor=...)` takes the processor factory as a parameter
so that tests can run the whole Ray Data pipeline with a deterministic
stand-in for vLLM; `main` always uses build_vllm_processor.
"""

import argparse
import hashlib
import json
import os
import sys
import time
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.fs
import pyarrow.json as pajson
import pyarrow.parquet as pq

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
# ray.data.llm's per-row error message (ProcessorConfig.should_continue_on_error).
ERROR_COLUMN = "__inference_error__"
ON_ROW_ERROR = ("fail", "skip")
# A shard is committed when it holds SHARD_ROWS rows or its first row is
# SHARD_SECONDS old, whichever comes first: the most work a crash can lose.
# The job's environment (runtime_env.env_vars) can change them.
SHARD_ROWS, SHARD_SECONDS = 10_000, 60.0
SHARD_ROWS_ENV, SHARD_SECONDS_ENV = "RAYVLLM_SHARD_ROWS", "RAYVLLM_SHARD_SECONDS"
# Shard file extensions; the first is written. ".json" is what Ray Data's
# write_json named the files of outputs written before shards.
EXTENSIONS = {"jsonl": (".jsonl", ".json"), "parquet": (".parquet",), "csv": (".csv",)}


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
    if cfg.get("on_row_error", "fail") not in ON_ROW_ERROR:
        raise ConfigError(f"on_row_error must be one of {', '.join(ON_ROW_ERROR)}, got {cfg.get('on_row_error')!r}")


def _filesystem(path):
    """Returns (pyarrow filesystem, path inside it) for a local path or URI."""
    if "://" in path:
        return pyarrow.fs.FileSystem.from_uri(path)
    return pyarrow.fs.LocalFileSystem(), os.path.abspath(path)


def _is_local(fs):
    return isinstance(fs, pyarrow.fs.LocalFileSystem)


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
    if cfg.get("on_row_error") == "skip":
        kwargs["should_continue_on_error"] = True
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


def metrics_path(out):
    return out["path"].rstrip("/") + ".metrics.json"


def errors_path(out):
    """Where the rows skipped with on_row_error = "skip" go: the id and the
    engine's error message, in the output's format."""
    return out["path"].rstrip("/") + ".errors"


def partial_path(out):
    return out["path"].rstrip("/") + ".partial"


def write_metrics(out, metrics):
    fs, p = _filesystem(metrics_path(out))
    if _is_local(fs):
        fs.create_dir(os.path.dirname(p), recursive=True)
    with fs.open_output_stream(p) as f:
        f.write((json.dumps(metrics, indent=2, sort_keys=True) + "\n").encode())


class ShardWriter:
    """Commits output rows in shards. Each shard is written under
    <path>.partial/ and then moved to its final name in the output (or, for
    failed rows, in <path>.errors/), so that a killed run leaves only
    complete shards: on a local disk the move is a rename, on S3 a
    server-side copy, which makes the object appear whole. Shards hold at
    most shard_rows rows and are committed at least every shard_seconds, so
    a crash loses at most that much work and the driver holds no more."""

    def __init__(self, out, shard_rows, shard_seconds):
        self.fs, self.root = _filesystem(out["path"])
        self.errors_root = _filesystem(errors_path(out))[1]
        self.partial = _filesystem(partial_path(out))[1]
        self.fmt, self.shard_rows, self.shard_seconds = out["format"], shard_rows, shard_seconds
        # Unique per run: a resumed run adds shards beside the earlier ones.
        self.run_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
        self.seq, self.pending, self.since = 0, 0, None
        self.rows, self.errors = [], []
        self.fs.delete_dir_contents(self.partial, missing_dir_ok=True)
        if _is_local(self.fs):
            for d in (self.root, self.errors_root, self.partial):
                self.fs.create_dir(d, recursive=True)

    def add(self, rows, errors):
        for table, buf in ((rows, self.rows), (errors, self.errors)):
            if table is not None and table.num_rows:
                buf.append(table)
                self.pending += table.num_rows
        if self.since is None and self.pending:
            self.since = time.monotonic()
        if self.pending >= self.shard_rows or (self.since and time.monotonic() - self.since >= self.shard_seconds):
            self.commit()

    def commit(self):
        name = f"part-{self.run_id}-{self.seq:06d}{EXTENSIONS[self.fmt][0]}"
        for buf, final in ((self.errors, self.errors_root), (self.rows, self.root)):
            if buf:
                tmp = f"{self.partial}/{name}"
                with self.fs.open_output_stream(tmp) as f:
                    write_shard(pa.concat_tables(buf), self.fmt, f)
                self.fs.move(tmp, f"{final}/{name}")
                buf.clear()
        self.seq, self.pending, self.since = self.seq + 1, 0, None

    def close(self):
        self.commit()
        if self.fs.get_file_info(self.partial).type == pyarrow.fs.FileType.Directory:
            self.fs.delete_dir(self.partial)


def write_shard(table, fmt, f):
    if fmt == "jsonl":
        # The same rows as Ray Data's write_json (pandas, records, lines).
        f.write(table.to_pandas().to_json(orient="records", lines=True, force_ascii=False).encode())
    elif fmt == "parquet":
        pq.write_table(table, f)
    else:
        pacsv.write_csv(table, f)


def read_shard_ids(fs, path, fmt, id_column):
    with fs.open_input_file(path) as f:
        if fmt == "parquet":
            names = pq.read_schema(f).names
            table = pq.read_table(f, columns=[id_column]) if id_column in names else None
        elif fmt == "jsonl":
            table = pajson.read_json(f, read_options=pajson.ReadOptions(block_size=64 << 20))
        else:
            table = pacsv.read_csv(f)
    if table is None or id_column not in table.column_names:
        raise ConfigError(f"resume: the existing output {path} has no column {id_column}")
    return table.column(id_column).to_pylist()


def id_keys(values):
    """The ids as resume compares them: 128-bit BLAKE2b digests of str(id).
    A collision (which would skip a row) has a probability below n²/2¹²⁹,
    about 1e-24 for 20 million ids."""
    return np.array([hashlib.blake2b(str(v).encode(), digest_size=16).digest() for v in values], dtype="S16")


def committed_keys(out, id_column):
    """Sorted keys of the ids in the committed output and error shards,
    read one shard at a time."""
    fs, _ = _filesystem(out["path"])
    parts = [np.empty(0, dtype="S16")]
    for root in (out["path"], errors_path(out)):
        root = _filesystem(root)[1]
        infos = fs.get_file_info(pyarrow.fs.FileSelector(root, recursive=True, allow_not_found=True))
        for info in sorted(infos, key=lambda i: i.path):
            if info.type == pyarrow.fs.FileType.File and info.path.endswith(EXTENSIONS[out["format"]]):
                parts.append(id_keys(read_shard_ids(fs, info.path, out["format"], id_column)))
    keys = np.unique(np.concatenate(parts))
    return keys, len(keys)


def committed_keys_ref(out, id_column):
    """committed_keys in a task on the driver's node (a local output path is
    on this node), so that the keys go to the object store, where the
    filter tasks read them zero-copy, and not through the driver's memory."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    # Read-only and idempotent: retried when its worker dies.
    task = ray.remote(num_cpus=0, num_returns=2, max_retries=3)(committed_keys)
    keys, count = task.options(scheduling_strategy=here).remote(out, id_column)
    return keys, ray.get(count)


_KEYS = {}


def drop_committed(batch, id_column, keys):
    import ray

    ref = keys[0]
    done = _KEYS.get(ref.hex())
    if done is None:
        done = _KEYS[ref.hex()] = ray.get(ref)
    k = id_keys(batch.column(id_column).to_pylist())
    i = np.minimum(np.searchsorted(done, k), len(done) - 1)
    return batch.filter(pa.array(done[i] != k))


def split_failed(batch):
    """(rows, failed rows as id + error). ray.data.llm marks a row the engine
    rejected with a non-empty __inference_error__ when
    should_continue_on_error is set; such rows skip the postprocess."""
    if ERROR_COLUMN not in batch.column_names:
        return batch, None
    failed = pc.fill_null(pc.not_equal(batch.column(ERROR_COLUMN), ""), False)
    return batch.filter(pc.invert(failed)), batch.filter(failed)


class Totals:
    """The run's metrics, summed batch by batch."""

    def __init__(self):
        self.rows = self.failed = self.input_tokens = self.output_tokens = 0
        self.first_arrival, self.last_finish = float("inf"), 0.0

    def add(self, rows, failed):
        self.failed += failed.num_rows if failed is not None else 0
        if not rows.num_rows:
            return
        self.rows += rows.num_rows
        self.input_tokens += int(pc.sum(rows.column("num_input_tokens")).as_py() or 0)
        self.output_tokens += int(pc.sum(rows.column("num_generated_tokens")).as_py() or 0)
        self.first_arrival = min(self.first_arrival, pc.min(rows.column(ARRIVAL)).as_py())
        self.last_finish = max(self.last_finish, pc.max(rows.column(FINISH)).as_py())

    def metrics(self, wall, skipped):
        engine = self.last_finish - self.first_arrival if self.rows and self.first_arrival > 0 else None
        return {
            "rows": self.rows,
            "failed_rows": self.failed,
            "skipped_rows": skipped,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "wall_seconds": round(wall, 3),
            "output_tokens_per_second": round(self.output_tokens / wall, 3) if wall > 0 else 0.0,
            "total_tokens_per_second": round((self.input_tokens + self.output_tokens) / wall, 3) if wall > 0 else 0.0,
            "engine_seconds": round(engine, 3) if engine is not None else None,
            "engine_output_tokens_per_second": round(self.output_tokens / engine, 3) if engine else None,
        }


def run(cfg, build_processor=build_vllm_processor):
    validate(cfg)
    start = time.monotonic()
    inp, out = cfg["input"], cfg["output"]
    id_col = inp["id_column"]
    ds = read_table(inp["path"], inp["format"])
    check_columns(ds, inp)

    total = None
    if cfg.get("resume"):
        keys, committed = committed_keys_ref(out, id_col)
        if committed:
            total = ds.count()
            ds = ds.map_batches(drop_committed, batch_format="pyarrow", batch_size=None,
                                fn_kwargs={"id_column": id_col, "keys": [keys]})
    else:
        fs, root = _filesystem(out["path"])
        for p in (root, _filesystem(errors_path(out))[1]):
            if fs.get_file_info(p).type == pyarrow.fs.FileType.Directory:
                fs.delete_dir(p)

    try:
        shard_rows = int(os.environ.get(SHARD_ROWS_ENV) or SHARD_ROWS)
        shard_seconds = float(os.environ.get(SHARD_SECONDS_ENV) or SHARD_SECONDS)
    except ValueError as e:
        raise ConfigError(f"{SHARD_ROWS_ENV} / {SHARD_SECONDS_ENV}: {e}") from None
    if shard_rows < 1 or shard_seconds <= 0:
        raise ConfigError(f"{SHARD_ROWS_ENV} must be at least 1 and {SHARD_SECONDS_ENV} above 0")
    writer = ShardWriter(out, shard_rows, shard_seconds)
    totals = Totals()
    processor = build_processor(cfg, make_preprocess(cfg), make_postprocess(cfg))
    batch_size = getattr(getattr(processor, "config", None), "batch_size", None)
    if batch_size:
        # One engine batch per block (a streaming split, no shuffle): results
        # leave the engines batch by batch instead of once per input block,
        # which can hold a whole file.
        ds = ds.repartition(target_num_rows_per_block=batch_size)
    # Streamed: Ray Data's executor keeps the engines busy while the driver
    # commits what has finished; no more than a shard is held here.
    for batch in processor(ds).iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=1):
        rows, failed = split_failed(batch)
        if failed is not None and failed.num_rows:
            failed = pa.table({id_col: failed.column(id_col), "error": failed.column(ERROR_COLUMN)})
        totals.add(rows, failed)
        if rows.num_rows:
            rows = rows.select([id_col, *OUTPUT_COLUMNS])
        writer.add(rows, failed)
    writer.close()
    wall = time.monotonic() - start
    skipped = total - totals.rows - totals.failed if total is not None else 0
    metrics = totals.metrics(wall, skipped)
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
