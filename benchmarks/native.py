"""End to end with native kernels on and off: W1 stage 1 and W2 (a slice of
the agent tree), same process, alternated, fresh session per run; the scores
of both runs are compared.

    OMP_NUM_THREADS=1 python benchmarks/native.py [--w1-rows 20000]
        [--w2-rows 3000] [--pipelines 20] [--repeat 2]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import stratum
from stratum.bench import data
from stratum.bench import pipelines as P


def _batch(name: str, rows: int, pipelines: int | None) -> tuple[dict, dict]:
    config = P.workload_config(name, rows=rows, pipelines=pipelines)
    df = P.load_data(config, data)
    specs = P.stage_specs(config, 0)
    batch = {s["name"]: P.build(s["builder"], df, s["kwargs"]) for s in specs}
    return config, batch


def _run(name, rows, pipelines, native: bool) -> tuple[float, pd.DataFrame, dict]:
    config, batch = _batch(name, rows, pipelines)
    with stratum.Session(), stratum.config_context(native=native):
        start = time.perf_counter()
        res = stratum.search(
            batch, cv=config["cv"], scoring=config["scoring"], refit=False
        )
        seconds = time.perf_counter() - start
    impl = res.stats_["implementation"].value_counts().to_dict()
    rows_ = res.results_.sort_values(
        ["pipeline", "params"], key=lambda c: c.astype(str)
    )
    return seconds, rows_.reset_index(drop=True), impl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--w1-rows", type=int, default=20_000)
    parser.add_argument("--w2-rows", type=int, default=3_000)
    parser.add_argument("--pipelines", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print("| workload | native off (s) | native on (s) | speedup | max score diff |")
    print("|---|---|---|---|---|")
    for name, rows, pipelines in (
        ("W1", args.w1_rows, None),
        ("W2", args.w2_rows, args.pipelines),
    ):
        best = {False: np.inf, True: np.inf}
        results = {}
        for _ in range(args.repeat):
            for native in (False, True):
                seconds, rows_, impl = _run(name, rows, pipelines, native)
                best[native] = min(best[native], seconds)
                results[native] = rows_
                print(f"  {name} native={native}: {seconds:.2f} s  {impl}")
        a = results[False]["mean_test_score"].to_numpy(float)
        b = results[True]["mean_test_score"].to_numpy(float)
        diff = float(np.nanmax(np.abs(a - b))) if len(a) else 0.0
        if not np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True):
            raise SystemExit(f"{name}: scores differ with native kernels ({diff:.3g})")
        label = f"{name} ({rows:,} rows" + (
            f", {pipelines} pipelines)" if pipelines else ")"
        )
        print(
            f"| {label} | {best[False]:.2f} | {best[True]:.2f} | "
            f"{best[False] / best[True]:.2f}x | {diff:.1e} |"
        )


if __name__ == "__main__":
    main()
