"""``stratum.memoize()``: estimator calls memoized by content, compared value
for value with the same calls run by scikit-learn, LightGBM and XGBoost
without the memo."""

from __future__ import annotations

import sys

import lightgbm
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import xgboost
from model_equality import assert_same_model
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import stratum
from stratum.frontend.sklearn.memo_keys import fit_key


def _frame(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Numbers with NaN, Unicode categories, a huge-cardinality column."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "city": rng.choice(["Zürich", "東京", "São Paulo", "Ōsaka"], n),
            "id": [f"row-{i}-🙂" for i in range(n)],
        }
    )
    y = pd.Series(2 * X["x"] + rng.normal(size=n), name="target")
    return X, y


def _pipeline() -> Pipeline:
    columns = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["x", "z"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "id"]),
        ]
    )
    return Pipeline([("columns", columns), ("model", Ridge(alpha=0.5))])


def test_a_repeated_fit_is_served_and_equals_a_direct_fit():
    X, y = _frame()
    reference = _pipeline().fit(X, y)
    with stratum.memoize() as report:
        first = _pipeline().fit(X, y)
        second = _pipeline()
        columns = second[0]  # held by the user
        assert second.fit(X, y) is second
        served_predictions = second.predict(X)
    assert report.reused["Pipeline.fit"] == 1
    assert report.computed["Pipeline.fit"] == 1
    for fitted in (first, second):
        assert_same_model(reference, fitted, X)
    np.testing.assert_array_equal(served_predictions, reference.predict(X))
    # A step the user holds is fitted in place, as scikit-learn fits it.
    assert second[0] is columns
    np.testing.assert_array_equal(
        columns.transformers_[0][1][-1].mean_,
        reference[0].transformers_[0][1][-1].mean_,
    )


def test_served_copies_are_independent_of_the_memo_and_of_the_inputs():
    X, y = _frame()
    X_values = X[["x", "z"]].fillna(0.0)
    with stratum.memoize() as report:
        a = Ridge().fit(X_values, y)
        a.coef_[:] = 99.0  # the caller mutates what it got
        b = Ridge().fit(X_values, y)
        X_values.loc[:, "x"] = 0.0  # mutated after fitting: a new key
        c = Ridge().fit(X_values, y)
        predictions = b.predict(X_values)
        predictions[:] = -1.0
        again = b.predict(X_values)
    assert report.reused["Ridge.fit"] == 1
    assert report.computed["Ridge.fit"] == 2
    X_clean = X[["x", "z"]].fillna(0.0)
    np.testing.assert_array_equal(b.coef_, Ridge().fit(X_clean, y).coef_)
    np.testing.assert_array_equal(c.coef_, Ridge().fit(X_values, y).coef_)
    np.testing.assert_array_equal(again, Ridge().fit(X_clean, y).predict(X_values))


class _Loud(BaseEstimator, TransformerMixin):
    def __init__(self, factor: float = 1.0):
        self.factor = factor

    def fit(self, X, y=None):
        print(f"fitting _Loud x{self.factor} on {len(X)} rows")
        print("a warning line", file=sys.stderr)
        self.scale_ = self.factor
        return self

    def transform(self, X):
        return X * self.scale_


def test_what_a_fit_printed_is_printed_again_when_it_is_served(capsys):
    X, y = _frame()
    numbers = X[["x"]]
    direct = _Loud(2.0).fit(numbers)
    expected = capsys.readouterr()
    with stratum.memoize() as report:
        _Loud(2.0).fit(numbers)
        first = capsys.readouterr()
        served = _Loud(2.0).fit(numbers)
        second = capsys.readouterr()
    assert report.reused["_Loud.fit"] == 1
    assert first == second == expected
    assert served.scale_ == direct.scale_


class _Counter(BaseEstimator):
    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha
        self.calls = 0  # hidden state: not a parameter

    def fit(self, X, y=None):
        self.calls += 1
        self.n_ = self.calls
        return self


class _Draws(BaseEstimator):
    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X, y=None):
        self.noise_ = np.random.normal()  # the global random state
        return self


def _lgbm(**params) -> lightgbm.LGBMRegressor:
    return lightgbm.LGBMRegressor(verbose=-1, n_jobs=1, **params)


@pytest.mark.parametrize(
    "make, fit_kwargs, why",
    [
        (lambda: RandomForestRegressor(n_estimators=3), {}, "random_state=None"),
        (
            lambda: RandomForestRegressor(n_estimators=3, warm_start=True),
            {},
            "warm_start=True",
        ),
        (
            lambda: RandomForestRegressor(
                n_estimators=3, random_state=np.random.RandomState(0)
            ),
            {},
            "RandomState",
        ),
        (
            lambda: _lgbm(n_estimators=3),
            {"callbacks": [lightgbm.log_evaluation(0)]},
            "callbacks",
        ),
        (lambda: _Counter(), {}, "hidden state"),
        (lambda: _Draws(), {}, "global random state"),
    ],
)
def test_calls_whose_result_may_differ_are_never_shared(make, fit_kwargs, why):
    X, y = _frame(100)
    numbers = X[["x", "z"]].fillna(0.0)
    with stratum.memoize() as report:
        first = make().fit(numbers, y, **fit_kwargs)
        second = make().fit(numbers, y, **fit_kwargs)
    label = f"{type(first).__name__}.fit"
    assert not report.reused and not report.computed.get(label)
    reasons = [w for (name, w), n in report.not_shared.items() if name == label]
    assert reasons and why in reasons[0], report.not_shared
    if isinstance(first, _Counter):
        assert (first.n_, second.n_) == (1, 1)


@pytest.mark.parametrize(
    "make, param",
    [
        (lambda n: _lgbm(n_estimators=n, subsample=0.8, subsample_freq=1), "lgbm"),
        (
            lambda n: xgboost.XGBRegressor(
                n_estimators=n, tree_method="hist", n_jobs=1, random_state=0
            ),
            "xgb",
        ),
        (lambda n: RandomForestRegressor(n_estimators=n, random_state=0), "rf"),
    ],
)
def test_a_smaller_ensemble_is_served_by_the_first_rounds_of_a_larger_fit(make, param):
    X, y = _frame(200)
    numbers = X[["x", "z"]].fillna(0.0)
    with stratum.memoize() as report:
        make(12).fit(numbers, y)
        served = make(5).fit(numbers, y)
        served_predictions = served.predict(numbers)
    assert report.prefixes[f"{type(served).__name__}.fit"] == 1
    direct = make(5).fit(numbers, y)
    np.testing.assert_array_equal(served_predictions, direct.predict(numbers))
    assert_same_model(direct, served, numbers)


def test_keys_cover_content_dtype_shape_index_and_column_names():
    X, y = _frame(50)
    numbers = X[["x", "z"]].fillna(0.0)
    model = Ridge()

    def key(*args):
        return fit_key(model, "fit", args, {}).key

    base = key(numbers, y)
    assert len(base) == 64  # BLAKE2b-256
    assert key(numbers.copy(), y.copy()) == base
    changed = numbers.copy()
    changed.iloc[3, 0] += 1e-12
    variants = [
        changed,
        numbers.astype("float32"),
        numbers.set_axis(range(100, 150)),
        numbers.rename(columns={"x": "x2"}),
        numbers.iloc[:-1],
        numbers.to_numpy(),
    ]
    keys = {key(v, y if len(v) == 50 else y.iloc[:-1]) for v in variants}
    assert base not in keys and len(keys) == len(variants)
    dense = numbers.to_numpy()
    assert key(sp.csr_matrix(dense), y) == key(sp.csr_matrix(dense.copy()), y)
    assert key(sp.csr_matrix(dense), y) != key(dense, y)
    polars = pytest.importorskip("polars")
    frame = polars.from_pandas(numbers)
    assert key(frame, y) == key(polars.from_pandas(numbers.copy()), y)
    assert key(frame, y) != key(polars.from_pandas(changed), y)


def test_classifier_outputs_and_scores_are_served_equal():
    X, y = _frame()
    labels = np.where(y > 0, "oui", "non")
    numbers = X[["x", "z"]].fillna(0.0)
    reference = LogisticRegression().fit(numbers, labels)
    with stratum.memoize() as report:
        for _ in range(2):
            model = LogisticRegression().fit(numbers, labels)
            proba = model.predict_proba(numbers)
            score = model.score(numbers, labels)
            decision = model.decision_function(numbers)
    assert report.reused["LogisticRegression.predict_proba"] == 1
    np.testing.assert_array_equal(proba, reference.predict_proba(numbers))
    np.testing.assert_array_equal(decision, reference.decision_function(numbers))
    assert score == reference.score(numbers, labels)


def test_a_model_changed_after_its_fit_is_not_answered_from_the_memo():
    X, y = _frame()
    numbers = X[["x", "z"]].fillna(0.0)
    with stratum.memoize():
        model = Ridge().fit(numbers, y)
        model.predict(numbers)
        model.coef_ = model.coef_ * 0  # set by hand: another state
        changed = model.predict(numbers)
    np.testing.assert_array_equal(changed, np.full(len(numbers), model.intercept_))


def test_memoize_restores_every_class_afterwards():
    before = Ridge.__dict__["fit"]
    with stratum.memoize():
        assert Ridge.__dict__["fit"] is not before
    assert Ridge.__dict__["fit"] is before
    assert "__init_subclass__" not in vars(BaseEstimator)
    assert type(sys.stdout).__name__ != "_Tee"


def test_a_user_class_keeps_its_key_once_an_instance_was_pickled():
    import pickle

    X, y = _frame(20)
    numbers = X[["x"]]
    before = fit_key(_Loud(3.0), "fit", (numbers,), {}).key
    pickle.dumps(_Loud(3.0))  # caches ``__slotnames__`` on the class
    assert fit_key(_Loud(3.0), "fit", (numbers,), {}).key == before


def test_a_composition_holding_hidden_state_is_not_shared_but_its_parts_are():
    X, y = _frame(80)
    numbers = X[["x", "z"]].fillna(0.0)
    with stratum.memoize() as report:
        for _ in range(2):
            fitted = make_pipeline(StandardScaler(), _Counter()).fit(numbers, y)
    assert fitted[-1].n_ == 1  # fitted, not served
    why = dict(report.not_shared)
    assert "hidden state" in next(w for (n, w) in why if n == "Pipeline.fit")
    assert report.reused["StandardScaler.fit_transform"] == 1
