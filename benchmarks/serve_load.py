"""Load on ``stratum serve``: many agents submitting rounds of pipelines.

Starts ``stratum serve`` on a free loopback port (jobs kept in a fresh state
database); CLIENTS threads each submit ROUNDS jobs (one after the other, as an
agent loop does: submit, wait, submit the next), each job two Ridge pipelines
drawn from 8 variants over the same table. Reports throughput, batches
(merged ones), p50/p95 latency of the submission and from submit to results,
the server's resident memory (with its workers) over time, and compares with
the baseline of each job evaluated on its own by ``stratum.search`` in this
process (no sharing between jobs), scores checked identical. Every job
submitted must come back once, with its own results.

With ``--kill-at F``, once a fraction F of the jobs is done the server is
killed (SIGKILL) and started again on the same state database and port; the
clients go on (``stratum.Client`` retries while the server is away).

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/serve_load.py \
        --clients 16 --rounds 13 [--kill-at 0.5]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pandas as pd
import skrub
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge

import stratum
from stratum.bench.procs import tree_rss

ALPHAS = [(0.01, 0.1), (0.1, 1.0), (1.0, 10.0), (3.0, 30.0)]


def make_data(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.normal(size=rows),
            "city": rng.choice(["Paris", "Zürich", "東京", "Lima"], size=rows),
        }
    )
    df.loc[rng.choice(rows, rows // 15, replace=False), "b"] = np.nan
    noise = rng.normal(scale=0.5, size=rows)
    df["y"] = 2 * df["a"] - df["b"].fillna(0) + (df["city"] == "Lima") + noise
    return df


def variants(df: pd.DataFrame) -> list:
    out = []
    for k in range(8):
        data = skrub.var("data", df)
        X = data.drop(columns="y").skb.mark_as_X()
        y = data["y"].skb.mark_as_y()
        enc = X.skb.apply(skrub.TableVectorizer()).skb.apply(SimpleImputer())
        if k // 4:
            enc = enc.skb.apply(skrub.SquashingScaler())
        model = Ridge(alpha=skrub.choose_from(list(ALPHAS[k % 4]), name="alpha"))
        out.append(enc.skb.apply(model, y=y))
    return out


def submission(client: int, round_: int) -> dict[str, int]:
    first = (client + round_) % 8
    second = (client + 3 * round_ + 1) % 8
    return {"first": first, "second": second} if first != second else {"one": first}


def scores(table: pd.DataFrame) -> dict:
    split = [c for c in table.columns if c.startswith("split")]
    return {
        (row["pipeline"], repr(row["params"])): tuple(row[c] for c in split)
        for _, row in table.iterrows()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=150)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--window", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--kill-at", type=float, default=None)
    args = parser.parse_args()

    pipes = variants(make_data(args.rows))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "serve-load-benchmark"
    env = dict(os.environ, STRATUM_SERVE_TOKENS=token)
    state = tempfile.mkdtemp(prefix="stratum-serve-load-")  # durable, fresh
    argv = [sys.executable, "-m", "stratum", "serve", "--port", str(port)]
    argv += ["--window", str(args.window), "--workers", str(args.workers)]
    argv += ["--state-dir", state]
    servers = [subprocess.Popen(argv, env=env)]
    url = f"http://127.0.0.1:{port}"
    n_jobs = args.clients * args.rounds
    rss: list[tuple[float, int]] = []
    restarts: list[float] = []
    stop = threading.Event()

    def watch(start: float) -> None:
        """Sample the server's memory; kill and restart it once."""
        while not stop.wait(0.5):
            rss.append((time.perf_counter() - start, tree_rss([servers[-1].pid])))
            killed = len(restarts) > 0
            if args.kill_at is None or killed or len(results) < args.kill_at * n_jobs:
                continue
            t0 = time.perf_counter()
            servers[-1].kill()
            servers[-1].wait()
            servers.append(subprocess.Popen(argv, env=env))
            restarts.append(t0 - start)

    try:
        client = stratum.Client(url, token)
        for _ in range(600):
            try:
                client.health()
                break
            except Exception:
                time.sleep(0.1)
        # One job first, so that the workers have started and imported.
        client.submit({"warm": pipes[0]}, cv=args.cv).wait()

        results: dict = {}
        submitted: dict = {}
        submit_latency: list[float] = []
        barrier = threading.Barrier(args.clients)

        def agent(i: int) -> None:
            with stratum.Client(url, token, retry_seconds=120) as c:
                barrier.wait()
                for r in range(args.rounds):
                    chosen = submission(i, r)
                    t0 = time.perf_counter()
                    job = c.submit({n: pipes[k] for n, k in chosen.items()}, cv=args.cv)
                    submit_latency.append(time.perf_counter() - t0)
                    submitted[i, r] = job.id
                    table = job.wait(timeout=600)
                    results[i, r] = (table, time.perf_counter() - t0)

        start = time.perf_counter()
        threading.Thread(target=watch, args=(start,), daemon=True).start()
        threads = [
            threading.Thread(target=agent, args=(i,)) for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        served = time.perf_counter() - start
        stop.set()
        listed = [j["id"] for j in client.jobs()]
    finally:
        stop.set()
        servers[-1].terminate()
        servers[-1].wait()

    assert len(results) == n_jobs, "jobs were lost"
    ids = list(submitted.values())
    assert len(set(ids)) == n_jobs, "a job was submitted twice"
    assert len(listed) == len(set(listed)), "the server lists a job twice"
    assert set(ids) <= set(listed), "the server forgot a job"
    batches: dict[str, set] = {}
    for table, _ in results.values():
        batches.setdefault(table.attrs["batch"], set()).update(
            table.attrs["batch_jobs"]
        )
    merged = [b for b in batches.values() if len(b) > 1]
    latency = np.array([lat for _, lat in results.values()])

    # Baseline: every job on its own, one after the other, nothing shared.
    start = time.perf_counter()
    with stratum.config_context(reuse=False):
        for i in range(args.clients):
            for r in range(args.rounds):
                chosen = submission(i, r)
                alone = stratum.search(
                    {n: pipes[k] for n, k in chosen.items()}, cv=args.cv
                ).results_
                assert scores(alone) == scores(results[i, r][0]), (i, r)
    baseline = time.perf_counter() - start

    print(
        f"stratum serve load: {args.clients} clients x {args.rounds} rounds = "
        f"{n_jobs} jobs ({args.rows} rows, {args.cv}-fold, window "
        f"{args.window:g} s, {args.workers} worker(s))"
    )
    print(
        f"  served: {served:.1f} s, {n_jobs / served:.2f} jobs/s; "
        f"{len(batches)} batches, {len(merged)} merged (largest "
        f"{max(len(b) for b in batches.values())} jobs); latency p50 "
        f"{np.percentile(latency, 50):.2f} s, p95 {np.percentile(latency, 95):.2f} s"
        f"; submit p50 {np.percentile(submit_latency, 50) * 1000:.0f} ms, p95 "
        f"{np.percentile(submit_latency, 95) * 1000:.0f} ms"
    )
    if restarts:
        print(
            f"  server killed (SIGKILL) at {restarts[0]:.1f} s and restarted on "
            "its state database; every job came back once"
        )
    peak = max((m for _, m in rss), default=0)
    curve = ", ".join(
        f"{t:.0f}s {m / 2**20:.0f}" for t, m in rss[:: max(1, len(rss) // 8)]
    )
    print(f"  server RSS (with workers), MiB: peak {peak / 2**20:.0f}; {curve}")
    print(
        f"  baseline (each job alone, stratum.search in one process): "
        f"{baseline:.1f} s, {n_jobs / baseline:.2f} jobs/s"
    )
    print(f"  throughput ratio: {baseline / served:.2f}x; scores identical")


if __name__ == "__main__":
    main()
