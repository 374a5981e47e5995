"""Model sharing on W4 (an agent's model-tuning stage), in one process.

Runs the W4 grids (LightGBM, XGBoost, HistGradientBoosting over their rounds
x learning rate x leaves/depth, on W1's preprocessing) with
``stratum.search`` with ``model_sharing`` on and off, alternating, and plain
skrub once, all in this process with one library thread. Reports wall and
CPU seconds and their ratios, the number of fits taken as prefixes and of
fits on bins another fit built, and
checks that the three give identical scores (==).

    OMP_NUM_THREADS=1 python benchmarks/model_sharing.py --rows 10000 --repeat 2
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import timed

import stratum
from stratum.bench.data import make_house_prices
from stratum.bench.pipelines import W4_MODELS, w4_pipeline


def _scores(searches: dict) -> dict:
    out = {}
    for name, search in searches.items():
        results = search.cv_results_
        for i, params in enumerate(results["params"]):
            splits = [k for k in results if k.startswith("split") and "test" in k]
            out[(name, repr(sorted(params.items())))] = [results[k][i] for k in splits]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, nargs=3, default=[100, 300, 1000])
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-skrub", action="store_true", help="skip plain skrub")
    args = parser.parse_args()
    df = make_house_prices(args.rows)
    pipelines = {f"tune_{m}": w4_pipeline(df, m, list(args.rounds)) for m in W4_MODELS}
    print(
        f"W4: {args.rows:,} rows, rounds {args.rounds}, {args.cv}-fold CV, "
        f"{len(pipelines)} grids"
    )
    reference = None
    if not args.no_skrub:
        searches = {}

        def skrub_run():
            with stratum.config_context(engine="skrub"):
                for name, pipeline in pipelines.items():
                    search = pipeline.skb.make_grid_search(
                        cv=args.cv, scoring="r2", fitted=False
                    )
                    searches[name] = search.fit(pipeline.skb.get_data())

        _, wall, cpu = timed(skrub_run)
        reference = _scores(searches)
        print(f"  plain skrub:          {wall:8.1f} s wall {cpu:8.1f} s CPU")
    rows = {True: [], False: []}
    for _ in range(args.repeat):
        for sharing in (True, False):
            with stratum.config_context(
                model_sharing=sharing, reuse=False, progress=False, n_jobs=1
            ):
                result, wall, cpu = timed(
                    lambda: stratum.search(
                        pipelines, cv=args.cv, scoring="r2", refit=False
                    )
                )
            implementation = result.stats_["implementation"]
            prefixed = implementation.str.startswith("prefix:").sum()
            binned = implementation.str.startswith("binned data of").sum()
            scores = _scores(result.searches_)
            if reference is None:
                reference = scores
            assert scores == reference, "scores differ"
            rows[sharing].append((wall, cpu))
            label = "on " if sharing else "off"
            print(
                f"  stratum sharing {label}:  {wall:8.1f} s wall {cpu:8.1f} s CPU"
                f"  ({prefixed} fits taken as prefixes, {binned} on shared bins)"
            )
    on, off = np.array(rows[True]), np.array(rows[False])
    print(
        f"sharing off / on (best of {args.repeat}): wall "
        f"{off[:, 0].min() / on[:, 0].min():.2f}x, CPU "
        f"{off[:, 1].min() / on[:, 1].min():.2f}x; scores identical"
    )


if __name__ == "__main__":
    main()
