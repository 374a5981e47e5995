"""Which steps give different results with 1 and 2 library threads?

Fits each model (and the StringEncoder's randomized SVD) on the same data
with ``threadpoolctl.threadpool_limits(1)`` and ``(2)`` (stratum's kernels
with a thread budget of 1 and 2) and compares the predictions / outputs
bit for bit. A step whose output depends on its thread count must run with
the thread count plain skrub would give it for stratum's results to be
skrub's whatever ``n_jobs`` is: stratum pins such steps
(``stratum/lower/threads.py``).

Then (``--batch-rows``, 0 to skip) runs W1's first stage (8 pipelines) with
``stratum.search`` at ``n_jobs=1``, at ``n_jobs=2`` and at ``n_jobs=2`` with
pinning turned off (the list of thread-sensitive classes emptied for that
run: the runtime as it was before pinning), in that order ``--repeat``
times, and reports each one's best wall time, its ratio to ``n_jobs=1``
and whether every split score has the bits of ``n_jobs=1``'s.

    python benchmarks/thread_invariance.py [--rows 20000] [--seeds 3]
        [--batch-rows 5000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings

import numpy as np
import skrub
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
from threadpoolctl import threadpool_limits

import stratum
from stratum._threads import available_cores, thread_budget_scope
from stratum.bench.data import make_house_prices, make_reviews
from stratum.bench.pipelines import W1_MODELS, W1_PREPS, w1_pipeline
from stratum.kernels import StringEncoder as NativeStringEncoder
from stratum.lower import threads as pinning


def _models(seed: int) -> dict:
    from lightgbm import LGBMRegressor
    from xgboost import XGBRegressor

    return {
        "LGBMRegressor": LGBMRegressor(n_estimators=100, random_state=seed, verbose=-1),
        "XGBRegressor (hist)": XGBRegressor(n_estimators=100, random_state=seed),
        "HistGradientBoostingRegressor": HistGradientBoostingRegressor(
            max_iter=100, random_state=seed
        ),
        "RandomForestRegressor": RandomForestRegressor(
            n_estimators=20, random_state=seed
        ),
        "Ridge": Ridge(alpha=1.0),
        "ElasticNet": ElasticNet(alpha=0.01, max_iter=2000),
    }


def _with_threads(n: int, fn):
    with threadpool_limits(n), thread_budget_scope(n):
        return fn()


def _row(name: str, seed: int, fit) -> str:
    """One table row: ``fit()`` run with 1 and with 2 threads, compared."""
    one = np.asarray(_with_threads(1, fit), dtype=float)
    two = np.asarray(_with_threads(2, fit), dtype=float)
    same = "yes" if np.array_equal(one, two) else "**no**"
    diff = float(np.max(np.abs(one - two), initial=0.0))
    return f"| {name} | {seed} | {same} | {diff:.3g} |"


@contextlib.contextmanager
def _pinning_off():
    """No class is thread-sensitive: no task is pinned (as before pinning)."""
    saved = dict(pinning.THREAD_SENSITIVE), dict(pinning.THREAD_SENSITIVE_WITH)
    pinning.THREAD_SENSITIVE.clear()
    pinning.THREAD_SENSITIVE_WITH.clear()
    try:
        yield
    finally:
        pinning.THREAD_SENSITIVE.update(saved[0])
        pinning.THREAD_SENSITIVE_WITH.update(saved[1])


def _w1_stage1(df) -> dict:
    return {
        f"{prep}_{model}": w1_pipeline(df, prep, model)
        for prep in W1_PREPS
        for model in W1_MODELS
    }


def _search(df, n_jobs: int, pinned: bool) -> tuple[float, np.ndarray, int]:
    """One timed batch in a fresh session: wall seconds, every split score
    (pipelines by name), pinned tasks."""
    off = contextlib.nullcontext() if pinned else _pinning_off()
    with off, stratum.Session(), stratum.config_context(progress=False):
        start = time.perf_counter()
        res = stratum.search(_w1_stage1(df), cv=3, refit=False, n_jobs=n_jobs)
        wall = time.perf_counter() - start
    table = res.results_.sort_values("pipeline")
    scores = table[[f"split{i}_test_score" for i in range(3)]].to_numpy()
    return wall, scores, int(res.stats_["pinned"].sum())


def batch_table(rows: int, repeat: int) -> None:
    """W1 stage 1 with n_jobs=1, 2, and 2 without pinning: time and bits."""
    df = make_house_prices(rows, seed=0)
    _search(make_house_prices(300, seed=1), 1, True)  # imports, char tables
    variants = [
        ("n_jobs=1", 1, True),
        ("n_jobs=2, pinned", 2, True),
        ("n_jobs=2, pinning off", 2, False),
    ]
    walls: dict = {name: [] for name, _, _ in variants}
    scores: dict = {}
    pinned: dict = {}
    for _ in range(repeat):
        for name, n_jobs, pin in variants:
            wall, scores[name], pinned[name] = _search(df, n_jobs, pin)
            walls[name].append(wall)
    base = min(walls["n_jobs=1"])
    print(
        f"\nW1 stage 1 (8 pipelines), {rows:,} rows, 3-fold, "
        f"{available_cores()} cores, best of {repeat}:\n"
    )
    print("| run | wall (s) | vs n_jobs=1 | pinned tasks | scores = n_jobs=1's |")
    print("|---|---:|---:|---:|---|")
    for name, _, _ in variants:
        same = np.array_equal(scores[name], scores["n_jobs=1"], equal_nan=True)
        diff = float(np.nanmax(np.abs(scores[name] - scores["n_jobs=1"])))
        print(
            f"| {name} | {min(walls[name]):.2f} | {base / min(walls[name]):.2f}x "
            f"| {pinned[name]} | {'yes' if same else f'**no** ({diff:.3g})'} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--batch-rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print("| step | seed | identical (1 vs 2 threads) | max abs difference |")
    print("|---|---:|---|---:|")
    for seed in range(args.seeds):
        df = make_house_prices(args.rows, seed=seed)
        X = skrub.TableVectorizer().fit_transform(df.drop(columns="price"))
        X = X.fillna(0.0).to_numpy(dtype=float)
        y = np.log(df["price"].to_numpy())
        for name, model in _models(seed).items():
            print(_row(name, seed, lambda m=model: m.fit(X, y).predict(X)))
        labels = (y > np.median(y)).astype(int)
        logistic = LogisticRegression(max_iter=500)
        print(
            _row(
                "LogisticRegression",
                seed,
                lambda: logistic.fit(X, labels).predict_proba(X),
            )
        )
        text = make_reviews(args.rows, seed=seed)["review"]
        for name, cls in (
            ("StringEncoder (TF-IDF + SVD)", skrub.StringEncoder),
            ("stratum.kernels.StringEncoder", NativeStringEncoder),
        ):
            encoder = cls(n_components=30, random_state=seed)
            print(_row(name, seed, lambda e=encoder: e.fit_transform(text)))
    if args.batch_rows:
        batch_table(args.batch_rows, args.repeat)


if __name__ == "__main__":
    main()
