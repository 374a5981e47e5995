"""stratum with n_jobs=1 and n_jobs=2 on the demo workload, alternated twice,
best of two each (same process, fresh session per run).

    python benchmarks/parallel.py [--rows 5000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import stratum
from stratum.bench.data import make_house_prices
from stratum.bench.workloads import house_price_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    df = make_house_prices(args.rows, seed=0)
    best: dict[int, float] = {}
    for n_jobs in (1, 2, 1, 2):
        batch = house_price_batch(df)
        with stratum.Session():
            start = time.perf_counter()
            stratum.search(batch, cv=3, scoring="r2", refit=False, n_jobs=n_jobs)
            seconds = time.perf_counter() - start
        best[n_jobs] = min(best.get(n_jobs, seconds), seconds)
        print(f"n_jobs={n_jobs}: {seconds:.2f} s")
    print(f"n_jobs=1 / n_jobs=2: {best[1] / best[2]:.2f}x")


if __name__ == "__main__":
    main()
