"""A Ridge alpha grid with model sharing on and off.

``stratum.search`` over one skrub DataOp, ``Ridge(alpha=choose_float(...))``
on dense numeric data, 3-fold: with ``model_sharing`` each fold's centred
``X^T X`` is computed once for the whole grid; without, once per alpha.
Both runs alternate in one process; the scores are checked equal.

    python benchmarks/ridge_gram.py [--rows 20000] [--cols 200] [--alphas 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd
import skrub
from sklearn.linear_model import Ridge

import stratum


def pipeline(rows: int, cols: int, alphas: int):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, cols))
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(cols)])
    df["y"] = X @ rng.normal(size=cols) + rng.normal(size=rows)
    data = skrub.var("data", df)
    Xop = data.drop(columns="y").skb.mark_as_X()
    y = data["y"].skb.mark_as_y()
    alpha = skrub.choose_float(1e-3, 1e3, log=True, n_steps=alphas, name="alpha")
    return Xop.skb.apply(Ridge(alpha=alpha), y=y)


def run(pred, sharing: bool):
    with stratum.config_context(reuse=False, progress=False, model_sharing=sharing):
        start = time.perf_counter()
        result = stratum.search([pred], cv=3, refit=False)
        seconds = time.perf_counter() - start
    return seconds, result.results_["mean_test_score"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--cols", type=int, default=200)
    parser.add_argument("--alphas", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pred = pipeline(args.rows, args.cols, args.alphas)
    run(pred, True)  # warm up imports and the thread pools
    times: dict[bool, list[float]] = {True: [], False: []}
    scores = {}
    for _ in range(args.repeat):
        for sharing in (False, True):
            seconds, scores[sharing] = run(pred, sharing)
            times[sharing].append(seconds)
    np.testing.assert_array_equal(scores[True], scores[False])
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(
        f"{args.rows} x {args.cols}, {args.alphas} alphas, cv=3, "
        f"{stratum.get_config()['n_jobs']} n_jobs"
    )
    print(f"model_sharing=False: {' '.join(f'{t:.2f}' for t in times[False])} s")
    print(f"model_sharing=True:  {' '.join(f'{t:.2f}' for t in times[True])} s")
    print(f"median off/on: {off:.2f} / {on:.2f} s = {off / on:.2f}x")


if __name__ == "__main__":
    main()
