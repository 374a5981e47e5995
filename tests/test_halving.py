"""Successive halving on stratum: ``stratum.search(batch, strategy="halving")``
over DataOps follows ``HalvingGridSearchCV``'s rules exactly (the reference
is scikit-learn's own ``HalvingGridSearchCV`` over the same candidates, each
fitted by skrub), and scikit-learn's halving searches run on stratum with
the results of their own ``fit``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import skrub
from sklearn.base import BaseEstimator, clone
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    HalvingGridSearchCV,
    KFold,
    ParameterGrid,
    StratifiedKFold,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from skrub._data_ops._estimator import _XyPipeline

import stratum
from stratum.frontend.sklearn import patch

_TIMES = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")


def _table(n: int = 360, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "city": rng.choice(["Zürich", "Åre", "東京", "Lyon"], n),
            "area": rng.normal(80, 20, n),
            "rooms": rng.integers(1, 6, n).astype(float),
        }
    )
    df.loc[rng.random(n) < 0.05, "area"] = np.nan
    city = df["city"].map({"Zürich": 50, "Åre": 0, "東京": 30, "Lyon": 10})
    y = df["area"].fillna(80) * 3 + df["rooms"] * 10 + city + rng.normal(0, 9, n)
    return df, y.to_numpy()


def _regressions(df, y) -> dict:
    X = skrub.X(df)
    features = X.skb.apply(skrub.TableVectorizer()).skb.apply(SimpleImputer())
    alpha = skrub.choose_from([0.01, 0.1, 1.0, 10.0, 100.0], name="alpha")
    iters = skrub.choose_from([3, 8, 15], name="max_iter")
    return {
        "ridge": features.skb.apply(Ridge(alpha=alpha), y=skrub.y(y)),
        "hgb": features.skb.apply(
            HistGradientBoostingRegressor(max_iter=iters, random_state=0),
            y=skrub.y(y),
        ),
    }


class BatchCandidate(BaseEstimator):
    """The reference: candidate ``candidate`` of a batch (a DataOp and its
    configuration), fitted by skrub on the rows it is given (row numbers)."""

    def __init__(self, pool=None, frame=None, kind="regressor", candidate=0):
        self.pool = pool
        self.frame = frame
        self.kind = kind
        self.candidate = candidate

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = self.kind
        return tags

    def fit(self, rows, y):
        data_op, params = self.pool[self.candidate]
        learner = data_op.skb.make_learner()
        learner.set_params(**params)
        self.learner_ = learner.fit({"X": self.frame.iloc[rows.ravel()], "y": y})
        self.classes_ = np.unique(y)
        return self

    def predict(self, rows):
        return self.learner_.predict({"X": self.frame.iloc[rows.ravel()]})


def _reference(pipelines: dict, df, y, kind, **halving) -> HalvingGridSearchCV:
    pool = [
        (op, params)
        for op in pipelines.values()
        for params in ParameterGrid(_XyPipeline(op, {}).get_param_grid())
    ]
    search = HalvingGridSearchCV(
        BatchCandidate(pool, df, kind),
        {"candidate": list(range(len(pool)))},
        **halving,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return search.fit(np.arange(len(df)).reshape(-1, 1), y)


def _assert_same_halving(ours, theirs) -> None:
    a, b = ours.cv_results_, theirs.cv_results_
    assert list(a) == list(b)
    for key in a:
        if key in _TIMES:
            continue
        if key == "params" or isinstance(a[key], np.ma.MaskedArray):
            assert repr(list(a[key])) == repr(list(b[key])), key
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key, strict=True)
    for name in ("best_index_", "best_score_", "n_resources_", "n_candidates_"):
        assert repr(getattr(ours, name)) == repr(getattr(theirs, name)), name
    assert ours.n_iterations_ == theirs.n_iterations_


def test_batch_halving_follows_halving_grid_search_rules():
    df, y = _table(240)
    pipelines = _regressions(df, y)
    halving = dict(
        cv=KFold(3), scoring="r2", factor=3, random_state=0, return_train_score=True
    )
    with stratum.config_context(progress=False, reuse=False):
        result = stratum.search(pipelines, strategy="halving", **halving)
    theirs = _reference(pipelines, df, y, "regressor", **halving)
    _assert_same_halving(result.halving_, theirs)
    # results_: one row per (configuration, iteration), the best first
    results = result.results_
    assert len(results) == len(theirs.cv_results_["params"])
    assert results["status"].eq("ok").all()
    assert sorted(results["n_resources"].unique()) == theirs.n_resources_
    best = results.iloc[0]
    assert best["iter"] == theirs.n_iterations_ - 1
    assert best["mean_test_score"] == theirs.best_score_
    number = theirs.best_params_["candidate"]
    assert best["pipeline"] == (["ridge"] * 5 + ["hgb"] * 3)[number]
    assert result.best_.pipeline == best["pipeline"]
    assert result.best_.score == theirs.best_score_
    # explain and stats_ cover every iteration
    text = result.explain()
    rounds = ", ".join(
        f"{c} on {r} rows" for c, r in zip(theirs.n_candidates_, theirs.n_resources_)
    )
    n = theirs.n_iterations_
    assert f"successive halving (factor 3): {n} iteration(s), {rounds}" in text
    scores = result.stats_[result.stats_["kind"].eq("score")]
    assert len(scores) == 2 * 3 * sum(theirs.n_candidates_)  # test and train sides
    # the best, refitted on all rows, predicts as the reference's refit
    np.testing.assert_array_equal(
        result.best_.learner.predict({"X": df}),
        theirs.best_estimator_.predict(np.arange(len(df)).reshape(-1, 1)),
        strict=True,
    )


def test_batch_halving_classification_with_failing_configurations():
    df, price = _table(240, seed=3)
    y = np.digitize(price, np.quantile(price, [1 / 3, 2 / 3]))
    X = skrub.X(df).skb.apply(skrub.TableVectorizer()).skb.apply(SimpleImputer())
    c = skrub.choose_from([0.01, -1.0, 1.0, 100.0, -2.0, 10.0], name="C")
    pipelines = {"logistic": X.skb.apply(LogisticRegression(C=c), y=skrub.y(y))}
    halving = dict(
        cv=StratifiedKFold(3),
        scoring="accuracy",
        min_resources="smallest",
        random_state=1,
        return_train_score=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with stratum.config_context(progress=False, reuse=False):
            result = stratum.search(pipelines, strategy="halving", **halving)
    theirs = _reference(pipelines, df, y, "classifier", **halving)
    _assert_same_halving(result.halving_, theirs)
    # min_resources: 3 folds x 2 x 3 classes, as scikit-learn counts them
    assert result.halving_.min_resources_ == 18
    failed = result.results_[result.results_["status"].eq("error")]
    assert len(failed) == 2 and set(failed["iter"]) == {0}
    assert all("pipeline 'logistic'" in e and "C" in e for e in failed["error"])
    assert failed["mean_test_score"].isna().all()
    assert result.results_["status"].iloc[0] == "ok"


def test_batch_halving_bad_input_is_a_clear_error():
    df, y = _table(120)
    pipelines = _regressions(df, y)
    search = HalvingGridSearchCV(Ridge(), {"alpha": [1, 2]})
    with pytest.raises(TypeError, match="pass a HalvingGridSearchCV"):
        stratum.search({"sk": search}, X=df, y=y, strategy="halving")
    with pytest.raises(ValueError, match="ranks by one metric"):
        stratum.search(pipelines, strategy="halving", scoring=["r2", "max_error"])
    with pytest.raises(ValueError, match="strategy must be 'grid' or 'halving'"):
        stratum.search(pipelines, strategy="hyperband")
    # a pipeline on other rows is an error row; the others are halved
    numbers = df[["rooms"]].iloc[:60]
    other = skrub.X(numbers).skb.apply(Ridge(), y=skrub.y(y[:60]))
    with stratum.config_context(progress=False, reuse=False):
        result = stratum.search(
            {**pipelines, "other": other}, strategy="halving", cv=3, random_state=0
        )
    row = result.results_[result.results_["pipeline"].eq("other")]
    assert row["status"].tolist() == ["error"]
    assert "same rows and folds" in row["error"].iloc[0]
    assert result.results_["status"].iloc[0] == "ok"
    assert result.best_.pipeline in pipelines


def _pre():
    return make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["city"]),
        (StandardScaler(), ["rooms"]),
    )


def test_patched_halving_fit_equals_sklearn_and_its_cv_error():
    df, y = _table(300)
    search = HalvingGridSearchCV(
        make_pipeline(_pre(), Ridge()),
        {"ridge__alpha": [0.1, 1, 10, 100]},
        cv=3,
        random_state=0,
    )
    theirs = clone(search).fit(df, y)
    unstable = clone(search).set_params(cv=KFold(3, shuffle=True))
    with pytest.raises(ValueError) as their_error:
        clone(unstable).fit(df, y)
    patch.patch_sklearn()
    try:
        with stratum.config_context(progress=False, reuse=False):
            ours = clone(search).fit(df, y)
            with pytest.raises(ValueError) as our_error:
                with pytest.warns(UserWarning, match="splits change"):
                    clone(unstable).fit(df, y)
    finally:
        patch.unpatch_sklearn()
    _assert_same_halving(ours, theirs)
    np.testing.assert_array_equal(ours.predict(df), theirs.predict(df), strict=True)
    assert str(our_error.value) == str(their_error.value)
