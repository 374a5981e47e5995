"""Threads vs worker processes vs Ray (local, and a two-node cluster on
loopback), in one script.

1. Per-task overhead: ``--tasks`` independent GIL-bound Python tasks of a
   given size run by the scheduler on each backend (2 at a time); tasks per
   second for empty tasks, and the speedup over threads per task size (where
   processes and Ray start to pay off).
2. W2 (agent tree, ``--pipelines`` x ``--rows``) with ``n_jobs=2`` on each
   backend: wall time, ratio to threads, scores checked identical, and the
   bytes each task reads and writes.

    python benchmarks/remote.py [--pipelines 30] [--rows 3000] [--cv 3]

Needs Ray (``pip install ".[ray]"`` in this checkout). The cluster is started with
``ray start --block`` (head: one CPU, second node: one CPU) and stopped at
the end.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings

import numpy as np

import stratum
from stratum.bench import data as bench_data
from stratum.bench.pipelines import build, stage_specs, workload_config
from stratum.lower import Task
from stratum.runtime import Scheduler, Store
from stratum.runtime.processes import ProcessScheduler
from stratum.runtime.ray_backend import RayScheduler

SIZES_MS = (0.0, 1.0, 5.0, 20.0, 50.0)


# -- per-task overhead -------------------------------------------------------


def spin(store, loops: int) -> int:
    """Pure-Python work holding the GIL (``loops`` iterations)."""
    total = 0
    for i in range(loops):
        total += i % 7
    return total


def loops_per_ms() -> int:
    start = time.perf_counter()
    spin(None, 1_000_000)
    return int(1_000_000 / ((time.perf_counter() - start) * 1000))


class Tasks:
    """The smallest context a remote backend needs: ``task(key)``."""

    def __init__(self, n: int, loops: int):
        self.tasks = {
            ("t", i): Task(
                key=("t", i),
                fn=functools.partial(spin, loops=loops),
                label="t",
            )
            for i in range(n)
        }

    def task(self, key):
        return self.tasks[key]


def overhead(n_tasks: int, ray_address=None) -> dict:
    schedulers = {
        "threads": lambda: Scheduler(n_jobs=2),
        "processes": lambda: ProcessScheduler(n_jobs=2),
        "ray": lambda: RayScheduler(n_jobs=2, ray_address=ray_address),
    }
    out: dict = {}
    per_ms = loops_per_ms()
    for ms in SIZES_MS:
        row = {}
        for name, make in schedulers.items():
            context = Tasks(n_tasks, int(ms * per_ms))
            scheduler = make()
            start = time.perf_counter()
            scheduler.run(context.tasks, Store(), context=context)
            row[name] = time.perf_counter() - start
        out[ms] = row
        print(
            f"  {n_tasks} tasks of {ms:4.0f} ms: "
            + ", ".join(f"{k} {v:6.2f} s" for k, v in row.items()),
            flush=True,
        )
    return out


def startup(ray_address=None) -> dict:
    """Wall time of a run with a single empty task (pool start, batch load)."""
    out = {}
    for name, make in {
        "processes": lambda: ProcessScheduler(n_jobs=2),
        "ray": lambda: RayScheduler(n_jobs=2, ray_address=ray_address),
    }.items():
        context = Tasks(1, 0)
        start = time.perf_counter()
        make().run(context.tasks, Store(), context=context)
        out[name] = time.perf_counter() - start
    return out


# -- W2 ------------------------------------------------------------------------


def w2_batch(config: dict, df) -> dict:
    return {
        spec["name"]: build(spec["builder"], df, spec["kwargs"])
        for spec in stage_specs(config, 0)
    }


def run_w2(config: dict, df, **options) -> tuple[float, np.ndarray, object]:
    batch = w2_batch(config, df)
    with stratum.Session():
        start = time.perf_counter()
        res = stratum.search(
            batch,
            cv=config["cv"],
            scoring=config["scoring"],
            refit=False,
            n_jobs=2,
            **options,
        )
        seconds = time.perf_counter() - start
    table = res.results_.sort_values(["pipeline", "_candidate"])
    return seconds, table["mean_test_score"].to_numpy(), res


def traffic(res) -> dict:
    """Bytes each scheduled task read (its inputs) and wrote (its value)."""
    stats = res.stats_
    scheduled = stats[stats["how"] == "scheduled"]
    size = dict(zip(stats["task"], stats["nbytes"]))
    tasks = res._batch.driver.lowering.tasks
    reads = [
        sum(size.get(k, 0) for k in tasks[key].inputs)
        for key in scheduled["task"]
        if key in tasks
    ]
    return {
        "tasks": int(len(scheduled)),
        "median_read": float(np.median(reads)),
        "mean_read": float(np.mean(reads)),
        "mean_written": float(scheduled["nbytes"].mean()),
        "total_moved": float(sum(reads) + scheduled["nbytes"].sum()),
        "median_seconds": float(scheduled["seconds"].median()),
        "nodes": int(
            stats["placement"].str.extract(r"node (\w+)")[0].dropna().nunique()
        ),
    }


# -- a two-node cluster on loopback ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node(args: list[str], log) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", *args]
    cmd += ["--num-cpus=1", "--disable-usage-stats", "--block"]
    cmd += ["--node-ip-address=127.0.0.1", "--object-store-memory=1000000000"]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)


def start_cluster(log) -> tuple[str, list[subprocess.Popen]]:
    port = _free_port()
    address = f"127.0.0.1:{port}"
    head = _node(["--head", f"--port={port}", "--include-dashboard=false"], log)
    cli = [sys.executable, "-m", "ray.scripts.scripts", "status"]
    while subprocess.run(
        cli + [f"--address={address}"], capture_output=True
    ).returncode:
        time.sleep(1)
    return address, [head, _node([f"--address={address}"], log)]


def stop_cluster(nodes: list[subprocess.Popen]) -> None:
    for proc in reversed(nodes):
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


# -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipelines", type=int, default=30)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--json", default=None, help="write the figures there")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    figures: dict = {"args": vars(args)}
    config = workload_config("W2", pipelines=args.pipelines, rows=args.rows)
    config["cv"] = args.cv
    df = bench_data.make_reviews(config["rows"], seed=config["seed"])
    walls, scores = {}, {}

    print("W2 on threads, then processes", flush=True)
    walls["threads"], scores["threads"], res = run_w2(config, df)
    figures["traffic"] = traffic(res)
    walls["processes"], scores["processes"], _ = run_w2(config, df, backend="processes")

    ray.init(address="local", num_cpus=2, include_dashboard=False)
    print("per-task overhead, local Ray", flush=True)
    figures["startup"] = startup()
    figures["overhead"] = overhead(args.tasks)
    print("W2 on local Ray", flush=True)
    walls["ray_local"], scores["ray_local"], _ = run_w2(config, df, backend="ray")
    ray.shutdown()

    with open(os.devnull, "w") as log:
        address, nodes = start_cluster(log)
        try:
            print(f"W2 on a two-node cluster at {address}", flush=True)
            walls["ray_cluster"], scores["ray_cluster"], res = run_w2(
                config, df, backend="ray", ray_address=address
            )
            figures["cluster_traffic"] = traffic(res)
            ray.shutdown()
        finally:
            stop_cluster(nodes)

    for name, values in scores.items():
        np.testing.assert_array_equal(values, scores["threads"], err_msg=name)
    figures["w2_seconds"] = walls
    figures["w2_ratio_vs_threads"] = {k: walls["threads"] / v for k, v in walls.items()}
    print(json.dumps(figures, indent=2, default=str))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2, default=str)


if __name__ == "__main__":
    main()
