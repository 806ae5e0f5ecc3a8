"""`make bench-batch-scale`: the built-in script (rayvllm_batch.run) with the
tests' stand-in engine (standin.py) over generated parquet inputs of
increasing size, on the test Ray head. For each size it runs the job's
driver in its own process and measures

  - the driver's peak RSS (getrusage ru_maxrss of that process), and
  - the object store's peak use: the largest "Plasma memory usage" (plus
    spilled MiB) of `ray memory --stats-only`, polled every second.

The goal is memory flat in the row count: the largest size within 1.5x of
the smallest. Writes a markdown table to the path given with --out.

    python bench_scale.py --rows 100000,1000000 --out table.md
"""

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def write_input(path, n):
    import pyarrow as pa
    import pyarrow.parquet as pq

    chunk = 100_000
    with pq.ParquetWriter(path, pa.schema([("id", pa.int64()), ("prompt", pa.string())])) as w:
        for start in range(0, n, chunk):
            ids = range(start, min(n, start + chunk))
            w.write_table(pa.table({"id": list(ids), "prompt": [f"question {i}: " + "word " * (5 + i % 11) for i in ids]}))


def object_store_mib(address):
    """Plasma memory in use plus spilled, MiB, over the cluster."""
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ray"), "memory", "--stats-only",
                          "--address", address], capture_output=True, text=True, timeout=60).stdout
    used = sum(float(m) for m in re.findall(r"Plasma memory usage ([0-9.]+) MiB", out))
    spilled = sum(float(m) for m in re.findall(r"Spilled ([0-9.]+) MiB", out))
    return used + spilled


def measure(address, cfg):
    peak, stop = [0.0], threading.Event()

    def poll():
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], object_store_mib(address))
            except (subprocess.SubprocessError, OSError):
                pass
            stop.wait(1.0)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    start = time.monotonic()
    proc = subprocess.run([sys.executable, __file__, "--driver", json.dumps(cfg)], cwd=HERE,
                          capture_output=True, text=True)
    wall = time.monotonic() - start
    stop.set()
    t.join()
    if proc.returncode != 0:
        raise SystemExit(f"driver failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    result = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("bench: ")][-1][len("bench: "):])
    result.update(object_store_peak_mib=peak[0], wall_seconds=wall)
    return result


def driver(cfg_json):
    sys.path.insert(0, HERE)
    import standin

    cfg = json.loads(cfg_json)
    standin.main([cfg_json])  # prints the metrics line
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import rayvllm_batch as rb

    metrics = json.loads(open(rb.metrics_path(cfg["output"])).read())
    print("bench: " + json.dumps({"driver_peak_rss_mib": rss_kib / 1024, "rows": metrics["rows"]}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="100000,1000000")
    ap.add_argument("--out")
    ap.add_argument("--work", default=os.path.join(HERE, "..", "..", ".tmp", "bench-batch-scale"))
    ap.add_argument("--driver")
    args = ap.parse_args()
    if args.driver:
        return driver(args.driver)
    address = os.environ["RAYVLLM_TEST_GCS_ADDRESS"]
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    os.makedirs(args.work, exist_ok=True)
    results = []
    for n in [int(x) for x in args.rows.split(",")]:
        inp = os.path.join(args.work, f"input-{n}.parquet")
        if not os.path.exists(inp):
            write_input(inp, n)
        cfg = {
            "model_source": "stand-in", "engine_kwargs": {}, "batch_size": 256,
            "input": {"path": inp, "format": "parquet", "id_column": "id", "prompt_column": "prompt",
                      "apply_chat_template": False},
            "output": {"path": os.path.join(args.work, f"out-{n}"), "format": "parquet"},
            "sampling_params": {"max_tokens": 16},
        }
        r = measure(address, cfg)
        if r["rows"] != n:
            raise SystemExit(f"{n} rows in, {r['rows']} processed")
        results.append((n, r))
        print(f"bench-batch-scale: {n} rows: {r}", flush=True)
    base = results[0][1]
    lines = [
        "| rows | driver peak RSS MiB | × smallest | object store peak MiB (in use + spilled) | × smallest | wall s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n, r in results:
        lines.append(
            f"| {n:,} | {r['driver_peak_rss_mib']:.0f} | {r['driver_peak_rss_mib'] / base['driver_peak_rss_mib']:.2f} | "
            f"{r['object_store_peak_mib']:.0f} | {r['object_store_peak_mib'] / max(base['object_store_peak_mib'], 1):.2f} | "
            f"{r['wall_seconds']:.0f} |"
        )
    lines.append("")
    lines.append(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node() and 'this machine'}"
                 f" ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end).")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    worst = max(max(r["driver_peak_rss_mib"] / base["driver_peak_rss_mib"],
                    r["object_store_peak_mib"] / max(base["object_store_peak_mib"], 1)) for _, r in results)
    print(f"bench-batch-scale: largest ratio {worst:.2f} (goal at most 1.5)")


if __name__ == "__main__":
    main()
