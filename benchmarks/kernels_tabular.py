"""Tabular kernels vs scikit-learn: fit_transform time ratios.

Each kernel and its scikit-learn reference run on the same generated table in
this process (best of ``--repeat`` runs; scikit-learn single-threaded), with
the kernel given 1 and then 2 threads. Prints a Markdown table of times and
speedups (reference time / kernel time) and checks that outputs agree.

    OMP_NUM_THREADS=1 python benchmarks/kernels_tabular.py [--rows 10000 100000]
"""

from __future__ import annotations

import argparse
from operator import methodcaller

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn import impute, preprocessing
from timing import best_time, print_header, speedup_row, time_native

import stratum.kernels as K


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


def same(out, ref) -> bool:
    if sp.issparse(ref):
        return (ref != out).nnz == 0 and np.array_equal(ref.indices, out.indices)
    return np.array_equal(np.asarray(ref), np.asarray(out), equal_nan=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000]
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print_header(
        "kernel | rows | scikit-learn s | stratum 1 thread s | speedup "
        "| stratum 2 threads s | speedup"
    )
    for n in args.rows:
        tables = {"str": string_table(n), "float": float_table(n)}
        repeat = args.repeat if n < 1_000_000 else max(1, args.repeat - 1)
        for label, kind, ref_cls, ker_cls, params in CASES:
            X = tables[kind]
            fit_transform = methodcaller("fit_transform", X)
            reference = best_time(lambda: ref_cls(**params), fit_transform, repeat)
            native = time_native(
                lambda: ker_cls(**params),
                fit_transform,
                repeat,
                reference.out,
                same,
                f"{label} at {n} rows differs from scikit-learn",
            )
            print(speedup_row(label, n, reference, native), flush=True)


if __name__ == "__main__":
    main()
