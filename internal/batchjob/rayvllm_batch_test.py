"""Runs the built-in entrypoint's Ray Data pipeline for real on the test Ray
head (.ci/services.sh), with a deterministic stand-in for the vLLM stage that
only these tests inject. Skipped when the test services are not running."""

import json
import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).parent  # conftest.py puts it and testscripts/ on sys.path

import rayvllm_batch as rb  # noqa: E402
import rayvllm_pieces  # noqa: E402
import standin  # noqa: E402

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.usefixtures("ray_module")

fake_build_processor = standin.build_processor


PROMPTS = {1: "what is ray", 2: "what is vllm", 3: "hello", 4: "one two three four", 5: "five"}


def config(tmp_path, fmt_in, fmt_out="jsonl", **input_extra):
    inp = {"path": str(tmp_path / f"input.{fmt_in}"), "format": fmt_in, "id_column": "id"}
    inp.update(input_extra)
    if "messages_column" not in inp:
        inp.setdefault("prompt_column", "prompt")
    return {
        "model_source": "Qwen/Qwen2.5-0.5B-Instruct",
        "engine_kwargs": {"max_model_len": 2048},
        "input": inp,
        "output": {"path": str(tmp_path / "out"), "format": fmt_out},
        "sampling_params": {"temperature": 0.0, "max_tokens": 64, "seed": None},
    }


def read_output(cfg):
    out = cfg["output"]
    rows = rb.read_table(out["path"], out["format"]).take_all()
    return {int(r["id"]): r for r in rows}


def write_input(path, fmt, rows):
    import pandas as pd

    df = pd.DataFrame(rows)
    if fmt == "jsonl":
        df.to_json(path, orient="records", lines=True)
    elif fmt == "parquet":
        df.to_parquet(path)
    else:
        df.to_csv(path, index=False)


def test_jsonl_prompts(tmp_path):
    cfg = config(tmp_path, "jsonl")
    write_input(cfg["input"]["path"], "jsonl", [{"id": i, "prompt": p, "extra": "x"} for i, p in PROMPTS.items()])
    metrics = rb.run(cfg, build_processor=fake_build_processor)

    out = read_output(cfg)
    assert sorted(out) == sorted(PROMPTS), "one output row per input row, ids kept"
    assert out[4]["generated_text"] == "chat: one two three four"  # prompt wrapped as a user message
    assert set(out[1]) == {"id", "generated_text", "num_input_tokens", "num_generated_tokens", "finish_reason"}
    assert out[4]["finish_reason"] == "stop"  # 5 words < max_tokens
    in_tok = sum(len(p.split()) for p in PROMPTS.values())
    out_tok = sum(len(p.split()) + 1 for p in PROMPTS.values())
    assert (metrics["rows"], metrics["failed_rows"], metrics["skipped_rows"]) == (5, 0, 0)
    assert (metrics["input_tokens"], metrics["output_tokens"]) == (in_tok, out_tok)
    assert metrics["wall_seconds"] > 0
    assert metrics["output_tokens_per_second"] == pytest.approx(out_tok / metrics["wall_seconds"], rel=1e-2)
    assert metrics["total_tokens_per_second"] == pytest.approx((in_tok + out_tok) / metrics["wall_seconds"], rel=1e-2)
    # Engine window: first arrival (id 1 at 1000) to the last token of the
    # row that finishes last (arrival + 0.5 + 0.25 * words).
    last = max(1000.0 + i + 0.5 + 0.25 * (len(p.split()) + 1) for i, p in PROMPTS.items())
    assert metrics["engine_seconds"] == pytest.approx(last - 1001.0, abs=1e-3)
    assert metrics["engine_output_tokens_per_second"] == pytest.approx(out_tok / (last - 1001.0), rel=1e-3)
    on_disk = json.loads(pathlib.Path(rb.metrics_path(cfg["output"])).read_text())
    assert on_disk == metrics


def test_engine_metrics_null_without_vllm_stats(tmp_path):
    cfg = config(tmp_path, "jsonl")
    write_input(cfg["input"]["path"], "jsonl", [{"id": i, "prompt": p} for i, p in PROMPTS.items()])

    def no_stats(cfg, preprocess, postprocess):
        strip = lambda r: {**r, **{k: v for k, v in standin.generate(r, None).items() if k != "metrics"}}  # noqa: E731
        return lambda ds: ds.map(preprocess).map(strip).map(postprocess)

    metrics = rb.run(cfg, build_processor=no_stats)
    assert metrics["rows"] == 5
    assert metrics["engine_seconds"] is None and metrics["engine_output_tokens_per_second"] is None


def test_request_window():
    stats = {"arrival_time": 100.0, "first_token_latency": 0.5, "first_token_ts": 3.0, "last_token_ts": 5.0}
    assert rb.request_window(stats) == (100.0, 102.5)
    assert rb.request_window(None) == (0.0, 0.0)
    assert rb.request_window({"arrival_time": 100.0}) == (0.0, 0.0)


def test_cpu_processor_kwargs():
    inp = {"input": {"prompt_column": "prompt", "apply_chat_template": False}}
    cfg = {**inp, "model_source": "/m", "accelerator": "cpu", "batch_size": 64, "max_concurrent_batches": 8,
           "engine_kwargs": {"tensor_parallel_size": 2, "kv_cache_memory_bytes": 2**28, "enforce_eager": True}}
    kw = rb.processor_config_kwargs(cfg)
    assert kw["placement_group_config"] == {"bundles": [{"CPU": 1}, {"CPU": 1}]}
    assert kw["tokenize_stage"] is False and kw["detokenize_stage"] is False
    assert kw["max_concurrent_batches"] == 8 and kw["batch_size"] == 64
    assert kw["engine_kwargs"]["kv_cache_memory_bytes"] == 2**28
    assert "accelerator_type" not in kw
    assert kw["concurrency"] == rb.CPU_DEFAULTS["concurrency"], "unset settings take the CPU defaults"
    kw = rb.processor_config_kwargs({**inp, "model_source": "/m", "accelerator": "cpu"})
    assert {k: kw[k] for k in rb.CPU_DEFAULTS} == rb.CPU_DEFAULTS
    gpu = rb.processor_config_kwargs({**inp, "model_source": "/m", "num_gpus_per_replica": 0.5})
    assert gpu["placement_group_config"] == {"bundle_per_worker": {"GPU": 0.5}}
    assert "tokenize_stage" not in gpu


def test_parquet_messages_to_parquet(tmp_path):
    cfg = config(tmp_path, "parquet", "parquet", messages_column="conversation")
    rows = [
        {"id": i, "conversation": [{"role": "system", "content": "be brief"}, {"role": "user", "content": p}]}
        for i, p in PROMPTS.items()
    ]
    write_input(cfg["input"]["path"], "parquet", rows)
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    out = read_output(cfg)
    assert sorted(out) == sorted(PROMPTS)
    assert out[3]["generated_text"] == "chat: be brief hello"
    assert metrics["rows"] == 5


def test_jsonl_messages_with_text_parts(tmp_path):
    # Arrow reads the parts as a list of structs: they reach the chat
    # template joined, as vLLM's server joins them; an image part fails the
    # run naming its row.
    cfg = config(tmp_path, "jsonl", "jsonl", messages_column="conversation")
    parts = lambda p: [{"type": "text", "text": w} for w in p.split()]  # noqa: E731
    rows = [{"id": i, "conversation": [{"role": "user", "content": parts(p)}]} for i, p in PROMPTS.items()]
    write_input(cfg["input"]["path"], "jsonl", rows)
    rb.run(cfg, build_processor=fake_build_processor)
    assert read_output(cfg)[2]["generated_text"] == "chat: what is vllm"

    bad = rows[1]["conversation"][0]["content"]
    bad.append({"type": "image_url", "text": None})
    write_input(cfg["input"]["path"], "jsonl", rows)
    with pytest.raises(Exception, match=rf"input.messages_column 'conversation', row {rows[1]['id']}: message 0, "
                                        rf"content part {len(bad) - 1}: only text parts"):
        rb.run(cfg, build_processor=fake_build_processor)


def test_csv_raw_prompt_and_max_tokens(tmp_path):
    cfg = config(tmp_path, "csv", "csv", apply_chat_template=False)
    cfg["sampling_params"]["max_tokens"] = 2
    write_input(cfg["input"]["path"], "csv", [{"id": i, "prompt": p} for i, p in PROMPTS.items()])
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    out = read_output(cfg)
    assert sorted(out) == sorted(PROMPTS)
    assert out[4]["generated_text"] == "prompt: one"  # no chat template, max_tokens honoured
    assert metrics["output_tokens"] == 10


def test_csv_messages_as_json_strings(tmp_path):
    cfg = config(tmp_path, "csv", "jsonl", messages_column="messages")
    rows = [{"id": i, "messages": json.dumps([{"role": "user", "content": p}])} for i, p in PROMPTS.items()]
    write_input(cfg["input"]["path"], "csv", rows)
    rb.run(cfg, build_processor=fake_build_processor)
    assert read_output(cfg)[2]["generated_text"] == "chat: what is vllm"


def test_resume_skips_existing_outputs(tmp_path):
    cfg = config(tmp_path, "jsonl")
    first = {i: PROMPTS[i] for i in (1, 2, 3)}
    write_input(cfg["input"]["path"], "jsonl", [{"id": i, "prompt": p} for i, p in first.items()])
    assert rb.run(cfg, build_processor=fake_build_processor)["rows"] == 3

    write_input(cfg["input"]["path"], "jsonl", [{"id": i, "prompt": p} for i, p in PROMPTS.items()])
    seen = []

    def counting_processor(cfg, preprocess, postprocess):
        inner = fake_build_processor(cfg, preprocess, postprocess)

        def proc(ds):
            seen.extend(r["id"] for r in ds.take_all())
            return inner(ds)

        return proc

    cfg["resume"] = True
    metrics = rb.run(cfg, build_processor=counting_processor)
    assert sorted(seen) == [4, 5], "only rows without output are processed"
    assert (metrics["rows"], metrics["skipped_rows"]) == (2, 3)
    out = rb.read_table(cfg["output"]["path"], "jsonl").take_all()
    assert sorted(int(r["id"]) for r in out) == [1, 2, 3, 4, 5], "exactly one output row per input row"

    # Everything done: no engine, nothing processed, nothing written twice.
    def no_engine(*_):
        raise AssertionError("an engine was built with every row committed")

    metrics = rb.run(cfg, build_processor=no_engine)
    assert (metrics["rows"], metrics["skipped_rows"]) == (0, 5)
    assert len(rb.read_table(cfg["output"]["path"], "jsonl").take_all()) == 5


def test_without_resume_output_is_overwritten(tmp_path):
    cfg = config(tmp_path, "jsonl")
    write_input(cfg["input"]["path"], "jsonl", [{"id": i, "prompt": p} for i, p in PROMPTS.items()])
    rb.run(cfg, build_processor=fake_build_processor)
    rb.run(cfg, build_processor=fake_build_processor)
    assert len(rb.read_table(cfg["output"]["path"], "jsonl").take_all()) == 5


def test_missing_column_is_named(tmp_path):
    cfg = config(tmp_path, "jsonl", prompt_column="question")
    write_input(cfg["input"]["path"], "jsonl", [{"id": 1, "prompt": "x"}])
    with pytest.raises(rb.ConfigError, match="no column question; its columns are id, prompt"):
        rb.run(cfg, build_processor=fake_build_processor)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["input"].update(messages_column="m"), "exactly one of input.prompt_column"),
        (lambda c: c["output"].update(format="xml"), "output.format must be one of jsonl, parquet, csv"),
        (lambda c: c.pop("model_source"), "model_source is required"),
    ],
)
def test_validate(tmp_path, change, message):
    cfg = config(tmp_path, "jsonl")
    change(cfg)
    with pytest.raises(rb.ConfigError, match=message):
        rb.validate(cfg)


def test_main_rejects_bad_config(capsys):
    assert rb.main(["--config-json", json.dumps({"model_source": "m"})]) == 2
    assert "input.path is required" in capsys.readouterr().err


def test_golden_config_is_accepted_by_ray_data_llm():
    """The config the Go renderer writes (testdata/golden) makes a valid
    vLLMEngineProcessorConfig: Ray's own pydantic validation, no vLLM needed."""
    from ray.data.llm import vLLMEngineProcessorConfig

    golden = json.loads((HERE / "testdata" / "golden_config.json").read_text())
    rb.validate(golden)
    kwargs = rb.processor_config_kwargs(golden)
    pc = vLLMEngineProcessorConfig(**kwargs)
    assert pc.model_source == golden["model_source"]
    assert pc.engine_kwargs["tensor_parallel_size"] == golden["engine_kwargs"]["tensor_parallel_size"]
    assert pc.accelerator_type == golden["accelerator_type"]
    assert pc.should_continue_on_error is (golden["on_row_error"] == "skip")
    assert pc.batch_size == golden["batch_size"]
    assert pc.placement_group_config["bundle_per_worker"]["GPU"] == 1.0
    assert pc.max_concurrent_batches == golden["max_concurrent_batches"]

    cpu = dict(golden, accelerator="cpu", accelerator_type=None, num_gpus_per_replica=None)
    pc = vLLMEngineProcessorConfig(**rb.processor_config_kwargs(cpu))
    assert [(b["CPU"], b.get("GPU", 0)) for b in pc.placement_group_config["bundles"]] == [(1, 0), (1, 0)]
    assert pc.accelerator_type is None


# Shards, crash resume, bad rows.

def shard_files(root):
    return sorted(p for p in pathlib.Path(root).rglob("*") if p.is_file())


def prompts(n):
    return [{"id": i, "prompt": f"row {i} " + "w " * (i % 7)} for i in range(n)]


def test_output_is_committed_in_shards(tmp_path, monkeypatch):
    cfg = config(tmp_path, "parquet", "parquet")
    monkeypatch.setenv(rb.SHARD_ROWS_ENV, "40")
    write_input(cfg["input"]["path"], "parquet", prompts(200))
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    files = [f for f in shard_files(cfg["output"]["path"]) if f.name.startswith("part-")]
    # Ray Data gives each write task at least shard_rows rows (min_rows_per_write).
    assert 1 <= len(files) <= 200 // 40, "a piece holds at least shard_rows rows"
    assert all(f.suffix == ".parquet" for f in files)
    assert not [f for f in shard_files(cfg["output"]["path"]) if f.name.startswith(".")], "nothing left in flight"
    manifest = json.loads((pathlib.Path(cfg["output"]["path"]) / "_SUCCESS").read_text())
    assert sorted(manifest["pieces"]) == sorted(f.name for f in files)
    assert manifest["metrics"] == metrics
    ids = [int(r["id"]) for r in rb.read_table(cfg["output"]["path"], "parquet").take_all()]
    assert sorted(ids) == list(range(200))
    assert metrics["rows"] == 200


def run_driver(cfg, shard_rows):
    import subprocess

    env = dict(os.environ, **{rb.SHARD_ROWS_ENV: str(shard_rows)})
    return subprocess.Popen([sys.executable, str(HERE / "testscripts" / "standin.py"), json.dumps(cfg)], cwd=HERE, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def killed_mid_run(cfg, n, min_committed, shard_rows=25):
    """Starts the job's driver in its own process, SIGKILLs it once
    min_committed rows are committed, and returns the committed ids."""
    import time

    proc = run_driver(cfg, shard_rows)
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            committed = committed_ids(cfg)
            if len(committed) >= min_committed:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it was killed:\n" + proc.stdout.read().decode()[-3000:]
    finally:
        proc.kill()
        proc.wait()
    return committed_ids(cfg)


_FS = {}


def committed_ids(cfg):
    """Reads every committed shard whole: each must parse."""
    out = cfg["output"]["path"]
    if out not in _FS:  # one S3 client for the polling loops
        _FS[out] = rb._filesystem(out)
    fs, root = _FS[out]
    ids, cols = [], rb.identity_columns(cfg["input"])
    for r in (root, root.rstrip("/") + ".errors"):
        for info in fs.get_file_info(pyarrow.fs.FileSelector(r, recursive=True, allow_not_found=True)):
            if info.type == pyarrow.fs.FileType.File and info.base_name.startswith("part-"):
                t = rayvllm_pieces.read_piece_ids(fs, info.path, cfg["output"]["format"], cols, pa.int64())
                ids += t.column(cols[0]).to_pylist() if len(cols) == 1 else list(zip(*(t.column(c).to_pylist() for c in cols)))
    return ids


import pyarrow as pa  # noqa: E402
import pyarrow.fs  # noqa: E402


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_killed_run_leaves_complete_shards_and_resume_is_exactly_once(tmp_path, fmt):
    n = 400
    cfg = config(tmp_path, "jsonl", fmt)
    cfg.update(standin_seconds_per_row=0.02, batch_size=16, max_concurrent_batches=1)
    write_input(cfg["input"]["path"], "jsonl", prompts(n))

    before = killed_mid_run(cfg, n, min_committed=50)
    assert len(before) == len(set(before)), "no id twice in the committed shards"
    assert 50 <= len(before) < n, "killed mid-run"

    cfg["resume"] = True
    cfg.pop("standin_seconds_per_row")
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    after = committed_ids(cfg)
    assert sorted(after) == list(range(n)), "zero lost, zero duplicated"
    assert (metrics["rows"], metrics["skipped_rows"]) == (n - len(before), len(before))
    out = read_output(cfg)
    assert out[7]["generated_text"] == "chat: row 7" and len(out) == n


def test_resume_on_s3(tmp_path, monkeypatch):
    """Pieces and resume on S3 (moto's). The first run sees only half of the
    input and a killed run's incomplete multipart upload sits under the
    output; the resume run over the whole input processes exactly the other
    half and aborts the upload. (The kill itself on S3 is
    TestAccBatchJob_s3Resume's, through Terraform and a real Ray job.)"""
    import boto3

    if not os.environ.get("RAYVLLM_TEST_MOTO_URL"):
        pytest.skip("moto is not running")
    bucket = "rayvllm-resume-" + tmp_path.name.lower().replace("_", "-")[-20:]
    s3 = boto3.client("s3", endpoint_url=os.environ["RAYVLLM_TEST_MOTO_URL"])
    s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv(rb.SHARD_ROWS_ENV, "40")
    n = 300
    cfg = config(tmp_path, "jsonl", "parquet")
    cfg["output"]["path"] = f"s3://{bucket}/run/out"
    write_input(cfg["input"]["path"], "jsonl", prompts(n)[: n // 2])
    assert rb.run(cfg, build_processor=fake_build_processor)["rows"] == n // 2
    fs, _ = rb._filesystem(cfg["output"]["path"])
    # What a run killed mid-PUT leaves behind: invisible, but billed.
    up = s3.create_multipart_upload(Bucket=bucket, Key="run/out/part-killed.parquet")
    s3.upload_part(Bucket=bucket, Key="run/out/part-killed.parquet", UploadId=up["UploadId"], PartNumber=1, Body=b"PAR1 half")
    # A write task cancelled mid-write (an exception inside put_atomic's
    # stream) commits nothing under the piece's name; pyarrow's close() on
    # that exception completed the upload, an empty piece the resume then
    # failed to read (CI, TestAccBatchJob_s3Resume).
    with pytest.raises(TypeError):
        rayvllm_pieces.put_atomic(fs, f"{bucket}/run/out/part-cancelled.parquet", object())
    assert fs.get_file_info(f"{bucket}/run/out/part-cancelled.parquet").type == pyarrow.fs.FileType.NotFound

    write_input(cfg["input"]["path"], "jsonl", prompts(n))
    cfg["resume"] = True
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    assert sorted(committed_ids(cfg)) == list(range(n)), "zero lost, zero duplicated on S3"
    assert (metrics["rows"], metrics["skipped_rows"]) == (n // 2, n // 2)
    assert not s3.list_multipart_uploads(Bucket=bucket, Prefix="run/").get("Uploads"), "the killed upload is aborted"
    assert not [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="run/").get("Contents", []) if ".tmp-" in o["Key"]], \
        "the cancelled write's temporary object is deleted"
    assert fs.get_file_info(f"{bucket}/run/out/_SUCCESS").type == pyarrow.fs.FileType.File
    assert fs.get_file_info(f"{bucket}/run/out.lease").type == pyarrow.fs.FileType.NotFound, "the lease is released"
    assert fs.get_file_info(f"{bucket}/run/out.metrics.json").type == pyarrow.fs.FileType.File


def test_bad_rows_skip(tmp_path):
    cfg = config(tmp_path, "jsonl")
    cfg["engine_kwargs"]["max_model_len"] = 4
    cfg["on_row_error"] = "skip"
    rows = [{"id": i, "prompt": p} for i, p in PROMPTS.items() if i != 4]  # 1 to 3 words
    rows.append({"id": 6, "prompt": "far too long for the model"})
    write_input(cfg["input"]["path"], "jsonl", rows)
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    assert sorted(read_output(cfg)) == [1, 2, 3, 5]
    errors = rb.read_table(rb.errors_path(cfg["output"]), "jsonl").take_all()
    assert [int(e["id"]) for e in errors] == [6]
    assert "maximum context length is 4 tokens" in errors[0]["error"]
    assert (metrics["rows"], metrics["failed_rows"]) == (4, 1)

    # Resume treats a failed row as committed: it is not retried.
    cfg["resume"] = True
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    assert (metrics["rows"], metrics["failed_rows"], metrics["skipped_rows"]) == (0, 0, 5)


def test_bad_row_fails_the_run_by_default(tmp_path):
    cfg = config(tmp_path, "jsonl")
    cfg["engine_kwargs"]["max_model_len"] = 4
    write_input(cfg["input"]["path"], "jsonl", [{"id": 1, "prompt": "a"}, {"id": 2, "prompt": "far too long for it"}])
    with pytest.raises(Exception, match="maximum context length is 4 tokens"):
        rb.run(cfg, build_processor=fake_build_processor)
    assert committed_ids(cfg) == [], "nothing committed from a failed batch"


def test_resume_names_a_missing_id_column(tmp_path):
    cfg = config(tmp_path, "jsonl")
    out = pathlib.Path(cfg["output"]["path"])
    out.mkdir()
    (out / "part-old.jsonl").write_text('{"key": 1}\n')
    write_input(cfg["input"]["path"], "jsonl", [{"id": 1, "prompt": "a"}])
    cfg["resume"] = True
    with pytest.raises(rb.ConfigError, match="has no column id"):
        rb.run(cfg, build_processor=fake_build_processor)


def test_on_row_error_validated(tmp_path):
    cfg = config(tmp_path, "jsonl")
    cfg["on_row_error"] = "ignore"
    with pytest.raises(rb.ConfigError, match="on_row_error must be one of fail, skip"):
        rb.validate(cfg)
    cfg["on_row_error"] = "skip"
    assert rb.processor_config_kwargs(cfg)["should_continue_on_error"] is True


# Node loss: the spot-preemption story.

def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_worker_node(tmp_path, name, resources):
    """`ray start --address <test head> --block` on loopback with its own
    CPUs, custom resources, ports and temp dir: one more node of the test
    cluster. Returns the process (its group is the node's processes)."""
    import subprocess

    import tempfile

    ray_bin = os.path.join(os.path.dirname(sys.executable), "ray")
    # Short: Ray's socket paths below it must fit AF_UNIX's 107 bytes.
    temp = pathlib.Path(tempfile.mkdtemp(prefix=f"rv{name}-"))
    cmd = [ray_bin, "start", "--address", os.environ["RAYVLLM_TEST_GCS_ADDRESS"], "--block",
           "--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--num-gpus", "0",
           "--resources", json.dumps(resources), "--temp-dir", str(temp),
           "--min-worker-port", "0", "--max-worker-port", "0",
           "--dashboard-agent-listen-port", str(_free_port()), "--metrics-export-port", str(_free_port()),
           "--dashboard-agent-grpc-port", str(_free_port()), "--runtime-env-agent-port", str(_free_port())]
    log = open(temp / "ray-start.log", "wb")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def raylet_of(proc):
    import psutil

    for child in psutil.Process(proc.pid).children(recursive=True):
        if child.name() == "raylet":
            return child
    return None


def test_node_loss_exactly_once(tmp_path):
    """Two worker nodes hold the engine replicas; one's raylet is SIGKILLed
    while the job runs (a spot instance reclaimed). Ray Data either finishes
    the job on the other node or gives up; then a resume run finishes it.
    Either way every input id has exactly one output row."""
    import shutil
    import signal
    import tempfile
    import threading
    import time

    n = 600
    nodes = [start_worker_node(tmp_path, f"node{i}", {"rayvllm_test_worker": 2}) for i in range(2)]
    try:
        deadline = time.monotonic() + 120
        while sum(1 for nd in ray.nodes() if nd["Alive"] and nd["Resources"].get("rayvllm_test_worker")) < 2:
            assert time.monotonic() < deadline, "the two worker nodes did not join"
            assert all(p.poll() is None for p in nodes), "ray start exited"
            time.sleep(1)
        cfg = config(tmp_path, "jsonl")
        cfg.update(standin_seconds_per_row=0.03, batch_size=16, concurrency=2, max_concurrent_batches=1,
                   standin_resources={"rayvllm_test_worker": 1})
        write_input(cfg["input"]["path"], "jsonl", prompts(n))
        os.environ[rb.SHARD_ROWS_ENV] = "32"

        killed = {}

        def kill_when_committed():
            while time.monotonic() < deadline + 300 and not killed:
                if len(committed_ids(cfg)) >= 64:
                    victim = raylet_of(nodes[0])
                    if victim is not None:
                        victim.send_signal(signal.SIGKILL)
                        killed["at"] = len(committed_ids(cfg))
                    return
                time.sleep(0.2)

        killer = threading.Thread(target=kill_when_committed, daemon=True)
        killer.start()
        first_error = None
        try:
            rb.run(cfg, build_processor=fake_build_processor)
        except Exception as e:  # noqa: BLE001 - Ray gave up: the resume below must finish
            first_error = e
        killer.join(timeout=5)
        assert killed, "the worker node was not killed during the run"
        if first_error is not None:
            cfg["resume"] = True
            cfg.pop("standin_seconds_per_row")
            rb.run(cfg, build_processor=fake_build_processor)
        ids = committed_ids(cfg)
        assert sorted(ids) == list(range(n)), (
            f"exactly one row per id after the node loss (killed at {killed['at']} committed; "
            f"first run {'failed: ' + str(first_error)[:200] if first_error else 'finished'})"
        )
    finally:
        os.environ.pop(rb.SHARD_ROWS_ENV, None)
        for p in nodes:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        # The GCS marks a killed node dead only after missed health checks;
        # until then later tests' tasks can be placed on it and die with it.
        deadline = time.monotonic() + 180
        while any(nd["Alive"] and nd["Resources"].get("rayvllm_test_worker") for nd in ray.nodes()):
            assert time.monotonic() < deadline, "the killed worker nodes are still alive in the GCS"
            time.sleep(1)
        for i in range(2):
            for d in pathlib.Path(tempfile.gettempdir()).glob(f"rvnode{i}-*"):
                shutil.rmtree(d, ignore_errors=True)
