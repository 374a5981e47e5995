"""scikit-learn searches on stratum's engine (``frontend/sklearn``): the
fitted search equals scikit-learn's own fit of the same object, value by
value (``cv_results_`` but the times, ranks, ``best_*``, the refitted
estimator's predictions), and equal steps are fitted once per fold across
candidates and searches."""

from __future__ import annotations

import warnings

import lightgbm
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import FitFailedWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    RandomizedSearchCV,
    StratifiedKFold,
    TimeSeriesSplit,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import stratum

_TIMES = ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time")


def _houses(n: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "city": rng.choice(["Zürich", "Åre", "東京", "Lyon"], n),
            "area": rng.normal(80, 20, n),
            "rooms": rng.integers(1, 6, n).astype(float),
        }
    )
    df.loc[rng.random(n) < 0.05, "area"] = np.nan
    price = df["area"].fillna(80) * 3 + df["rooms"] * 10 + rng.normal(0, 5, n)
    price += df["city"].map({"Zürich": 50, "Åre": 0, "東京": 30, "Lyon": 10})
    return df, price.to_numpy()


def _pre():
    return make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["city"]),
        (make_pipeline(SimpleImputer(), StandardScaler()), ["area", "rooms"]),
    )


def assert_same_search(ours, theirs) -> None:
    """Same fitted search: results (times aside), choices and refit."""
    assert type(ours) is type(theirs)
    a, b = ours.cv_results_, theirs.cv_results_
    assert a.keys() == b.keys()
    for key in a:
        if key in _TIMES:
            continue
        left, right = a[key], b[key]
        if isinstance(left, np.ma.MaskedArray):
            assert left.tolist() == right.tolist(), key
        elif key == "params":
            assert left == right
        else:
            np.testing.assert_array_equal(left, right, err_msg=key, strict=True)
    for name in (
        "best_index_",
        "best_score_",
        "best_params_",
        "n_splits_",
        "multimetric_",
    ):
        if hasattr(theirs, name):
            assert getattr(ours, name) == getattr(theirs, name), name
    if getattr(theirs, "best_estimator_", None) is not None:
        assert type(ours.best_estimator_) is type(theirs.best_estimator_)


def test_two_searches_share_the_preprocessing_and_equal_sklearn():
    X, y = _houses()
    a = GridSearchCV(
        make_pipeline(_pre(), Ridge()), {"ridge__alpha": [0.1, 1, 10]}, cv=5
    )
    b = GridSearchCV(
        make_pipeline(_pre(), lightgbm.LGBMRegressor(verbose=-1, random_state=0)),
        {"lgbmregressor__num_leaves": [7, 15]},
        cv=5,
    )
    with stratum.config_context(progress=False, reuse=False):
        result = stratum.search({"ridge": a, "lgbm": b}, X=X, y=y)
    for name, search in (("ridge", a), ("lgbm", b)):
        theirs = clone(search).fit(X, y)
        ours = result.searches_[name]
        assert_same_search(ours, theirs)
        np.testing.assert_array_equal(
            ours.best_estimator_.predict(X), theirs.best_estimator_.predict(X)
        )
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    # The ColumnTransformer: fitted once per fold for the 5 candidates.
    stats = result.stats_
    pre = stats[stats["label"].str.contains("ColumnTransformer")]
    assert len(pre[pre["mode"].eq("fit_transform")]) == 5
    # and the model-sharing rewrites apply: Ridge's Gram, LightGBM's bins
    text = result.explain()
    assert "15 ridge fit(s) solve their alpha from 5 shared X^T X" in text
    assert "5 booster fit(s) take the binned data" in text
    assert set(result.results_["pipeline"]) == {"ridge", "lgbm"}
    assert len(result.results_) == 5
    best = result.results_.iloc[0]
    assert result.best_.pipeline == best["pipeline"]
    assert result.best_.score == best["mean_test_score"]


def test_randomized_multimetric_classification_on_numpy():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 6))
    y = (X[:, 0] + X[:, 1] ** 2 + rng.normal(size=300) > 1).astype(int)
    search = RandomizedSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression()),
        {"logisticregression__C": [0.01, 0.1, 1, 10, 100]},
        n_iter=4,
        random_state=0,
        cv=StratifiedKFold(4, shuffle=True, random_state=0),
        scoring=["accuracy", "roc_auc", "neg_log_loss"],
        refit="roc_auc",
        return_train_score=True,
    )
    with stratum.config_context(progress=False, reuse=False):
        result = stratum.search([search], X=X, y=y)
    ours, theirs = result.searches_["pipeline_0"], clone(search).fit(X, y)
    assert_same_search(ours, theirs)
    np.testing.assert_array_equal(ours.predict_proba(X), theirs.predict_proba(X))


@pytest.mark.parametrize(
    "cv, groups",
    [
        (GroupKFold(3), np.arange(240) % 7),
        (TimeSeriesSplit(4), None),
        (KFold(3, shuffle=True, random_state=2), None),
    ],
    ids=["groups", "time-series", "shuffled"],
)
def test_every_cv_form(cv, groups):
    X, y = _houses(240, seed=3)
    search = GridSearchCV(
        make_pipeline(_pre(), Ridge()), {"ridge__alpha": [0.5, 5]}, cv=cv
    )
    with stratum.config_context(progress=False, reuse=False):
        result = stratum.search({"s": search}, X=X, y=y, groups=groups)
    theirs = clone(search).fit(X, y, groups=groups)
    assert_same_search(result.searches_["s"], theirs)


def test_failing_candidates_get_error_score_and_warn_like_sklearn():
    X, y = _houses(200)
    y_class = (y > np.median(y)).astype(int)
    search = GridSearchCV(
        make_pipeline(_pre(), HistGradientBoostingClassifier(max_iter=10)),
        {"histgradientboostingclassifier__max_leaf_nodes": [1, 7]},
        cv=3,
        error_score=np.nan,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with stratum.config_context(progress=False, reuse=False):
            result = stratum.search({"s": search}, X=X, y=y_class)
    with warnings.catch_warnings(record=True) as expected:
        warnings.simplefilter("always")
        theirs = clone(search).fit(X, y_class)
    assert_same_search(result.searches_["s"], theirs)
    assert np.isnan(result.searches_["s"].cv_results_["mean_test_score"][0])
    assert any(issubclass(w.category, FitFailedWarning) for w in expected)
    assert any(issubclass(w.category, FitFailedWarning) for w in caught)
    assert list(result.results_["status"]) == ["ok", "error"]


def test_a_plain_pipeline_is_a_search_of_one_candidate():
    X, y = _houses(200)
    pipeline = make_pipeline(_pre(), Ridge(alpha=2.0))
    with stratum.config_context(progress=False, reuse=False):
        result = stratum.search({"ridge": pipeline}, X=X, y=y, cv=4)
    theirs = GridSearchCV(pipeline, {}, cv=4).fit(X, y)
    assert_same_search(result.searches_["ridge"], theirs)
    np.testing.assert_array_equal(result.best_.learner.predict(X), theirs.predict(X))


class _OwnSearch(GridSearchCV):
    """A search class stratum does not know: its own rules may differ."""


def test_what_cannot_be_planned_runs_sklearn_and_says_why():
    X, y = _houses(300)
    search = _OwnSearch(make_pipeline(_pre(), Ridge()), {"ridge__alpha": [0.1, 1, 10]})
    with pytest.warns(UserWarning, match="runs on scikit-learn: _OwnSearch"):
        with stratum.config_context(progress=False, reuse=False):
            result = stratum.search({"own": search}, X=X, y=y)
    theirs = clone(search).fit(X, y)
    assert_same_search(result.searches_["own"], theirs)
    assert "own: _OwnSearch is run by scikit-learn" in result.explain()
    assert result.fallbacks_ == {"own": "_OwnSearch is run by scikit-learn"}


def test_dataops_and_sklearn_searches_in_one_batch():
    import skrub

    X, y = _houses(200)
    numeric = X[["area", "rooms"]].fillna(0)
    alpha = skrub.choose_from([0.5, 5.0], name="alpha")
    data_op = skrub.X(numeric).skb.apply(Ridge(alpha=alpha), y=skrub.y(y))
    search = GridSearchCV(
        make_pipeline(_pre(), Ridge()), {"ridge__alpha": [1, 10]}, cv=KFold(3)
    )
    with stratum.config_context(progress=False, reuse=False):
        result = stratum.search(
            {"dataop": data_op, "sk": search}, X=X, y=y, cv=KFold(3)
        )
        alone = stratum.search({"dataop": data_op}, cv=KFold(3))
    assert_same_search(result.searches_["sk"], clone(search).fit(X, y))
    ours = result.searches_["dataop"].cv_results_["mean_test_score"]
    np.testing.assert_array_equal(
        ours, alone.searches_["dataop"].cv_results_["mean_test_score"]
    )
    assert sorted(result.results_["pipeline"]) == ["dataop", "dataop", "sk", "sk"]
    assert result.best_.score == result.results_["mean_test_score"].max()
    with pytest.raises(TypeError, match="X, y and groups are the data"):
        stratum.search({"dataop": data_op}, X=X, y=y)


def test_patched_grid_search_fit_runs_on_stratum_and_unpatches():
    X, y = _houses(200)
    search = GridSearchCV(
        make_pipeline(_pre(), Ridge()), {"ridge__alpha": [1, 10]}, cv=3
    )
    original = GridSearchCV.fit
    theirs = clone(search).fit(X, y)
    stratum.patch_sklearn()
    try:
        assert GridSearchCV.fit is not original
        ours = clone(search)
        with stratum.config_context(progress=False, reuse=False):
            assert ours.fit(X, y) is ours
    finally:
        stratum.unpatch_sklearn()
    assert GridSearchCV.fit is original
    assert_same_search(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_a_failing_search_does_not_take_the_batch_down():
    X, y = _houses(150)
    bad = GridSearchCV(make_pipeline(_pre(), Ridge()), {"ridge__nope": [1]}, cv=3)
    good = GridSearchCV(make_pipeline(_pre(), Ridge()), {"ridge__alpha": [1]}, cv=3)
    with pytest.raises(ValueError, match="Invalid parameter 'nope'") as theirs:
        clone(bad).fit(X, y)
    with stratum.config_context(progress=False, reuse=False):
        result = stratum.search({"bad": bad, "good": good}, X=X, y=y)
    assert result.searches_["bad"] is None
    assert_same_search(result.searches_["good"], clone(good).fit(X, y))
    rows = result.results_.set_index("pipeline")
    assert rows.loc["good", "status"] == "ok"
    assert rows.loc["bad", "status"] == "error"
    assert rows.loc["bad", "error"].startswith("pipeline 'bad': ValueError: ")
    assert str(theirs.value) in rows.loc["bad", "error"]
    # patched, the same search raises what scikit-learn raises
    stratum.patch_sklearn()
    try:
        with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
            clone(bad).fit(X, y)
    finally:
        stratum.unpatch_sklearn()


def test_a_pipeline_memory_is_not_used_and_explain_says_so(tmp_path):
    X, y = _houses(200)
    pipeline = make_pipeline(_pre(), Ridge(), memory=str(tmp_path))
    search = GridSearchCV(pipeline, {"ridge__alpha": [1, 10]}, cv=3)
    with stratum.config_context(progress=False, reuse=False):
        result = stratum.search({"cached": search}, X=X, y=y)
    assert_same_search(result.searches_["cached"], clone(search).fit(X, y))
    note = "the Pipeline's memory= is not used: stratum keeps what its steps computed"
    assert result.notes_ == {"cached": [note]}
    assert f"note, cached: {note}" in result.explain()
