"""`make bench-batch-scale`: the built-in script (rayvllm_batch.run) with the
tests' stand-in engine (standin.py) over generated parquet inputs of
increasing size, on the test Ray head. For each size it runs the job's
driver in its own process and measures

  - the driver's peak RSS (getrusage ru_maxrss of that process), and
  - the object store's peak use: the largest "Plasma memory usage" (plus
    spilled MiB) of `ray memory --stats-only`, polled every second.

The goal is driver memory flat in the row count: the largest size within 1.2x of
the smallest. With --baseline REF the same runs are made with the script
as it was at git REF (before streaming: processor(ds).materialize(), then
one write), as the baseline of the same command. Writes a markdown table
to the path given with --out.

    python testscripts/bench_scale.py --rows 100000,1000000 --baseline c935d5b --out table.md

With --rows-per-second it measures instead how many rows one driver
sustains: at each of --batch-sizes (default 32,256) the job runs over a
small and a large input (--rows SMALL,LARGE, default 50000,250000), and the
differences between the two runs give the marginal rows/s end to end (this
machine's whole pipeline) and the driver's own marginal CPU seconds per row
(getrusage of its process, all its threads: Ray's core worker and Ray
Data's streaming executor run in it). 1 / that is the rate at which the
driver itself would be saturated: the engines, readers and writers run in
other processes.

    python testscripts/bench_scale.py --rows-per-second --rows 50000,250000 --batch-sizes 32,256 --out table.md
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The folder of the product script, rayvllm_batch.py.
PRODUCT = os.path.dirname(HERE)


# Rows per input file: a large input is many files, as Ray Data's writers
# and most exports leave it.
ROWS_PER_FILE = 20_000


def write_input(path, n):
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(path)
    for start in range(0, n, ROWS_PER_FILE):
        ids = range(start, min(n, start + ROWS_PER_FILE))
        pq.write_table(pa.table({"id": pa.array(ids, pa.int64()), "prompt": [f"question {i}: " + "word " * (5 + i % 11) for i in ids]}),
                       os.path.join(path, f"part-{start // ROWS_PER_FILE:05d}.parquet"))


def object_store_mib(address):
    """Plasma memory in use plus spilled, MiB, over the cluster."""
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ray"), "memory", "--stats-only",
                          "--address", address], capture_output=True, text=True, timeout=60).stdout
    used = sum(float(m) for m in re.findall(r"Plasma memory usage ([0-9.]+) MiB", out))
    spilled = sum(float(m) for m in re.findall(r"Spilled ([0-9.]+) MiB", out))
    return used + spilled


def proc_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def measure(address, cfg, lib=PRODUCT):
    store, anon, stop = [0.0], [0], threading.Event()

    def poll_store():
        while not stop.is_set():
            try:
                store[0] = max(store[0], object_store_mib(address))
            except (subprocess.SubprocessError, OSError):
                pass
            stop.wait(1.0)

    t = threading.Thread(target=poll_store, daemon=True)
    t.start()
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--lib", lib, "--driver", json.dumps(cfg)], cwd=lib,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The driver's private memory (RssAnon): its RSS also counts the pages of
    # the object store's shared memory it has read blocks from.
    reader = threading.Thread(target=lambda: setattr(proc, "out", proc.communicate()), daemon=True)
    reader.start()
    while proc.poll() is None:
        try:
            anon[0] = max(anon[0], proc_status_kib(proc.pid, "RssAnon"))
        except OSError:
            pass
        time.sleep(0.25)
    reader.join()
    wall = time.monotonic() - start
    stop.set()
    t.join()
    stdout, stderr = proc.out
    if proc.returncode != 0:
        raise SystemExit(f"driver failed:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    result = json.loads([ln for ln in stdout.splitlines() if ln.startswith("bench: ")][-1][len("bench: "):])
    result.update(object_store_peak_mib=store[0], driver_peak_anon_mib=anon[0] / 1024, wall_seconds=wall)
    return result


def driver(cfg_json, lib):
    sys.path.insert(0, lib)
    import standin

    cfg = json.loads(cfg_json)
    standin.main([cfg_json])  # prints the metrics line
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_kib = usage.ru_maxrss
    import rayvllm_batch as rb

    metrics = json.loads(open(rb.metrics_path(cfg["output"])).read())
    print("bench: " + json.dumps({"driver_peak_rss_mib": rss_kib / 1024, "rows": metrics["rows"],
                                     "driver_cpu_seconds": usage.ru_utime + usage.ru_stime}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", help="row counts, comma-separated (default 100000,1000000; with --rows-per-second one, default 200000)")
    ap.add_argument("--out")
    ap.add_argument("--work", default=os.path.join(PRODUCT, "..", "..", ".tmp", "bench-batch-scale"))
    ap.add_argument("--driver")
    ap.add_argument("--lib", default=PRODUCT)
    ap.add_argument("--baseline", help="a git ref: also run the script as it was there")
    ap.add_argument("--rows-per-second", action="store_true", help="rows one driver sustains, per batch size")
    ap.add_argument("--batch-sizes", default="32,256")
    args = ap.parse_args()
    if args.driver:
        return driver(args.driver, args.lib)
    address = os.environ["RAYVLLM_TEST_GCS_ADDRESS"]
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    os.makedirs(args.work, exist_ok=True)
    if args.rows_per_second:
        return rows_per_second(address, args)
    libs = [("write tasks (this tree)", PRODUCT)]
    if args.baseline:
        base_lib = os.path.join(args.work, "baseline")
        os.makedirs(base_lib, exist_ok=True)
        old = subprocess.run(["git", "show", f"{args.baseline}:internal/batchjob/rayvllm_batch.py"], cwd=HERE,
                             capture_output=True, check=True).stdout
        with open(os.path.join(base_lib, "rayvllm_batch.py"), "wb") as f:
            f.write(old)
        # The stand-in imports rayvllm_pieces and rayvllm_requests, which the baseline predates.
        for src_dir, name in ((HERE, "standin.py"), (PRODUCT, "rayvllm_pieces.py"), (PRODUCT, "rayvllm_requests.py"), (PRODUCT, "rayvllm_cluster.py"),
                             (PRODUCT, "rayvllm_endpoint.py")):
            with open(os.path.join(src_dir, name), "rb") as src, open(os.path.join(base_lib, name), "wb") as dst:
                dst.write(src.read())
        libs.append((f"materialized ({args.baseline})", base_lib))
    all_results = []
    for label, lib in libs:
        all_results.append((label, run_sizes(address, args, lib, label)))
    lines = [
        "| script | rows | driver peak RSS MiB | × smallest | driver peak private (RssAnon) MiB | × smallest | object store peak MiB (in use + spilled) | × smallest | wall s | wall µs per row |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    worst = 0.0
    for label, results in all_results:
        base = results[0][1]
        for n, r in results:
            ratios = (r["driver_peak_rss_mib"] / base["driver_peak_rss_mib"], r["driver_peak_anon_mib"] / base["driver_peak_anon_mib"],
                      r["object_store_peak_mib"] / max(base["object_store_peak_mib"], 1))
            if label == libs[0][0]:
                worst = max(worst, ratios[1])
            lines.append(
                f"| {label} | {n:,} | {r['driver_peak_rss_mib']:.0f} | {ratios[0]:.2f} | {r['driver_peak_anon_mib']:.0f} | {ratios[1]:.2f} | "
                f"{r['object_store_peak_mib']:.0f} | {ratios[2]:.2f} | {r['wall_seconds']:.0f} | {1e6 * r['wall_seconds'] / n:.0f} |"
            )
    lines.append("")
    lines.append(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} ({os.cpu_count()} cores, load average "
                 f"{os.getloadavg()[0]:.1f} at the end).")
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"bench-batch-scale: driver private memory of this tree, largest × smallest size: {worst:.2f} (goal at most 1.2)")


def job_config(inp, out, batch_size):
    return {
        "model_source": "stand-in", "engine_kwargs": {}, "batch_size": batch_size,
        "input": {"path": inp, "format": "parquet", "id_column": "id", "prompt_column": "prompt",
                  "apply_chat_template": False},
        "output": {"path": out, "format": "parquet"},
        "sampling_params": {"max_tokens": 16},
    }


def rows_per_second(address, args):
    """Each batch size over a small and a large input: the differences
    (large - small) remove the fixed costs (Ray's start-up, imports, the
    actor pool) from both the wall clock and the driver's CPU."""
    small, large = [int(x) for x in (args.rows or "50000,250000").split(",")]
    results = []
    for bs in [int(x) for x in args.batch_sizes.split(",")]:
        runs = {}
        for n in (small, large):
            inp = os.path.join(args.work, f"input-{n}")
            if not os.path.exists(inp):
                write_input(inp, n)
            r = measure(address, job_config(inp, os.path.join(args.work, f"out-rps-{bs}-{n}"), bs))
            if r["rows"] != n:
                raise SystemExit(f"batch_size {bs}: {n} rows in, {r['rows']} processed")
            runs[n] = r
            print(f"bench-batch-scale: rows per second, batch_size {bs}, {n} rows: {r}", flush=True)
        rows = large - small
        wall = runs[large]["wall_seconds"] - runs[small]["wall_seconds"]
        cpu = runs[large]["driver_cpu_seconds"] - runs[small]["driver_cpu_seconds"]
        results.append({"batch_size": bs, "runs": runs, "rate": rows / wall, "cpu_us": 1e6 * cpu / rows,
                        "ceiling": rows / cpu if cpu > 0 else float("inf")})
    base = results[0]
    lines = [
        f"| batch_size | wall s ({small:,} / {large:,} rows) | driver CPU s ({small:,} / {large:,}) | marginal rows/s end to end | × first "
        "| marginal driver CPU µs per row | rows/s at which the driver saturates (1 / that) | × first |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        a, b = r["runs"][small], r["runs"][large]
        lines.append(f"| {r['batch_size']} | {a['wall_seconds']:.0f} / {b['wall_seconds']:.0f} | {a['driver_cpu_seconds']:.1f} / "
                     f"{b['driver_cpu_seconds']:.1f} | {r['rate']:,.0f} | {r['rate'] / base['rate']:.2f} | {r['cpu_us']:.1f} | "
                     f"{r['ceiling']:,.0f} | {r['ceiling'] / base['ceiling']:.2f} |")
    lines.append("")
    lines.append(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} ({os.cpu_count()} cores, load average "
                 f"{os.getloadavg()[0]:.1f} at the end).")
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def run_sizes(address, args, lib, label):
    results = []
    for n in [int(x) for x in (args.rows or "100000,1000000").split(",")]:
        inp = os.path.join(args.work, f"input-{n}")
        if not os.path.exists(inp):
            write_input(inp, n)
        r = measure(address, job_config(inp, os.path.join(args.work, f"out-{n}-{label.split()[0]}"), 256), lib)
        if r["rows"] != n:
            raise SystemExit(f"{label}: {n} rows in, {r['rows']} processed")
        results.append((n, r))
        print(f"bench-batch-scale: {label}: {n} rows: {r}", flush=True)
    return results


if __name__ == "__main__":
    main()
