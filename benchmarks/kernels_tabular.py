"""Tabular kernels vs scikit-learn: fit_transform time ratios.

Each kernel and its scikit-learn reference run on the same generated table in
this process (best of ``--repeat`` runs; scikit-learn single-threaded), with
the kernel given 1 and then 2 threads. Prints a Markdown table of times and
speedups (reference time / kernel time) and checks that outputs agree.

    OMP_NUM_THREADS=1 python benchmarks/kernels_tabular.py [--rows 10000 100000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn import impute, preprocessing

import stratum.kernels as K
from stratum._threads import thread_budget_scope


def string_table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {}
    for name, card in (("low", 12), ("mid", 1_000), ("high", 50_000)):
        words = np.array([f"{name}_{i}_é" for i in range(card)], dtype=object)
        col = words[rng.integers(0, card, n)]
        col[rng.random(n) < 0.02] = None
        cols[name] = pd.Series(col, dtype=object)
    return pd.DataFrame(cols)


def float_table(n: int, m: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m)) * 100 + 1e4
    X[rng.random(X.shape) < 0.05] = np.nan
    return pd.DataFrame(X, columns=[f"x{j}" for j in range(m)])


CASES = [
    (
        "OneHotEncoder(handle_unknown='ignore')",
        "str",
        preprocessing.OneHotEncoder,
        K.OneHotEncoder,
        {"handle_unknown": "ignore"},
    ),
    ("OrdinalEncoder", "str", preprocessing.OrdinalEncoder, K.OrdinalEncoder, {}),
    ("StandardScaler", "float", preprocessing.StandardScaler, K.StandardScaler, {}),
    ("MinMaxScaler", "float", preprocessing.MinMaxScaler, K.MinMaxScaler, {}),
    (
        "SimpleImputer(median)",
        "float",
        impute.SimpleImputer,
        K.SimpleImputer,
        {"strategy": "median"},
    ),
    (
        "SimpleImputer(mean)",
        "float",
        impute.SimpleImputer,
        K.SimpleImputer,
        {"strategy": "mean"},
    ),
    (
        "SimpleImputer(most_frequent)",
        "float",
        impute.SimpleImputer,
        K.SimpleImputer,
        {"strategy": "most_frequent"},
    ),
]


def best_time(make, X, repeat: int):
    best, out = np.inf, None
    for _ in range(repeat):
        est = make()
        t0 = time.perf_counter()
        out = est.fit_transform(X)
        best = min(best, time.perf_counter() - t0)
    return best, out


def same(a, b) -> bool:
    if sp.issparse(a):
        return (a != b).nnz == 0 and np.array_equal(a.indices, b.indices)
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000]
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        "| kernel | rows | scikit-learn s | stratum 1 thread s | speedup | "
        "stratum 2 threads s | speedup |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n in args.rows:
        tables = {"str": string_table(n), "float": float_table(n)}
        repeat = args.repeat if n < 1_000_000 else max(1, args.repeat - 1)
        for label, kind, ref_cls, ker_cls, params in CASES:
            X = tables[kind]
            t_ref, out_ref = best_time(lambda: ref_cls(**params), X, repeat)
            times = []
            for threads in (1, 2):
                with thread_budget_scope(threads):
                    t, out = best_time(lambda: ker_cls(**params), X, repeat)
                if not same(out_ref, out):
                    raise AssertionError(
                        f"{label} at {n} rows differs from scikit-learn"
                    )
                times.append(t)
            print(
                f"| {label} | {n:,} | {t_ref:.4f} | {times[0]:.4f} | "
                f"{t_ref / times[0]:.1f}x | {times[1]:.4f} | {t_ref / times[1]:.1f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
