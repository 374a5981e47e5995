"""Where a workload's time goes, per operator, after deduplication.

Runs ``stratum.search`` on a benchmark workload's pipelines (from
``stratum.bench.pipelines``) and sums the measured task times of the executed
plan by operator (each shared task counted once), printing each operator's
share. ``--cprofile FILE`` also writes a cProfile dump of the search.

    OMP_NUM_THREADS=1 python benchmarks/profile_operators.py W1 --rows 20000
    OMP_NUM_THREADS=1 python benchmarks/profile_operators.py W2 --rows 3000 \\
        --pipelines 20
"""

from __future__ import annotations

import argparse
import cProfile
import time

import stratum
from stratum.bench import data, pipelines


def workload_pipelines(name: str, rows: int, n_pipelines: int) -> tuple[dict, str]:
    if name == "W1":
        df = data.make_house_prices(rows, seed=0)
        batch = {
            f"{prep}_{model}": pipelines.w1_pipeline(df, prep, model)
            for prep in pipelines.W1_PREPS
            for model in pipelines.W1_MODELS
        }
        return batch, "r2"
    if name == "W2":
        df = data.make_reviews(rows, seed=0)
        batch = {
            node["name"]: pipelines.w2_pipeline(
                df, node["draft"], node["extras"], node["model"], node["params"]
            )
            for node in pipelines.agent_tree(n_pipelines, seed=0)
        }
        return batch, "neg_log_loss"
    raise SystemExit(f"unknown workload {name!r} (W1 or W2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["W1", "W2"])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--pipelines", type=int, default=20)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--cprofile", metavar="FILE")
    args = parser.parse_args()
    batch, scoring = workload_pipelines(args.workload, args.rows, args.pipelines)
    profiler = cProfile.Profile() if args.cprofile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    result = stratum.search(batch, cv=args.cv, scoring=scoring)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.cprofile)
    wall = time.perf_counter() - start
    stats = result.stats_
    op = stats["label"].str.replace(r"^<Apply (\w+)>$", r"\1", regex=True)
    op = op.where(~op.str.startswith("score "), "scoring")
    by_op = stats.groupby(op)["seconds"].sum().sort_values(ascending=False)
    total = by_op.sum()
    print(
        f"{args.workload}: {len(batch)} pipelines, {args.rows:,} rows, "
        f"{args.cv}-fold; wall {wall:.1f} s, task time {total:.1f} s"
    )
    print("| operator | task time s | share |")
    print("|---|---:|---:|")
    for name, seconds in by_op.head(args.top).items():
        print(f"| {name} | {seconds:.2f} | {100 * seconds / total:.1f}% |")


if __name__ == "__main__":
    main()
