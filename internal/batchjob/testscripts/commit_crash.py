"""Kills itself (SIGKILL) at one step of the built-in script's commit
protocol, for the commit protocol tests (rayvllm_batch_test.py) only.

    python testscripts/commit_crash.py '<config json>' piece <k> <piece rows>
        commits the input's rows as pieces of <piece rows> rows with the
        script's own PieceSink.write (the stand-in engine's answers), and
        dies at the k-th durable step (os.fsync or os.replace: temp file
        written, fsynced, renamed, directory fsynced; errors piece first)
        of the second piece's commit
    python testscripts/commit_crash.py '<config json>' driver <name>
        runs the whole job on the test Ray head (standin.py) and dies when
        the driver renames its temporary file onto <name> (_RUN, _SUCCESS)
"""

import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import standin  # noqa: E402

rb = standin.rb


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def arm(k):
    """Dies at the k-th call of os.fsync or os.replace from now on."""
    calls = [0]

    def step(real):
        def wrapped(*args):
            calls[0] += 1
            if calls[0] == k:
                die()
            return real(*args)

        return wrapped

    os.fsync, os.replace = step(os.fsync), step(os.replace)


def results(cfg):
    """The input's rows as the engine stage hands them to the write tasks."""
    import pyarrow as pa
    import pyarrow.json as pajson

    ids = rb.identity_columns(cfg["input"])
    pre = rb.make_preprocess(cfg)
    max_len = (cfg.get("engine_kwargs") or {}).get("max_model_len")
    out = []
    for n, row in enumerate(pajson.read_json(cfg["input"]["path"]).to_pylist()):
        row.update({rb.FILE_COLUMN: os.path.basename(cfg["input"]["path"]), rb.ROW_COLUMN: n})
        identity = {c: row[c] for c in ids}
        try:
            gen = standin.generate(pre(row), max_len)
            arrival, finish = rb.request_window(gen.pop("metrics"))
            # The stand-in stops at max_tokens or at the prompt's end; which is a fixture detail here.
            out.append({**identity, rb.FINISH_REASON: "length", **gen, rb.ARRIVAL: arrival, rb.FINISH: finish, rb.ERROR_COLUMN: ""})
        except ValueError as e:
            out.append({**identity, "generated_text": "", "num_input_tokens": 0, "num_generated_tokens": 0, rb.FINISH_REASON: None,
                        rb.ARRIVAL: 0.0, rb.FINISH: 0.0, rb.ERROR_COLUMN: f"{type(e).__name__}: {e}"})
    return pa.Table.from_pylist(out)


def main(argv):
    import pyarrow as pa

    cfg, mode = json.loads(argv[0]), argv[1]
    if mode == "driver":
        real = os.replace

        def replace(src, dst):
            if os.path.basename(dst) == argv[2]:
                die()
            return real(src, dst)

        os.replace = replace
        standin.main([argv[0]])
        return
    k, piece_rows = int(argv[2]), int(argv[3])
    table = results(cfg)
    sink = rb.PieceSink(cfg["output"], rb.identity_columns(cfg["input"]), pa.int64(), piece_rows)
    for n, off in enumerate(range(0, table.num_rows, piece_rows)):
        if n == 1:
            arm(k)
        sink.write([table.slice(off, piece_rows)], None)


if __name__ == "__main__":
    main(sys.argv[1:])
