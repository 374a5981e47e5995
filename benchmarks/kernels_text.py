"""Native text kernels vs scikit-learn / skrub, timed in the same process.

Usage::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
        python benchmarks/kernels_text.py [--sizes 10000 100000 1000000] [--repeat 3]
            [--cases StringEncoder TruncatedSVD]

Documents are the free-text ``review`` column of ``stratum.bench.data``'s
reviews table (words from several languages, accents, emoji, ~2% empty).
Each case is timed as the best of ``--repeat`` runs (one run at 1M rows),
wall clock and process CPU time (the fairer single-thread comparison on a
busy machine), with the reference first, then the native kernel with a
thread budget of 1 and of 2; every native result is checked equal to the
reference's before its time is reported. The slowest reference cases are
skipped at 1M rows (``LARGE_CASES`` lists the ones that run there).
"""

from __future__ import annotations

import argparse
from operator import methodcaller

import numpy as np
import pandas as pd
import skrub
from sklearn import decomposition
from sklearn.feature_extraction import text as sk
from timing import best_time, print_header, ratio_cells, time_native, timing_fields

from stratum import kernels
from stratum.bench.data import make_reviews
from stratum.kernels.text import char_tables

CASES = {
    "tfidf word 1-gram": (
        sk.TfidfVectorizer,
        kernels.TfidfVectorizer,
        {},
    ),
    "tfidf word 1,2-gram": (
        sk.TfidfVectorizer,
        kernels.TfidfVectorizer,
        {"ngram_range": (1, 2)},
    ),
    "tfidf char_wb 3,4-gram": (
        sk.TfidfVectorizer,
        kernels.TfidfVectorizer,
        {"analyzer": "char_wb", "ngram_range": (3, 4)},
    ),
    "count word 1-gram": (sk.CountVectorizer, kernels.CountVectorizer, {}),
    "count word min_df=5 max_features=1000": (
        sk.CountVectorizer,
        kernels.CountVectorizer,
        {"min_df": 5, "max_features": 1000},
    ),
    "hashing word 1-gram": (sk.HashingVectorizer, kernels.HashingVectorizer, {}),
    "hashing char_wb 3,4-gram": (
        sk.HashingVectorizer,
        kernels.HashingVectorizer,
        {"analyzer": "char_wb", "ngram_range": (3, 4)},
    ),
    "StringEncoder (tfidf char_wb + SVD 30)": (
        skrub.StringEncoder,
        kernels.StringEncoder,
        {"random_state": 0},
    ),
    # on the float32 char_wb TF-IDF matrix, as inside StringEncoder
    "TruncatedSVD 30 of tfidf char_wb": (
        decomposition.TruncatedSVD,
        kernels.TruncatedSVD,
        {"n_components": 30, "random_state": 0},
    ),
}
LARGE_CASES = {
    "tfidf word 1-gram",
    "tfidf char_wb 3,4-gram",
    "count word 1-gram",
    "hashing word 1-gram",
    "TruncatedSVD 30 of tfidf char_wb",
}


def same(a, b) -> bool:
    if isinstance(a, pd.DataFrame):
        return a.equals(b) and list(a.columns) == list(b.columns)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    return (
        a.shape == b.shape
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
    )


def run(sizes: list[int], repeat: int, cases: list[str] | None = None) -> list[dict]:
    char_tables()  # built once per process; not part of any timing
    rows = []
    for n in sizes:
        reviews = make_reviews(n, seed=0)["review"]
        docs = reviews.fillna("").tolist()
        reps = 1 if n >= 1_000_000 else repeat
        tfidf = None
        for name, (ref_cls, kernel_cls, params) in CASES.items():
            if n >= 1_000_000 and name not in LARGE_CASES:
                continue
            if cases and not any(name.startswith(c) for c in cases):
                continue
            if name.startswith("TruncatedSVD"):
                if tfidf is None:
                    vec = kernels.TfidfVectorizer(
                        analyzer="char_wb", ngram_range=(3, 4)
                    )
                    tfidf = vec.fit_transform(docs).astype(np.float32)
                data = tfidf
            else:
                data = reviews if name.startswith("StringEncoder") else docs
            fit_transform = methodcaller("fit_transform", data)
            reference = best_time(lambda: ref_cls(**params), fit_transform, reps)
            native = time_native(
                lambda: kernel_cls(**params),
                fit_transform,
                reps,
                reference.out,
                same,
                f"{name} at {n} rows differs from reference",
            )
            row = {"case": name, "rows": n} | timing_fields(reference, native)
            rows.append(row)
            print(format_row(row), flush=True)
    return rows


def format_row(r: dict) -> str:
    cells = ratio_cells(r, seconds=".3f", ratio=".1f")
    return f"| {r['case']} | {r['rows']:,} | {cells}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000]
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--cases", nargs="+", default=None, help="only cases whose name starts so"
    )
    args = parser.parse_args()
    print_header(
        "case | rows | reference s | native 1 thread s | ratio | CPU-time ratio "
        "| native 2 threads s | ratio"
    )
    run(args.sizes, args.repeat, args.cases)


if __name__ == "__main__":
    main()
