"""Native MinHashEncoder vs skrub's, timed in the same process.

Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
        python benchmarks/kernels_minhash.py [--sizes 10000 100000] [--repeat 3]

The column has ``rows`` values drawn from ``rows // 2`` distinct strings
(every one present), the free-text ``review`` values of
``stratum.bench.data``'s reviews table (W2's high-cardinality column: words
from several languages, accents, emoji), with 2% nulls. Only ``transform``
is timed (``fit`` just resets skrub's cache; both encoders are refitted
before every run so that skrub's cache starts empty), as the best of
``--repeat`` runs (one run from 100k rows), wall clock and process CPU time,
the reference first, then the native kernel with a thread budget of 1 and
of 2; every native result is checked equal to the reference's before its
time is reported.
"""

from __future__ import annotations

import argparse
from operator import methodcaller

import numpy as np
import pandas as pd
import skrub
from timing import best_time, print_header, ratio_cells, time_native, timing_fields

from stratum import kernels
from stratum.bench.data import make_reviews

CASES = {
    "fast, 30 components (default)": {"n_components": 30},
    "fast minmax, 30 components": {"n_components": 30, "minmax_hash": True},
    "murmur, 30 components": {"n_components": 30, "hashing": "murmur"},
}


def make_column(n_rows: int, n_unique: int, seed: int = 0) -> pd.Series:
    reviews = make_reviews(2 * n_unique + 1000, seed=seed)["review"]
    pool = pd.unique(reviews.dropna())[:n_unique]
    if len(pool) < n_unique:
        raise ValueError(f"only {len(pool)} distinct reviews")
    rng = np.random.default_rng(seed)
    codes = np.concatenate(
        [np.arange(n_unique), rng.integers(0, n_unique, n_rows - n_unique)]
    )
    values = pool.astype(object)[rng.permutation(codes)]
    values[rng.random(n_rows) < 0.02] = None
    return pd.Series(values, name="review")


def run(sizes: list[int], repeat: int) -> list[dict]:
    rows = []
    for n in sizes:
        col = make_column(n, n // 2)
        reps = 1 if n >= 100_000 else repeat
        for name, params in CASES.items():
            transform = methodcaller("transform", col)
            reference = best_time(
                lambda: skrub.MinHashEncoder(**params).fit(col), transform, reps
            )
            native = time_native(
                lambda: kernels.MinHashEncoder(**params).fit(col),
                transform,
                repeat,
                reference.out,
                lambda out, ref: out.equals(ref) and list(out.columns) == list(ref),
                f"{name} at {n} rows differs from skrub",
            )
            row = {"case": name, "rows": n, "unique": n // 2}
            row.update(timing_fields(reference, native))
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


def format_row(r: dict) -> str:
    cells = ratio_cells(r, seconds=".4f", ratio=".0f")
    return f"| {r['case']} | {r['rows']:,} | {r['unique']:,} | {cells}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print_header(
        "case | rows | unique | skrub s | native 1 thread s | ratio "
        "| CPU-time ratio | native 2 threads s | ratio"
    )
    run(args.sizes, args.repeat)


if __name__ == "__main__":
    main()
