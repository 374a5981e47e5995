"""Plain skrub and stratum on the demo batch, alone and next to CPU hogs.

Each engine runs the same batch (8 pipelines, HistGradientBoosting among the
models) on an idle machine, then while ``--hogs`` other processes each keep
a core busy, alternated, in one process, with the library thread settings
the user has (run it without OMP_NUM_THREADS to see the default). A batch
should slow down at most in proportion to the CPU it loses.

    python benchmarks/contention.py [--rows 5000] [--hogs 1] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager

import stratum
from stratum._threads import available_cores
from stratum.bench.data import make_house_prices
from stratum.bench.demo import run_plain_skrub
from stratum.bench.workloads import house_price_batch


@contextmanager
def hogs(n: int):
    """``n`` processes spinning on the CPU for the duration of the block."""
    procs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)
    ]
    try:
        time.sleep(0.5)
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def run(engine: str, df, cv: int) -> float:
    batch = house_price_batch(df)
    start = time.perf_counter()
    if engine == "skrub":
        run_plain_skrub(batch, cv, quiet=True)
    else:
        n_jobs = int(engine.split("=")[1])
        with stratum.Session():
            stratum.search(batch, cv=cv, scoring="r2", refit=False, n_jobs=n_jobs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--hogs", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--engines", default="skrub,stratum n_jobs=1,stratum n_jobs=2")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    engines = [e.strip() for e in args.engines.split(",")]
    df = make_house_prices(args.rows, seed=0)
    print(
        f"{available_cores()} cores, OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', '(unset)')}, {args.hogs} hog(s)"
    )
    best: dict[tuple, float] = {}
    for _ in range(args.repeat):
        for loaded in (False, True):
            for engine in engines:
                if loaded:
                    with hogs(args.hogs):
                        seconds = run(engine, df, args.cv)
                else:
                    seconds = run(engine, df, args.cv)
                key = (engine, loaded)
                best[key] = min(best.get(key, seconds), seconds)
                print(f"  {engine:18} {'hog' if loaded else 'idle':4} {seconds:7.2f} s")
    print("\n| engine | idle s | next to the hog(s) s | slowdown |")
    print("|---|---:|---:|---:|")
    for engine in engines:
        idle, loaded = best[engine, False], best[engine, True]
        print(f"| {engine} | {idle:.2f} | {loaded:.2f} | {loaded / idle:.2f}x |")


if __name__ == "__main__":
    main()
