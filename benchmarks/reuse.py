"""Reuse across batches: W1's stage 2 with and without stage 1's results, and a
warm second run of W2 reading the disk cache in a new process.

    python benchmarks/reuse.py [--rows 20000] [--w2-rows 3000] [--pipelines 30]

Prints the ratios recorded in benchmarks/RESULTS.md. Every timing pair is
measured in the same script; scores are checked to be identical.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np


def w1(rows: int) -> dict:
    import stratum
    from stratum.bench import data
    from stratum.bench.pipelines import (
        W1_MODELS,
        W1_PREPS,
        w1_pipeline,
        w1_stage2_pipeline,
    )

    df = data.make_house_prices(rows, seed=0)
    stage1 = {f"{p}_{m}": w1_pipeline(df, p, m) for p in W1_PREPS for m in W1_MODELS}

    def stage2():
        return {"tune": w1_stage2_pipeline(df, "b", "lightgbm")}

    with stratum.Session():
        t = time.perf_counter()
        stratum.search(stage1, cv=3, scoring="r2", refit=False)
        t_stage1 = time.perf_counter() - t
        t = time.perf_counter()
        warm = stratum.search(stage2(), cv=3, scoring="r2", refit=False)
        t_warm = time.perf_counter() - t
    with stratum.Session():
        t = time.perf_counter()
        cold = stratum.search(stage2(), cv=3, scoring="r2", refit=False)
        t_cold = time.perf_counter() - t
    np.testing.assert_array_equal(
        warm.results_["mean_test_score"], cold.results_["mean_test_score"]
    )
    return {
        "rows": rows,
        "stage1_s": t_stage1,
        "stage2_without_reuse_s": t_cold,
        "stage2_with_reuse_s": t_warm,
        "speedup": t_cold / t_warm,
        "reused_results": warm._batch.driver.store.reused,
    }


W2_CHILD = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import stratum
from stratum.bench import data
from stratum.bench.pipelines import agent_tree, w2_pipeline
df = data.make_reviews({rows}, seed=0)
keys = ("draft", "extras", "model", "params")
batch = {{
    n["name"]: w2_pipeline(df, **{{k: n[k] for k in keys}}) for n in agent_tree({n})
}}
start = time.perf_counter()
with stratum.Session(cache_dir={cache!r}) as session:
    res = stratum.search(batch, cv=5, scoring="neg_log_loss", refit=False)
    info = session.info()
print(json.dumps({{"seconds": time.perf_counter() - start,
                  "scores": res.results_.sort_values(["pipeline", "_candidate"])
                  ["mean_test_score"].tolist(), "disk": info["disk"]}}))
"""


def w2(rows: int, n: int) -> dict:
    with tempfile.TemporaryDirectory() as cache:
        code = W2_CHILD.format(rows=rows, n=n, cache=cache)
        runs = []
        for _ in range(2):
            out = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                check=True,
                env=os.environ,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    assert cold["scores"] == warm["scores"], "warm run gave different scores"
    return {
        "rows": rows,
        "pipelines": n,
        "cold_s": cold["seconds"],
        "warm_s": warm["seconds"],
        "speedup": cold["seconds"] / warm["seconds"],
        "disk_written_mib": cold["disk"]["bytes_written"] / 2**20,
        "disk_read_mib": warm["disk"]["bytes_read"] / 2**20,
        "warm_hits": warm["disk"]["hits"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--w2-rows", type=int, default=3_000)
    parser.add_argument("--pipelines", type=int, default=30)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(json.dumps({"W1_stage2": w1(args.rows)}, indent=1))
    print(json.dumps({"W2_warm_disk": w2(args.w2_rows, args.pipelines)}, indent=1))


if __name__ == "__main__":
    main()
