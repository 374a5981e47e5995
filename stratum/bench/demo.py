"""The main job: an agent-style batch, stratum against plain skrub, same process."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from .. import config_context
from ..batch_search import search
from .data import make_house_prices
from .workloads import house_price_batch


def run_plain_skrub(batch: dict, cv: int, quiet: bool = False) -> pd.DataFrame:
    """Each pipeline's grid search, one after the other, with plain skrub."""
    frames = []
    start = time.perf_counter()
    with config_context(engine="skrub"):
        for number, (name, pred) in enumerate(batch.items(), 1):
            s = pred.skb.make_grid_search(cv=cv, scoring="r2", fitted=True, refit=False)
            table = s.results_
            frames.append(
                pd.DataFrame(
                    {"pipeline": name, "mean_test_score": table["mean_test_score"]}
                )
            )
            if not quiet:
                print(
                    f"  plain skrub: {number}/{len(batch)} pipelines done, "
                    f"{time.perf_counter() - start:.1f}s",
                    flush=True,
                )
    return pd.concat(frames, ignore_index=True)


def main(rows: int = 5000, cv: int = 3, check: bool = True) -> dict:
    df = make_house_prices(rows, seed=0)
    print(
        f"stratum demo: 8 agent-style pipelines over a {rows}-row house-price table, "
        f"{cv}-fold CV, r2\n",
        flush=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Building a DataOp computes skrub's previews: same cost for both
        # engines, so it is left out of both timings.
        plain_batch, stratum_batch = house_price_batch(df), house_price_batch(df)
        start = time.perf_counter()
        baseline = run_plain_skrub(plain_batch, cv)
        skrub_seconds = time.perf_counter() - start

        print("  stratum: the same pipelines as one batch ...", flush=True)
        start = time.perf_counter()
        res = search(stratum_batch, cv=cv, scoring="r2", refit=False)
        stratum_seconds = time.perf_counter() - start
        print(f"  stratum: one batch done, {stratum_seconds:.1f}s\n", flush=True)

    table = res.results_[
        [
            "pipeline",
            "params",
            "mean_test_score",
            "std_test_score",
            "mean_fit_time",
            "status",
        ]
    ]
    with pd.option_context("display.width", 160, "display.max_colwidth", 40):
        print(table.to_string(index=False))
    print()
    print(res.explain().split("\npipelines:")[0])
    print()
    print(f"plain skrub (one pipeline after the other): {skrub_seconds:7.2f} s")
    print(f"stratum (one batch):                        {stratum_seconds:7.2f} s")
    speedup = skrub_seconds / stratum_seconds
    print(f"speedup:                                    {speedup:7.2f}x")
    if check:
        ours = np.sort(res.results_["mean_test_score"].to_numpy())
        theirs = np.sort(baseline["mean_test_score"].to_numpy())
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)
        print("scores identical to plain skrub (rtol 1e-9): yes")
    return {"skrub": skrub_seconds, "stratum": stratum_seconds, "result": res}
