"""Exactly once on the test Ray head: row identity, bad ids, the commit
protocol (killed at every step), the lease, and the start-up check. The
Ray fixture and the input helpers are rayvllm_batch_test.py's."""

import json
import os
import pathlib
import re
import sys

import pytest

from rayvllm_batch_test import HERE, committed_ids, config, fake_build_processor, prompts, write_input  # noqa: E402

import pyarrow as pa  # noqa: E402
import rayvllm_batch as rb  # noqa: E402
import rayvllm_pieces  # noqa: E402

ray = pytest.importorskip("ray")


pytestmark = pytest.mark.usefixtures("ray_module")


# Exactly once: row identity, bad ids, the commit protocol, the lease.

def part_files(root):
    return sorted(p for p in pathlib.Path(root).glob("part-*"))


def test_identity_without_id_column(tmp_path, monkeypatch):
    """Without id_column a row is (input file, row ordinal): the output
    carries both, and resume redoes exactly the rows of a lost piece."""
    monkeypatch.setenv(rb.SHARD_ROWS_ENV, "10")
    cfg = config(tmp_path, "jsonl", "parquet")
    del cfg["input"]["id_column"]
    d = tmp_path / "in"
    d.mkdir()
    cfg["input"]["path"] = str(d)
    write_input(d / "a.jsonl", "jsonl", [{"prompt": f"a {i}"} for i in range(30)])
    write_input(d / "b.jsonl", "jsonl", [{"prompt": f"b {i}"} for i in range(20)])
    (d / "_SUCCESS").write_text("not input")
    want = sorted([("a.jsonl", i) for i in range(30)] + [("b.jsonl", i) for i in range(20)])
    assert rb.run(cfg, build_processor=fake_build_processor)["rows"] == 50
    rows = rb.read_table(cfg["output"]["path"], "parquet").take_all()
    assert sorted((r["input_file"], r["input_row"]) for r in rows) == want
    assert all(r["generated_text"] == f"chat: {r['input_file'][0]} {r['input_row']}" for r in rows), "each row answers its own prompt"

    pieces = part_files(cfg["output"]["path"])
    assert len(pieces) >= 2
    lost = len(committed_ids(cfg))
    pieces[0].unlink()
    lost -= len(committed_ids(cfg))
    cfg["resume"] = True
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    assert (metrics["rows"], metrics["skipped_rows"]) == (lost, 50 - lost)
    assert sorted(committed_ids(cfg)) == want, "zero lost, zero duplicated"


def test_bad_ids_are_refused_before_any_engine(tmp_path):
    cfg = config(tmp_path, "jsonl")
    pathlib.Path(cfg["input"]["path"]).write_text(
        "".join(json.dumps({"id": i, "prompt": "p"}) + "\n" for i in (1, 2, 2, None, 3, 3, 3)))

    def no_engine(*_):
        raise AssertionError("an engine was built for an input with bad ids")

    with pytest.raises(rb.InputError) as e:
        rb.run(cfg, build_processor=no_engine)
    msg = str(e.value)
    assert "input.id_column 'id'" in msg
    assert "1 row(s) have a null id (e.g. input.jsonl row 3)" in msg
    assert "2 id(s) appear more than once, in 5 rows" in msg and "2 at input.jsonl row 1, input.jsonl row 2" in msg
    assert part_files(cfg["output"]["path"]) == []


@pytest.mark.parametrize("fmt_in, fmt_out, ids", [
    ("csv", "csv", ["001", "002", "010", "x7"]),  # zero-padded ids stay strings
    ("jsonl", "jsonl", [1, 2, 2**53 + 1, 7]),  # ints beyond a float's precision
    ("jsonl", "csv", ["01", "1", "1.0", "10"]),  # strings that a number parser would merge
    ("parquet", "parquet", ["001", "002", "003", "004"]),
])
def test_id_types_round_trip(tmp_path, fmt_in, fmt_out, ids):
    cfg = config(tmp_path, fmt_in, fmt_out)
    p = cfg["input"]["path"]
    if fmt_in == "jsonl":
        pathlib.Path(p).write_text("".join(json.dumps({"id": i, "prompt": f"q {n}"}) + "\n" for n, i in enumerate(ids)))
    elif fmt_in == "csv":
        pathlib.Path(p).write_text("id,prompt\n" + "".join(f"{i},q {n}\n" for n, i in enumerate(ids)))
    else:
        write_input(p, "parquet", [{"id": i, "prompt": f"q {n}"} for n, i in enumerate(ids)])
    assert rb.run(cfg, build_processor=fake_build_processor)["rows"] == len(ids)
    fs, _ = rb._filesystem(cfg["output"]["path"])
    typ = pa.string() if isinstance(ids[0], str) else pa.int64()
    got = []
    for f in part_files(cfg["output"]["path"]):
        got += rayvllm_pieces.read_piece_ids(fs, str(f), fmt_out, ["id"], typ).column("id").to_pylist()
    assert sorted(got, key=str) == sorted(ids, key=str), "the ids come back as they went in, with their type"
    if fmt_out == "jsonl":
        assert str(2**53 + 1) in "".join(f.read_text() for f in part_files(cfg["output"]["path"]))
    cfg["resume"] = True
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    assert (metrics["rows"], metrics["skipped_rows"]) == (0, len(ids)), "resume finds every committed id"


def test_commit_protocol_crash_states(tmp_path, monkeypatch):
    """What a run killed at each step of a commit leaves, and that a resume
    completes it exactly once: (1) a temporary file not yet renamed, (2) a
    piece's errors committed but not its rows, (3) every piece but no
    _SUCCESS. (A SIGKILL at a random step is the killed-run test's.)"""
    monkeypatch.setenv(rb.SHARD_ROWS_ENV, "10")
    cfg = config(tmp_path, "jsonl", "jsonl")
    cfg["engine_kwargs"]["max_model_len"] = 4
    cfg["on_row_error"] = "skip"
    rows = [{"id": i, "prompt": "far too long for it" if i == 7 else f"q {i}"} for i in range(40)]
    write_input(cfg["input"]["path"], "jsonl", rows)
    first = rb.run(cfg, build_processor=fake_build_processor)
    assert (first["rows"], first["failed_rows"]) == (39, 1)
    out, errs = pathlib.Path(cfg["output"]["path"]), pathlib.Path(rb.errors_path(cfg["output"]))
    (err_piece,) = part_files(errs)
    (out / err_piece.name).unlink()  # (2)
    lost = 39 + 1 - len(committed_ids(cfg))
    (out / f".{err_piece.name}.tmp-0badf00d").write_text('{"id": 999, "generated_text": "half')  # (1)
    (out / "_SUCCESS").unlink()  # (3)

    cfg["resume"] = True
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    assert (metrics["rows"], metrics["failed_rows"], metrics["skipped_rows"]) == (lost, 0, 40 - lost)
    assert sorted(committed_ids(cfg)) == list(range(40)), "zero lost, zero duplicated"
    assert not list(out.glob(".*")), "the temporary file is gone"
    assert json.loads((out / "_SUCCESS").read_text())["metrics"] == metrics


def test_provider_retry_continues_and_a_new_apply_overwrites(tmp_path, monkeypatch):
    monkeypatch.setenv(rb.SHARD_ROWS_ENV, "10")
    cfg = config(tmp_path, "jsonl")
    write_input(cfg["input"]["path"], "jsonl", prompts(40))
    monkeypatch.setattr(rb, "run_key", lambda: "rayvllm-abc-1234")
    rb.run(cfg, build_processor=fake_build_processor)
    part_files(cfg["output"]["path"])[0].unlink()
    lost = 40 - len(committed_ids(cfg))
    # Attempt 2 of the same apply (resume = false): continues.
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    assert (metrics["rows"], metrics["skipped_rows"]) == (lost, 40 - lost)
    # The next apply: overwrites.
    monkeypatch.setattr(rb, "run_key", lambda: "rayvllm-abc-5678")
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    assert (metrics["rows"], metrics["skipped_rows"]) == (40, 0)
    assert sorted(committed_ids(cfg)) == list(range(40))


def test_run_key_strips_the_retry_suffix(monkeypatch):
    for sid, want in (("rayvllm-ab12-cd34", "rayvllm-ab12-cd34"), ("rayvllm-ab12-cd34-retry-2", "rayvllm-ab12-cd34")):
        monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", json.dumps({"metadata": {"job_submission_id": sid}}))
        assert rayvllm_pieces.run_key() == want
    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR")
    assert rayvllm_pieces.run_key() == ""


def test_concurrent_writer_refused(tmp_path):
    import subprocess

    cfg = config(tmp_path, "jsonl")
    write_input(cfg["input"]["path"], "jsonl", prompts(5))
    holder = rayvllm_pieces.Lease(cfg["output"], "other-run")
    holder.acquire()
    try:
        with pytest.raises(rb.LeaseError, match="being written by another run"):
            rb.run(cfg, build_processor=fake_build_processor)
        assert not pathlib.Path(cfg["output"]["path"]).exists(), "the refused run touched nothing"
    finally:
        holder.release()
    # A lease left by a process that is gone (a killed driver) is taken over.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    pathlib.Path(rayvllm_pieces.lease_path(cfg["output"])).write_text(json.dumps(
        {"token": "t", "host": __import__("socket").gethostname(), "pid": int(dead), "expires": 4e9}))
    assert rb.run(cfg, build_processor=fake_build_processor)["rows"] == 5
    assert not pathlib.Path(rayvllm_pieces.lease_path(cfg["output"])).exists()


def test_s3_lease_is_a_conditional_create(tmp_path):
    import boto3

    if not os.environ.get("RAYVLLM_TEST_MOTO_URL"):
        pytest.skip("moto is not running")
    bucket = "rayvllm-lease-" + tmp_path.name.lower().replace("_", "-")[-20:]
    boto3.client("s3", endpoint_url=os.environ["RAYVLLM_TEST_MOTO_URL"]).create_bucket(Bucket=bucket)
    out = {"path": f"s3://{bucket}/out", "format": "jsonl"}
    first, second = rayvllm_pieces.Lease(out, "a"), rayvllm_pieces.Lease(out, "b")
    first.acquire()
    try:
        with pytest.raises(rb.LeaseError, match="being written by another run"):
            second.acquire()
    finally:
        first.release()
    second.acquire()
    second.release()


def test_engine_actor_killed_mid_run(tmp_path, monkeypatch):
    """The engine replica's actor process is SIGKILLed mid-run: Ray Data
    restarts it and retries its batches, or the run fails and a resume run
    finishes it. Either way every id has exactly one output row."""
    import signal
    import threading
    import time

    from ray.util.state import list_actors

    monkeypatch.setenv(rb.SHARD_ROWS_ENV, "25")
    n = 400
    cfg = config(tmp_path, "jsonl")
    cfg.update(standin_seconds_per_row=0.05, batch_size=16, max_concurrent_batches=1)
    write_input(cfg["input"]["path"], "jsonl", prompts(n))
    killed = {}

    def kill_engine():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(committed_ids(cfg)) < 50:
            time.sleep(0.2)
        for a in list_actors(filters=[("state", "=", "ALIVE")], detail=True):
            if "StandInEngineUDF" in (a.class_name or "") and a.pid:
                os.kill(a.pid, signal.SIGKILL)
                killed["at"] = len(committed_ids(cfg))

    killer = threading.Thread(target=kill_engine, daemon=True)
    killer.start()
    error = None
    try:
        rb.run(cfg, build_processor=fake_build_processor)
    except Exception as e:  # noqa: BLE001 - Ray gave up: the resume below must finish
        error = e
    killer.join(timeout=10)
    assert killed, "the engine actor was not killed during the run"
    if error is not None:
        cfg["resume"] = True
        cfg.pop("standin_seconds_per_row")
        rb.run(cfg, build_processor=fake_build_processor)
    assert sorted(committed_ids(cfg)) == list(range(n)), f"exactly once (first run {'failed' if error else 'finished'})"


# The start-up check: an engine no node can hold fails the run at once.

@pytest.mark.parametrize("change, message", [
    ({"accelerator_type": "H100"}, "vllm.accelerator_type 'H100': no node of the Ray cluster has that accelerator"),
    ({}, "one engine worker needs 1 GPU on one node (vllm.num_gpus_per_replica / tensor_parallel_size); the most any node"),
])
def test_engine_no_node_can_hold_fails_at_start(tmp_path, change, message):
    """The test head has no GPU and no accelerator label: both runs fail
    before the output is touched and before any engine is built."""
    cfg = config(tmp_path, "jsonl")
    cfg.update(change)
    write_input(cfg["input"]["path"], "jsonl", prompts(5))

    def no_engine(*_):
        raise AssertionError("an engine was built although no node can hold it")

    with pytest.raises(rb.ClusterError, match=re.escape(message)) as e:
        rb.run(cfg, build_processor=no_engine, check_cluster=rb.check_cluster)
    assert "Nodes: node " in str(e.value)
    assert not pathlib.Path(cfg["output"]["path"]).exists(), "the refused run touched nothing"
    # On CPUs the head's cores hold the engine: the check passes.
    cfg.update(accelerator="cpu")
    cfg.pop("accelerator_type", None)
    assert rb.run(cfg, build_processor=fake_build_processor, check_cluster=rb.check_cluster)["rows"] == 5


# The commit protocol, killed at every step: each durable step of a piece's
# commit (the errors piece first, then the rows), and the driver's _RUN
# marker and _SUCCESS manifest. A resume then holds one row per input.

COMMIT_STEPS = {
    "errors temp written": ("piece", "1"), "errors temp fsynced": ("piece", "2"), "errors renamed": ("piece", "3"),
    "rows temp written": ("piece", "4"), "rows temp fsynced": ("piece", "5"), "rows renamed": ("piece", "6"),
    "_RUN marker": ("driver", "_RUN"), "_SUCCESS manifest": ("driver", "_SUCCESS"),
}


@pytest.mark.parametrize("step, with_id", [*((s, True) for s in COMMIT_STEPS if s != "_RUN marker"),
                                           ("errors renamed", False), ("_RUN marker", False)])
def test_killed_at_each_commit_step_then_resume_is_exactly_once(tmp_path, monkeypatch, step, with_id):
    """Without id_column the identity is (input file, row): the same steps
    hold (two of them are run that way, to keep the test's time down)."""
    import signal
    import subprocess

    monkeypatch.setenv(rb.SHARD_ROWS_ENV, "10")
    cfg = config(tmp_path, "jsonl", "jsonl")
    cfg["engine_kwargs"]["max_model_len"] = 4
    cfg["on_row_error"] = "skip"
    # Row 15 is too long for the engine: the second piece has an errors piece.
    write_input(cfg["input"]["path"], "jsonl", [{"id": i, "prompt": "far too long for it" if i == 15 else f"q {i}"} for i in range(30)])
    if not with_id:
        del cfg["input"]["id_column"]
    mode, arg = COMMIT_STEPS[step]
    args = [arg, "10"] if mode == "piece" else [arg]
    p = subprocess.run([sys.executable, str(HERE / "testscripts" / "commit_crash.py"), json.dumps(cfg), mode, *args],
                       cwd=HERE, capture_output=True, timeout=300)
    assert p.returncode == -signal.SIGKILL, f"not killed at {step}: rc {p.returncode}\n{(p.stdout + p.stderr).decode()[-3000:]}"
    out, errs = pathlib.Path(cfg["output"]["path"]), pathlib.Path(rb.errors_path(cfg["output"]))
    before = committed_ids(cfg)
    assert len(before) == len(set(before)), "no piece committed twice"
    want = list(range(30)) if with_id else [("input.jsonl", i) for i in range(30)]
    if mode == "piece":
        assert set(want[:10]) <= set(before), "the first piece was committed before the kill"
        assert list(out.glob(".*")) + list(errs.glob(".*")) or step.endswith("renamed"), f"{step}: a temporary file is left"

    cfg["resume"] = True
    metrics = rb.run(cfg, build_processor=fake_build_processor)
    assert sorted(committed_ids(cfg)) == want, f"{step}: zero lost, zero duplicated"
    assert metrics["skipped_rows"] == len(before)
    assert metrics["rows"] + metrics["failed_rows"] + metrics["skipped_rows"] == 30
    assert not [f for f in tmp_path.rglob(".*") if ".tmp-" in f.name], "no temporary file is left"
    assert not pathlib.Path(rayvllm_pieces.lease_path(cfg["output"])).exists()
    assert json.loads((out / "_SUCCESS").read_text())["metrics"] == metrics
