"""Built-in batch inference entrypoint of terraform-provider-rayvllm.

The provider ships this file to the cluster as a runtime_env py_modules
package and runs it as a Ray job:

    python -m rayvllm_batch --config-json '<the rendered vllm block>'

It reads the input with Ray Data (jsonl, parquet or csv; a file or a
directory of files), turns every row into a chat (messages) or completion
(prompt) request, runs it through ray.data.llm's vLLM processor
(vLLMEngineProcessorConfig + build_processor), or with vllm.endpoint to a
running OpenAI-compatible server (rayvllm_endpoint.py), and writes exactly
one output row per input row that keeps the row's identity:

    <id column> | input_file, input_row;  [passthrough columns;]  generated_text, num_input_tokens,
    num_generated_tokens, finish_reason

or, for input.format = "openai_batch", one OpenAI batch response line per
request line (rayvllm_requests.py, which also reads the requests, the
sampling_params column, and derives finish_reason).

Row identity. With input.id_column, a row is its id: the ids must be
unique and not null, which is checked before any engine starts. Without
it, a row is (input_file, input_row): the file's path relative to
input.path and the row's 0-based ordinal in that file; resume then needs
the input files unchanged between runs.

Writing and committing (the driver does no per-row work). Results are
written by Ray Data's write tasks (Dataset.write_datasink with PieceSink):
each write task gets at least RAYVLLM_SHARD_ROWS (10,000) rows and writes
one piece, named part-<digest>, where <digest> is a hash of the identities
of the rows it covers: a retried task writes the same name again and
replaces it, never a second copy. A piece is committed when it appears
under its final name: on a local disk it is written to a hidden temporary
file, fsynced, renamed and the directory fsynced; on S3 it is one PUT,
which is atomic. Rows the engine rejected (on_row_error = "skip") go first,
under the same name, to <output path>.errors/. At the end the driver writes
<output path>/_SUCCESS, a manifest of the pieces, the counts and the
metrics, which it sums from the write tasks' results (one per piece).

Why not Ray Data's own checkpointing (ray.data.checkpoint, Ray 2.60):
its CheckpointConfig needs a unique id column (we also want inputs
without one), it trusts the ids without checking them, and its per-block
checkpoint files are named with uuid4 (BatchBasedCheckpointWriter), so the
output and the "done" record are two writes that a crash can separate.
Here the committed piece is itself the record of what is done.

Exclusive writer. A run takes the lease <output path>.lease by a
conditional create (O_EXCL on a local disk, an S3 PUT with If-None-Match:
*) and renews it while it runs; a second run on the same output is refused
while the lease is held and not expired (or its holder's process is gone).
On S3 the run also aborts the incomplete multipart uploads a killed run
left under the output.

Resume. With resume, input rows whose identity is in a committed output or
error piece are dropped in the read tasks, before the engines. Without it
the output and the errors are overwritten, except when this run is a
provider retry of the same apply (the Ray job's submission id minus
"-retry-N", recorded in <output path>/_RUN): a retry continues from what
is committed.

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

`run(cfg, build_processor=...)` takes the processor factory as a parameter
so that tests can run the whole Ray Data pipeline with a deterministic
stand-in for vLLM; `main` always uses build_vllm_processor.
"""

import argparse
import hashlib
import json
import os
import pathlib
import signal
import sys
import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.fs
import pyarrow.json as pajson
import pyarrow.parquet as pq

from rayvllm_pieces import (EXTENSIONS, FILE_COLUMN, ROW_COLUMN, ConfigError, Lease, LeaseError,  # noqa: F401
                            _filesystem, _is_local, _join, committed_keys, encode, errors_path, id_schema,
                            metrics_path, put_atomic, read_json_file, row_keys, run_key, abort_multipart_uploads,
                            check_ids, drop_committed)
from rayvllm_cluster import ClusterError
from rayvllm_cluster import check_cluster as _check_cluster
from rayvllm_endpoint import build_endpoint_processor, endpoint_problem
from rayvllm_requests import (ARRIVAL, CHAT, ERROR_COLUMN, FINISH, FINISH_REASON, LOGPROBS, REQUEST_COLUMN, STRUCTURED,
                              chat_messages, chat_prompt, count_structured, encode_openai, finish_reason, parse_line,
                              request_window, run_sampling_problem, sampling_column, structured, structured_mix,
                              token_logprobs, vllm_defaults)

METRICS_PREFIX = "rayvllm-metrics: "
OPENAI = "openai_batch"
FORMATS = ("jsonl", "parquet", "csv", OPENAI)
OUTPUT_COLUMNS = ("generated_text", "num_input_tokens", "num_generated_tokens", FINISH_REASON)
# Internal columns of the read: a row's checked sampling fields (JSON) and
# what is wrong with its request (null when nothing); an OpenAI line's parts.
SAMPLING_COLUMN, PROBLEM_COLUMN = "_rayvllm_sampling", "_rayvllm_problem"
OPENAI_COLUMNS = ("custom_id", "url", "body")
# Ray Data settings for accelerator = "cpu" when the configuration leaves them
# out. Picked with `make bench-e2e` (docs/benchmarks.md): the setting
# with the best steady tokens/s relative to plain vllm.LLM.generate on the
# same machine in the first runs (a third run favoured smaller batches;
# single runs are noisy on 2 cores). One engine: two on a 2-core node were slower, since
# vLLM's CPU backend binds each engine's OpenMP threads to cores itself
# (VLLM_CPU_OMP_THREADS_BIND=auto) and two engines compete for them.
CPU_DEFAULTS = {"batch_size": 256, "max_concurrent_batches": 16, "concurrency": 1}
ON_ROW_ERROR = ("fail", "skip")
# The fewest rows a write task commits as one piece (Datasink.min_rows_per_write):
# the most work a crash can lose per write task, and the number of files.
SHARD_ROWS, SHARD_ROWS_ENV = 10_000, "RAYVLLM_SHARD_ROWS"
# Rows per block the read tasks emit. The engine stage cuts its own batches
# (batch_size) out of the blocks; bigger blocks mean fewer blocks for Ray
# Data's scheduler, smaller ones less memory per task (make bench-batch-scale).
BLOCK_ROWS, BLOCK_ROWS_ENV = 4096, "RAYVLLM_BLOCK_ROWS"


class InputError(ValueError):
    """The input data breaks the job's contract (e.g. duplicate ids)."""


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
    if inp.get("format") == OPENAI:
        for key in ("prompt_column", "messages_column", "sampling_params_column", "passthrough_columns"):
            if inp.get(key) or key == "passthrough_columns" and out.get(key):
                raise ConfigError(f"input.format {OPENAI!r} takes the request from each line's body: "
                                  f"{'output' if key == 'passthrough_columns' else 'input'}.{key} cannot be set")
        if inp.get("id_column") not in (None, "", "custom_id"):
            raise ConfigError(f"input.format {OPENAI!r} identifies rows by custom_id: leave input.id_column unset")
    elif bool(inp.get("prompt_column")) == bool(inp.get("messages_column")):
        raise ConfigError("set exactly one of input.prompt_column and input.messages_column")
    if out.get("format") == OPENAI and inp.get("format") != OPENAI:
        raise ConfigError(f"output.format {OPENAI!r} needs input.format {OPENAI!r} (each response answers a request line)")
    clash = [c for c in out.get("passthrough_columns") or []
             if c in OUTPUT_COLUMNS or c in identity_columns(inp) or c == LOGPROBS and wants_logprobs(cfg)]
    if clash:
        raise ConfigError(f"output.passthrough_columns: {', '.join(clash)} is already an output column")
    if inp.get("id_column") in (FILE_COLUMN, ROW_COLUMN):
        raise ConfigError(f"input.id_column cannot be {inp['id_column']!r}: without id_column the output uses that name")
    problem = run_sampling_problem(cfg.get("sampling_params") or {})
    if problem is None and cfg.get("endpoint") is not None:
        problem = endpoint_problem(cfg)
    if problem:
        raise ConfigError(problem)
    if not isinstance(inp.get("chat_template_kwargs") or {}, dict):
        raise ConfigError("input.chat_template_kwargs must be a JSON object")
    if (inp.get("chat_template") or inp.get("chat_template_kwargs")) and not uses_chat(cfg) and inp.get("format") != OPENAI:
        raise ConfigError("input.chat_template and input.chat_template_kwargs need chat input: a messages column, "
                          "or prompt_column with apply_chat_template")
    if cfg.get("on_row_error", "fail") not in ON_ROW_ERROR:
        raise ConfigError(f"on_row_error must be one of {', '.join(ON_ROW_ERROR)}, got {cfg.get('on_row_error')!r}")


def env_int(name, default):
    try:
        v = int(os.environ.get(name) or default)
    except ValueError as e:
        raise ConfigError(f"{name}: {e}") from None
    if v < 1:
        raise ConfigError(f"{name} must be at least 1, got {v}")
    return v


def identity_columns(inp):
    if inp.get("format") == OPENAI:
        return ["custom_id"]
    return [inp["id_column"]] if inp.get("id_column") else [FILE_COLUMN, ROW_COLUMN]


# Reading: our own read tasks, so that every row knows its file and ordinal.

def input_files(path):
    """[(relative name, path in fs)] of the input: the file, or the files
    below the directory (not hidden: no leading "." or "_"), sorted."""
    fs, root = _filesystem(path)
    info = fs.get_file_info(root)
    if info.type == pyarrow.fs.FileType.File:
        return [(os.path.basename(root), root)]
    if info.type != pyarrow.fs.FileType.Directory:
        raise ConfigError(f"input {path} does not exist")
    files = []
    for i in fs.get_file_info(pyarrow.fs.FileSelector(root, recursive=True)):
        rel = i.path[len(root.rstrip("/")) + 1:]
        if i.type == pyarrow.fs.FileType.File and not any(p[:1] in "._" for p in rel.split("/")):
            files.append((rel, i.path))
    if not files:
        raise ConfigError(f"input {path} is a directory without files")
    return sorted(files)


def _lines(f, chunk=16 << 20):
    """(1-based line number, line) of a text stream, blank lines left out."""
    n, rest = 0, b""
    while True:
        data = f.read(chunk)
        parts = (rest + data).split(b"\n")
        rest = parts.pop() if data else b""
        for line in parts:
            n += 1
            if line.strip():
                yield n, line.decode("utf-8", errors="replace")
        if not data:
            return


def _openai_batches(f, block_rows):
    """Record batches of an OpenAI batch file: its parts, the checked
    sampling fields and each line's problem, named with its line number."""
    cols = {c: [] for c in (*OPENAI_COLUMNS, SAMPLING_COLUMN, PROBLEM_COLUMN)}
    for n, line in _lines(f):
        cid, url, body, sampling, problem = parse_line(line)
        for c, v in zip(cols, (cid, url, body, sampling, problem and f"line {n}: {problem}")):
            cols[c].append(v)
        if len(cols["url"]) >= block_rows:
            yield pa.RecordBatch.from_pydict(cols, schema=pa.schema([(c, pa.string()) for c in cols]))
            cols = {c: [] for c in cols}
    if cols["url"]:
        yield pa.RecordBatch.from_pydict(cols, schema=pa.schema([(c, pa.string()) for c in cols]))


def _batches(fs, path, fmt, id_column, block_rows):
    """Record batches of one input file, streamed. A CSV id column is read
    as text, so that "001" stays "001"."""
    if fmt == OPENAI:
        with fs.open_input_stream(path, compression="detect") as f:
            yield from _openai_batches(f, block_rows)
        return
    if fmt == "parquet":
        with fs.open_input_file(path) as f:
            yield from pq.ParquetFile(f).iter_batches(batch_size=block_rows)
        return
    with fs.open_input_stream(path, compression="detect") as f:
        if fmt == "csv":
            conv = pacsv.ConvertOptions(column_types={id_column: pa.string()} if id_column else None)
            reader = pacsv.open_csv(f, convert_options=conv)
        else:
            reader = pajson.open_json(f, read_options=pajson.ReadOptions(block_size=16 << 20))
        for batch in reader:
            for off in range(0, batch.num_rows, block_rows):
                yield batch.slice(off, block_rows)


def _check_sampling(t, column):
    """The table with a sampling_params column checked into SAMPLING_COLUMN
    and PROBLEM_COLUMN (its file and row in the message)."""
    checked = [sampling_column(v) for v in t.column(column).to_pylist()]
    where = zip(t.column(FILE_COLUMN).to_pylist(), t.column(ROW_COLUMN).to_pylist())
    problems = [p and f"{f} row {r}: input.sampling_params_column {column!r}: {p}" for (_, p), (f, r) in zip(checked, where)]
    t = t.append_column(SAMPLING_COLUMN, pa.array([s for s, _ in checked], pa.string()))
    return t.append_column(PROBLEM_COLUMN, pa.array(problems, pa.string()))


def make_read(input_path, fmt, id_column, block_rows, sampling_col=None):
    def read(files):
        fs, _ = _filesystem(input_path)
        for rel, path in zip(files["file"].to_pylist(), files["path"].to_pylist()):
            row, buf, n = 0, [], 0
            for batch in _batches(fs, path, fmt, id_column, block_rows):
                # Every row knows where it came from: the identity without an
                # id column, and the examples of an error about the ids.
                t = pa.Table.from_batches([batch])
                t = t.append_column(FILE_COLUMN, pa.array([rel] * t.num_rows, pa.string()))
                t = t.append_column(ROW_COLUMN, pa.array(np.arange(row, row + t.num_rows, dtype=np.int64)))
                row += t.num_rows
                if sampling_col:
                    t = _check_sampling(t, sampling_col)
                elif fmt == OPENAI:
                    t = t.set_column(t.schema.get_field_index(PROBLEM_COLUMN), PROBLEM_COLUMN, pc.binary_join_element_wise(
                        pa.scalar(f"{rel} "), t.column(PROBLEM_COLUMN), ""))
                buf.append(t)
                n += t.num_rows
                if n >= block_rows:
                    yield pa.concat_tables(buf)
                    buf, n = [], 0
            if buf:
                yield pa.concat_tables(buf)

    return read


def read_input(inp, block_rows):
    import ray.data

    files = input_files(inp["path"])
    # One read task per file: the list of files is all the driver handles.
    ds = ray.data.from_items([{"file": r, "path": p} for r, p in files], override_num_blocks=len(files))
    ds = ds.map_batches(make_read(inp["path"], inp["format"], inp.get("id_column"), block_rows,
                                  inp.get("sampling_params_column")),
                        batch_size=1, batch_format="pyarrow")
    # A task's output is merged into blocks of up to 128 MiB (a whole file
    # here); blocks of block_rows (a streaming split, no shuffle) let the
    # engines' results reach the write tasks block by block.
    return ds.repartition(target_num_rows_per_block=block_rows, strict=True)


def read_table(path, fmt):
    """Reads a whole output with Ray Data (for tests and tools)."""
    import ray.data

    if fmt == "jsonl":
        return ray.data.read_json(path, lines=True)
    if fmt == "parquet":
        return ray.data.read_parquet(path)
    return ray.data.read_csv(path)


def check_columns(schema, inp, out):
    names = schema.names
    wanted = [c for c in (inp.get("id_column"), inp.get("prompt_column") or inp.get("messages_column"),
                          inp.get("sampling_params_column"), *(out.get("passthrough_columns") or [])) if c]
    missing = [c for c in wanted if c not in names]
    if missing:
        raise ConfigError(
            f"input {inp['path']} has no column {', '.join(missing)}; its columns are "
            f"{', '.join(n for n in names if n not in (FILE_COLUMN, ROW_COLUMN))}"
        )


def uses_chat(cfg):
    inp = cfg["input"]
    if inp.get("format") == OPENAI:
        return False  # rendered and tokenized in the preprocess (chat_prompt)
    return bool(inp.get("messages_column")) or inp.get("apply_chat_template", True)


def wants_logprobs(cfg):
    """Whether rows carry a logprobs column (an OpenAI line may ask)."""
    return cfg["input"].get("format") == OPENAI or (cfg.get("sampling_params") or {}).get(LOGPROBS) is not None


def per_row_sampling(cfg):
    return cfg["input"].get("format") == OPENAI or bool(cfg["input"].get("sampling_params_column"))


def make_preprocess(cfg):
    inp = cfg["input"]
    ids = identity_columns(inp)
    prompt_col, messages_col = inp.get("prompt_column"), inp.get("messages_column")
    # With an endpoint the row's sampling column is merged over the job's in
    # build_endpoint_processor, without vLLM's defaults (the server has them).
    chat, openai, per_row = uses_chat(cfg), inp["format"] == OPENAI, per_row_sampling(cfg) and not cfg.get("endpoint")
    passthrough = (cfg["output"].get("passthrough_columns") or [])
    sampling = {k: v for k, v in (cfg.get("sampling_params") or {}).items() if v is not None}
    if sampling.get(STRUCTURED) is not None:
        sampling[STRUCTURED] = structured(sampling[STRUCTURED])[0]  # checked in validate
    template, template_kwargs = inp.get("chat_template"), inp.get("chat_template_kwargs") or {}
    # An OpenAI request without max_tokens may use the whole context, as in
    # vLLM's server (None: vLLM fills in max_model_len - prompt length).
    unset_max = {"max_tokens": None} if openai else {}

    def preprocess(row):
        req = {c: row[c] for c in ids}
        req.update({c: row[c] for c in passthrough})
        req["sampling_params"] = dict(sampling)
        if per_row:
            # Every row carries every key: the column is one Arrow struct.
            req["sampling_params"] = {**vllm_defaults(), **unset_max, **sampling, **json.loads(row[SAMPLING_COLUMN])}
            sp = req["sampling_params"]
            req[REQUEST_COLUMN] = json.dumps({"url": row.get("url") or (CHAT if chat else "/v1/completions"),
                                              "max_tokens": sp["max_tokens"], "stop_token_ids": sp["stop_token_ids"],
                                              "ignore_eos": sp["ignore_eos"], "logprobs": sp["logprobs"],
                                              "model": cfg["model_source"]})
        if openai:
            body = json.loads(row["body"])
            req[REQUEST_COLUMN] = json.dumps({**json.loads(req[REQUEST_COLUMN]), "url": row["url"],
                                              "model": body.get("model") or cfg["model_source"]})
            if row["url"] == CHAT:
                req["prompt"], req["tokenized_prompt"] = chat_prompt(
                    cfg["model_source"], chat_messages(body["messages"]), template,
                    {**template_kwargs, **(body.get("chat_template_kwargs") or {})})
            else:
                req["prompt"] = body["prompt"]
        elif messages_col:
            try:
                req["messages"] = chat_messages(row[messages_col])
            except ValueError as e:
                raise InputError(f"input.messages_column {messages_col!r}, row {', '.join(str(row[c]) for c in ids)}: {e}") from None
        elif chat:
            req["messages"] = [{"role": "user", "content": str(row[prompt_col])}]
        else:
            req["prompt"] = str(row[prompt_col])
        return req

    return preprocess


def make_postprocess(cfg):
    ids = identity_columns(cfg["input"])
    keep = [*(cfg["output"].get("passthrough_columns") or []), *([REQUEST_COLUMN] if per_row_sampling(cfg) else [])]
    max_model_len = (cfg.get("engine_kwargs") or {}).get("max_model_len")
    max_tokens = (cfg.get("sampling_params") or {}).get("max_tokens")
    logprobs = wants_logprobs(cfg)

    def postprocess(row):
        arrival, finish = request_window(row.get("metrics"))
        out = {c: row[c] for c in (*ids, *keep)}
        n_in, n_out = int(row.get("num_input_tokens") or 0), int(row.get("num_generated_tokens") or 0)
        if REQUEST_COLUMN in keep:
            req = json.loads(row[REQUEST_COLUMN])
        else:
            req = {"max_tokens": max_tokens if max_tokens is not None else vllm_defaults()["max_tokens"],
                   LOGPROBS: (cfg.get("sampling_params") or {}).get(LOGPROBS)}
        out.update({
            "generated_text": row.get("generated_text") or "",
            "num_input_tokens": n_in,
            "num_generated_tokens": n_out,
            FINISH_REASON: finish_reason(row.get("generated_tokens"), n_in, n_out, req, max_model_len, cfg["model_source"]),
            ARRIVAL: arrival,
            FINISH: finish,
        })
        if logprobs:
            lp = token_logprobs(row.get("logprobs"), row.get("generated_tokens"), req[LOGPROBS]) if req.get(LOGPROBS) is not None else None
            out[LOGPROBS] = None if lp is None else json.dumps(lp)
        return out

    return postprocess


def processor_config_kwargs(cfg):
    """The keyword arguments of ray.data.llm.vLLMEngineProcessorConfig."""
    engine = {k: v for k, v in (cfg.get("engine_kwargs") or {}).items() if v is not None}
    inp = cfg.get("input") or {}
    chat = uses_chat(cfg)
    if chat and (inp.get("chat_template") or inp.get("chat_template_kwargs")):
        chat = {"enabled": True, "chat_template": inp.get("chat_template"),
                "chat_template_kwargs": inp.get("chat_template_kwargs") or None}
    kwargs = {"model_source": cfg["model_source"], "engine_kwargs": engine, "chat_template_stage": chat}
    for key in ("batch_size", "concurrency", "max_concurrent_batches", "accelerator_type"):
        if cfg.get(key) is not None:
            kwargs[key] = cfg[key]
    if cfg.get("on_row_error") == "skip":
        kwargs["should_continue_on_error"] = True
    if (cfg.get("input") or {}).get("format") == OPENAI:
        kwargs["tokenize_stage"] = False  # a chat line comes tokenized (chat_prompt)
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


def plan_resume(inp, out, block_rows, id_type, resume, structured_default=False):
    """Runs in a task (on the driver's node: a local output path is there):
    (committed keys, facts). The keys go to the object store, where the
    read-side filter tasks read them zero-copy, not through the driver."""
    ids = identity_columns(inp)
    done = committed_keys(out, ids, id_type) if resume else np.empty(0, dtype="S16")
    facts = {"committed": int(len(done)), "skipped": int(len(done)), "rows": None, "problem": None}
    if inp.get("id_column") or inp["format"] == OPENAI:
        rows, keys, problem = check_ids(read_input(inp, block_rows), ids[0])
        facts.update(rows=rows, problem=problem, skipped=int(len(np.intersect1d(done, keys, assume_unique=True))))
    if inp["format"] == OPENAI or inp.get("sampling_params_column"):
        facts["requests_problem"] = check_requests(read_input(inp, block_rows), bool(structured_default))
    return done, facts


def check_requests(ds, run_structured=False):
    """What is wrong with the rows' requests (None: nothing), checked
    before any engine starts; the read tasks found it (PROBLEM_COLUMN)."""
    bad, examples, rows, with_structured = 0, [], 0, 0
    for b in ds.select_columns([PROBLEM_COLUMN, SAMPLING_COLUMN]).iter_batches(batch_size=None, batch_format="pyarrow"):
        problems = b.column(PROBLEM_COLUMN)
        if problems.null_count < b.num_rows:
            p = pc.drop_null(problems)
            bad += len(p)
            examples += p.to_pylist()[:5 - len(examples)]
        rows += b.num_rows
        with_structured += count_structured(b.column(SAMPLING_COLUMN))
    if bad:
        return f"{bad} request(s) the engine cannot honour (e.g. {'; '.join(examples)})"
    return structured_mix(with_structured, rows, run_structured)


def plan_resume_remote(*args):
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    # Read-only and idempotent: retried when its worker dies.
    task = ray.remote(num_cpus=0, num_returns=2, max_retries=3)(plan_resume)
    keys, facts = task.options(scheduling_strategy=here).remote(*args)
    return keys, ray.get(facts)


# Writing: Ray Data's write tasks commit the pieces.

def split_failed(batch):
    """(rows, failed rows). ray.data.llm marks a row the engine rejected
    with a non-empty __inference_error__ when should_continue_on_error is
    set; such rows skip the postprocess."""
    if ERROR_COLUMN not in batch.column_names:
        return batch, None
    failed = pc.fill_null(pc.not_equal(batch.column(ERROR_COLUMN), ""), False)
    return batch.filter(pc.invert(failed)), batch.filter(failed)


def _sink_base():
    from ray.data import Datasink

    return Datasink


class PieceSink(_sink_base()):
    """Each write task commits its rows as one piece (module docstring) and
    returns the piece's counts; on_write_complete (on the driver) keeps them."""

    def __init__(self, out, ids, id_type, piece_rows, extra=()):
        self.out, self.ids, self.piece_rows = out, ids, piece_rows
        schema = id_schema(ids, id_type)
        # extra: (name, type) of the passthrough columns and the request.
        self.schema = pa.schema([*schema, *extra, ("generated_text", pa.string()), ("num_input_tokens", pa.int64()),
                                 ("num_generated_tokens", pa.int64()), (FINISH_REASON, pa.string())])
        self.error_schema = pa.schema([*schema, ("error", pa.string())])
        self.result = None

    @property
    def min_rows_per_write(self):
        return self.piece_rows

    def write(self, blocks, ctx):
        from ray.data.block import BlockAccessor

        tables = [BlockAccessor.for_block(b).to_arrow() for b in blocks]
        tables = [t for t in tables if t.num_rows]
        if not tables:
            return None
        table = pa.concat_tables(tables, promote_options="default")
        rows, failed = split_failed(table)
        fmt = self.out["format"]
        name = "part-" + hashlib.blake2b(np.sort(row_keys(table, self.ids)).tobytes(), digest_size=16).hexdigest() + EXTENSIONS[fmt][0]
        fs, root = _filesystem(self.out["path"])
        stats = {"piece": name, "rows": rows.num_rows, "failed": 0, "input_tokens": 0, "output_tokens": 0,
                 "first_arrival": None, "last_finish": None}
        if failed is not None and failed.num_rows:
            errs = pa.table({**{c: failed.column(c) for c in self.ids}, "error": failed.column(ERROR_COLUMN)})
            put_atomic(fs, _join(_filesystem(errors_path(self.out))[1], name), self.encode(errs.cast(self.error_schema)))
            stats["failed"] = failed.num_rows
        if rows.num_rows:
            arrival = rows.column(ARRIVAL)
            valid = pc.greater(arrival, 0)
            if pc.any(valid).as_py():
                stats["first_arrival"] = pc.min(pc.filter(arrival, valid)).as_py()
                stats["last_finish"] = pc.max(rows.column(FINISH)).as_py()
            stats["input_tokens"] = int(pc.sum(rows.column("num_input_tokens")).as_py() or 0)
            stats["output_tokens"] = int(pc.sum(rows.column("num_generated_tokens")).as_py() or 0)
            put_atomic(fs, _join(root, name), self.encode(rows.select(self.schema.names).cast(self.schema)))
        return stats

    def encode(self, table):
        return encode_openai(table) if self.out["format"] == OPENAI else encode(table, self.out["format"])

    def on_write_complete(self, write_result):
        self.result = [r for r in write_result.write_returns if r]


def metrics_from(pieces, wall, skipped):
    rows = sum(p["rows"] for p in pieces)
    in_tok, out_tok = sum(p["input_tokens"] for p in pieces), sum(p["output_tokens"] for p in pieces)
    arrivals = [p["first_arrival"] for p in pieces if p["first_arrival"]]
    engine = max(p["last_finish"] for p in pieces if p["first_arrival"]) - min(arrivals) if arrivals else None
    return {
        "rows": rows,
        "failed_rows": sum(p["failed"] for p in pieces),
        "skipped_rows": skipped,
        "input_tokens": in_tok,
        "output_tokens": out_tok,
        "wall_seconds": round(wall, 3),
        "output_tokens_per_second": round(out_tok / wall, 3) if wall > 0 else 0.0,
        "total_tokens_per_second": round((in_tok + out_tok) / wall, 3) if wall > 0 else 0.0,
        "engine_seconds": round(engine, 3) if engine is not None else None,
        "engine_output_tokens_per_second": round(out_tok / engine, 3) if engine else None,
    }


def prepare_output(out, resume, key):
    """Overwrites the output (unless resuming), clears what a killed run
    left in flight, and records the run key. Returns whether to resume."""
    fs, root = _filesystem(out["path"])
    err_root = _filesystem(errors_path(out))[1]
    same = bool(key) and (read_json_file(_join(out["path"], "_RUN")) or {}).get("run_key") == key
    resume = resume or same
    if not resume:
        for p in (root, err_root):
            if fs.get_file_info(p).type == pyarrow.fs.FileType.Directory:
                fs.delete_dir(p)
    # put_atomic's temporary files (.<name>.tmp-<hex>) of a killed run:
    # pieces, _RUN, _SUCCESS, and, when local, the metrics file's beside the
    # output (remotely its directory may be a whole bucket's root).
    mdir, _, mname = _filesystem(metrics_path(out))[1].rpartition("/")
    for d, prefix in ((root, "."), (err_root, "."), *([(mdir, f".{mname}.tmp-")] if _is_local(fs) else [])):
        for info in fs.get_file_info(pyarrow.fs.FileSelector(d, allow_not_found=True)):
            if info.base_name.startswith(prefix) and ".tmp-" in info.base_name:
                fs.delete_file(info.path)
    if out["path"].startswith("s3://"):
        abort_multipart_uploads(out)
    if fs.get_file_info(_join(root, "_SUCCESS")).type == pyarrow.fs.FileType.File:
        fs.delete_file(_join(root, "_SUCCESS"))
    put_atomic(fs, _join(root, "_RUN"), json.dumps({"run_key": key}).encode())
    return resume


def run(cfg, build_processor=build_vllm_processor, check_cluster=None):
    """check_cluster(cfg), when given, runs after the input's columns are
    checked and before the output is touched (main passes the real one)."""
    validate(cfg)
    lease = Lease(cfg["output"], run_key())
    lease.acquire()
    # A stopped job (SIGTERM) releases its lease on the way out.
    main = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143)) if main else None
    try:
        return _run(cfg, build_processor, lease.run_key, check_cluster)
    finally:
        lease.release()
        if main:
            signal.signal(signal.SIGTERM, before)


def _run(cfg, build_processor, key, check_cluster):
    start = time.monotonic()
    inp, out = cfg["input"], cfg["output"]
    piece_rows = env_int(SHARD_ROWS_ENV, SHARD_ROWS)
    # A block's rows reach the write tasks together: no bigger than a piece.
    block_rows = env_int(BLOCK_ROWS_ENV, min(BLOCK_ROWS, piece_rows))
    ids = identity_columns(inp)
    ds = read_input(inp, block_rows)
    schema = ds.schema(fetch_if_missing=True)
    schema = schema.base_schema if hasattr(schema, "base_schema") else schema
    check_columns(schema, inp, out)
    id_type = schema.field(ids[0]).type if len(ids) == 1 else None
    if check_cluster:
        check_cluster(cfg)
    extra = [(c, schema.field(c).type) for c in out.get("passthrough_columns") or []]
    if wants_logprobs(cfg):
        extra.append((LOGPROBS, pa.string()))
    if out["format"] == OPENAI:
        extra.append((REQUEST_COLUMN, pa.string()))

    resume = prepare_output(out, bool(cfg.get("resume")), key)
    facts = {"committed": 0, "skipped": 0}
    if resume or inp.get("id_column") or per_row_sampling(cfg):
        structured_default = (cfg.get("sampling_params") or {}).get(STRUCTURED) is not None
        keys, facts = plan_resume_remote(inp, out, block_rows, id_type, resume, structured_default)
        if facts.get("problem"):
            if inp["format"] == OPENAI:
                raise InputError(f"input {inp['path']}: custom_id: {facts['problem']}. Each line needs its own custom_id.")
            raise InputError(f"input.id_column {inp['id_column']!r}: {facts['problem']}. The ids must be unique and not null "
                             "(they are how resume finds committed rows): fix the input, or leave input.id_column unset "
                             "to identify rows by input file and row number.")
        if facts.get("requests_problem"):
            raise InputError(f"input {inp['path']}: {facts['requests_problem']}")
        if facts["committed"]:
            ds = ds.map_batches(drop_committed, batch_format="pyarrow", batch_size=None,
                                fn_kwargs={"ids": ids, "keys": [keys]})

    pieces = []
    # Every row already committed (a rerun of a finished job): no engine starts.
    if facts.get("rows") is None or facts["skipped"] < facts["rows"]:
        if cfg.get("endpoint"):
            processor = build_endpoint_processor(cfg, make_preprocess(cfg), ids, out.get("passthrough_columns") or [],
                                                 uses_chat(cfg), SAMPLING_COLUMN if inp.get("sampling_params_column") else None)
        else:
            processor = build_processor(cfg, make_preprocess(cfg), make_postprocess(cfg))
        sink = PieceSink(out, ids, id_type, piece_rows, extra)
        processor(ds).write_datasink(sink)
        pieces = sink.result or []
    metrics = metrics_from(pieces, time.monotonic() - start, facts["skipped"])
    fs, root = _filesystem(out["path"])
    manifest = {"metrics": metrics, "pieces": sorted(p["piece"] for p in pieces), "run_key": key,
                "committed_before": facts["committed"], "identity": ids}
    put_atomic(fs, _join(root, "_SUCCESS"), (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
    mfs, mp = _filesystem(metrics_path(out))
    put_atomic(mfs, mp, (json.dumps(metrics, indent=2, sort_keys=True) + "\n").encode())
    return metrics


# Start-up check (rayvllm_cluster.py).

def worker_bundle(cfg):
    """The resources one engine worker needs on one node, as Ray Data LLM
    asks for them (ray/llm/_internal/batch/stages/vllm_engine_stage.py):
    its placement group bundle, or one GPU, and the accelerator_type label
    Ray gives to nodes with that accelerator (0.001 of it)."""
    pg = processor_config_kwargs(cfg).get("placement_group_config") or {}
    bundle = dict(pg.get("bundle_per_worker") or (pg.get("bundles") or [{"GPU": 1}])[0])
    if cfg.get("accelerator_type"):
        bundle["accelerator_type:" + cfg["accelerator_type"]] = 0.001
    return bundle


def check_cluster(cfg):
    _check_cluster(cfg, worker_bundle(cfg))


def main(argv=None):
    try:
        cfg = load_config(argv)
        # An endpoint needs no engine on the cluster.
        metrics = run(cfg, check_cluster=None if cfg.get("endpoint") else check_cluster)
    except (ConfigError, json.JSONDecodeError) as e:
        print(f"rayvllm_batch: bad configuration: {e}", file=sys.stderr, flush=True)
        return 2
    except ClusterError as e:
        print(f"rayvllm_batch: no node can run the engine: {e}", file=sys.stderr, flush=True)
        return 4
    except (InputError, LeaseError) as e:
        print(f"rayvllm_batch: {e}", file=sys.stderr, flush=True)
        return 3
    print(METRICS_PREFIX + json.dumps(metrics, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
