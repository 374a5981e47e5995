"""Which steps give different results with 1 and 2 library threads?

Fits each model (and the StringEncoder's randomized SVD) on the same data
with ``threadpoolctl.threadpool_limits(1)`` and ``(2)`` (stratum's kernels
with a thread budget of 1 and 2) and compares the predictions / outputs
bit for bit. A step whose output depends on its thread count must run with
the thread count plain skrub would give it for stratum's results to be
skrub's whatever ``n_jobs`` is.

    python benchmarks/thread_invariance.py [--rows 20000] [--seeds 3]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import skrub
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
from threadpoolctl import threadpool_limits

from stratum._threads import thread_budget_scope
from stratum.bench.data import make_house_prices, make_reviews
from stratum.kernels import StringEncoder as NativeStringEncoder


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--seeds", type=int, default=3)
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


if __name__ == "__main__":
    main()
