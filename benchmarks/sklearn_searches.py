"""W6, scikit-learn searches: scikit-learn's own fit vs ``stratum.search``.

An agent's plain scikit-learn code on the house-price table: one
``ColumnTransformer`` (one-hot encoded categories, imputed and scaled
numbers) in front of six ``GridSearchCV``s, 5-fold: Ridge and Lasso over
``alpha``, LightGBM over leaves x learning rate x rounds, XGBoost over depth
x rounds, HistGradientBoosting over learning rate x iterations, a random
forest over features per split x trees. Each search is fitted by
scikit-learn one after the other (``search.fit(X, y)``, the searches'
default ``n_jobs=None``), then the six run as one ``stratum.search`` with
``n_jobs=1`` and with the default (all cores), alternating, in this process.
Reports wall and CPU seconds, the ratios, and checks that every
``cv_results_`` score is identical (==).

    python benchmarks/sklearn_searches.py --rows 20000 --repeat 2
"""

from __future__ import annotations

import argparse

import numpy as np
from lightgbm import LGBMRegressor
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Lasso, Ridge
from sklearn.model_selection import GridSearchCV, ParameterGrid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from timing import timed
from xgboost import XGBRegressor

import stratum
from stratum.bench.data import make_house_prices

CATEGORIES = ["town", "county", "property_type", "old_new", "tenure"]
NUMBERS = ["floor_area", "n_rooms", "lat", "lon"]


def searches(cv: int) -> dict:
    pre = make_column_transformer(
        (
            OneHotEncoder(
                handle_unknown="ignore", min_frequency=5, sparse_output=False
            ),
            CATEGORIES,
        ),
        (make_pipeline(SimpleImputer(), StandardScaler()), NUMBERS),
    )
    lgbm = LGBMRegressor(verbose=-1, random_state=0)
    hgb = HistGradientBoostingRegressor(early_stopping=False, random_state=0)
    return {
        "ridge": GridSearchCV(
            make_pipeline(pre, Ridge()),
            {"ridge__alpha": [0.01, 0.1, 1, 10, 100]},
            cv=cv,
        ),
        "lgbm": GridSearchCV(
            make_pipeline(pre, lgbm),
            {
                "lgbmregressor__num_leaves": [15, 63],
                "lgbmregressor__learning_rate": [0.05, 0.1],
                "lgbmregressor__n_estimators": [100, 300],
            },
            cv=cv,
        ),
        "hgb": GridSearchCV(
            make_pipeline(pre, hgb),
            {
                "histgradientboostingregressor__learning_rate": [0.05, 0.1],
                "histgradientboostingregressor__max_iter": [100, 200],
            },
            cv=cv,
        ),
        "lasso": GridSearchCV(
            make_pipeline(pre, Lasso(max_iter=2000)),
            {"lasso__alpha": [1, 10, 100]},
            cv=cv,
        ),
        "xgb": GridSearchCV(
            make_pipeline(pre, XGBRegressor(tree_method="hist", random_state=0)),
            {
                "xgbregressor__max_depth": [4, 6],
                "xgbregressor__n_estimators": [100, 300],
            },
            cv=cv,
        ),
        "forest": GridSearchCV(
            make_pipeline(
                pre, RandomForestRegressor(min_samples_leaf=5, random_state=0)
            ),
            {
                "randomforestregressor__max_features": [0.3, 0.6],
                "randomforestregressor__n_estimators": [30, 90],
            },
            cv=cv,
        ),
    }


def _scores(fitted: dict) -> dict:
    return {
        name: {
            key: value.tolist()
            for key, value in search.cv_results_.items()
            if "test_score" in key
        }
        for name, search in fitted.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    df = make_house_prices(args.rows, seed=0)
    X, y = df.drop(columns=["price", "sale_date"]), df["price"].to_numpy()
    batch = searches(args.cv)
    n = sum(len(ParameterGrid(s.param_grid)) for s in batch.values())
    print(
        f"{args.rows:,} rows, {args.cv}-fold, {len(batch)} GridSearchCVs, "
        f"{n} candidates"
    )
    reference, rows = None, {}
    for _ in range(args.repeat):
        fitted, wall, cpu = timed(
            lambda: {name: clone(s).fit(X, y) for name, s in batch.items()}
        )
        reference = reference or _scores(fitted)
        rows.setdefault("scikit-learn", []).append((wall, cpu))
        label = "scikit-learn, one search after the other"
        print(f"  {label:40} {wall:7.1f} s wall {cpu:7.1f} s CPU")
        for n_jobs in (1, None):
            label = f"stratum n_jobs={n_jobs or 'default'}"
            with stratum.config_context(reuse=False, progress=False):
                result, wall, cpu = timed(
                    lambda: stratum.search(batch, X=X, y=y, n_jobs=n_jobs)
                )
            assert _scores(result.searches_) == reference, "scores differ"
            rows.setdefault(label, []).append((wall, cpu))
            print(f"  {label:40} {wall:7.1f} s wall {cpu:7.1f} s CPU")
    base = np.array(rows["scikit-learn"]).min(axis=0)
    for label, values in rows.items():
        best = np.array(values).min(axis=0)
        print(
            f"{label:42} best {best[0]:7.1f} s wall: {base[0] / best[0]:.2f}x, "
            f"CPU {base[1] / best[1]:.2f}x"
        )
    print("cv_results_ scores identical (==)")


if __name__ == "__main__":
    main()
