"""skrub-step kernels vs skrub: ``CleanNullStrings`` and ``TableVectorizer``.

``CleanNullStrings.fit_transform`` on one string column (``object`` and
pandas ``str`` dtype; 1,000 distinct words, some blank or null strings, 2%
None), and ``TableVectorizer.fit_transform`` on the W1 and W2 benchmark tables
(its StringEncoders seeded; the stratum vectorizer is what the registry
selects, so its StringEncoder and OneHotEncoder kernels run too). Best of
``--repeat`` runs, in this process; every output is checked equal to skrub's.

    OMP_NUM_THREADS=1 python benchmarks/kernels_skrub.py [--rows 10000 100000]
"""

from __future__ import annotations

import argparse
from operator import methodcaller

import numpy as np
import pandas as pd
import skrub
from skrub._clean_null_strings import CleanNullStrings as SkrubCleanNullStrings
from timing import best_time, print_header, speedup_row, time_native

import stratum.kernels as K
from stratum.bench import data
from stratum.lower.registry import default_registry


def string_column(n: int, dtype, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    words = [f"word_{i}_é" for i in range(1_000)] + ["", " ", "N/A", "null", "\t"]
    col = np.array(words, dtype=object)[rng.integers(0, len(words), n)]
    col[rng.random(n) < 0.02] = None
    return pd.Series(col, name="c", dtype=dtype)


def vectorizer() -> skrub.TableVectorizer:
    return skrub.TableVectorizer(high_cardinality=skrub.StringEncoder(random_state=0))


def same(out, ref) -> bool:
    """pandas' own equality checks (they raise, saying what differs)."""
    if isinstance(out, pd.DataFrame):
        pd.testing.assert_frame_equal(out, ref)
    else:
        pd.testing.assert_series_equal(out, ref)
    return True


def cases(n: int):
    for dtype in (object, "str"):
        name = "object" if dtype is object else dtype
        yield (
            f"CleanNullStrings ({name} column)",
            string_column(n, dtype),
            SkrubCleanNullStrings,
            K.CleanNullStrings,
        )
    native_vectorizer = lambda: default_registry().select(vectorizer())[0]  # noqa: E731
    tables = {
        "W1 houses": data.make_house_prices(n, seed=0).drop(columns="price"),
        "W2 reviews": data.make_reviews(n, seed=0).drop(columns="label"),
    }
    for name, table in tables.items():
        yield f"TableVectorizer ({name})", table, vectorizer, native_vectorizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print_header(
        "kernel | rows | skrub s | stratum 1 thread s | speedup "
        "| stratum 2 threads s | speedup"
    )
    for n in args.rows:
        for label, X, make_ref, make_kernel in cases(n):
            fit_transform = methodcaller("fit_transform", X)
            reference = best_time(make_ref, fit_transform, args.repeat)
            native = time_native(
                make_kernel,
                fit_transform,
                args.repeat,
                reference.out,
                same,
                f"{label} at {n} rows differs from skrub",
            )
            print(speedup_row(label, n, reference, native), flush=True)


if __name__ == "__main__":
    main()
