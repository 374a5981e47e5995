"""Ensemble prefixes (``lower/ensembles.py``): a model fitted with ``n`` rounds
gives, through ``fit_as_prefix``, the model a direct fit with ``k < n`` rounds
gives: same class and parameters, same predictions bit for bit, same fitted
attributes; and ``stratum.search`` fits a family once and scores every member
exactly as skrub does."""

from __future__ import annotations

import lightgbm
import numpy as np
import pandas as pd
import pytest
import skrub
import xgboost
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_equality import assert_same_model
from sklearn import ensemble
from sklearn.base import clone

import stratum
from stratum.lower.ensembles import Prefix, fit_as_prefix, rounds_param

REGRESSORS = [
    lightgbm.LGBMRegressor(verbose=-1, n_jobs=1, random_state=0, num_leaves=7),
    xgboost.XGBRegressor(n_jobs=1, random_state=0, max_depth=3),
    ensemble.HistGradientBoostingRegressor(early_stopping=False, random_state=0),
    ensemble.GradientBoostingRegressor(max_depth=2, random_state=0),
    ensemble.RandomForestRegressor(max_depth=4, random_state=0, n_jobs=1),
    ensemble.ExtraTreesRegressor(max_depth=4, random_state=0, n_jobs=1),
]
CLASSIFIERS = [
    lightgbm.LGBMClassifier(verbose=-1, n_jobs=1, random_state=0, num_leaves=7),
    xgboost.XGBClassifier(n_jobs=1, random_state=0, max_depth=3),
    ensemble.HistGradientBoostingClassifier(early_stopping=False, random_state=0),
    ensemble.GradientBoostingClassifier(max_depth=2, random_state=0),
    ensemble.RandomForestClassifier(max_depth=4, random_state=0, n_jobs=1),
    ensemble.ExtraTreesClassifier(max_depth=4, random_state=0, n_jobs=1),
]
# Models that take missing values as they are.
NAN_OK = (
    lightgbm.LGBMModel,
    xgboost.XGBModel,
    ensemble.HistGradientBoostingRegressor,
    ensemble.HistGradientBoostingClassifier,
)


def _param(estimator) -> str:
    param, why = rounds_param(estimator)
    assert param is not None, why
    return param


def prefix_of(estimator, big, k: int):
    """``estimator`` with ``k`` rounds, fitted as a prefix of ``big``."""
    param = _param(estimator)
    target = clone(estimator).set_params(**{param: k})
    ran: list = []
    prefix = Prefix(("source",), "source", param, k, big.get_params()[param])
    assert fit_as_prefix(target, big, prefix, ran)
    assert target.fit(None) is target and ran == [prefix]
    assert "fit" not in vars(target)  # the class's own fit is back
    return target


def _data(seed: int, n: int, classify: bool, nan: bool):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = X[:, 0] * 2 + X[:, 1] ** 2 + rng.normal(size=n)
    if classify:
        y = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    if nan:
        X[rng.random(X.shape) < 0.1] = np.nan
    return X, y


@pytest.mark.parametrize(
    "estimator", REGRESSORS + CLASSIFIERS, ids=lambda e: type(e).__name__
)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_prefix_equals_direct_fit(estimator, weighted):
    classify = estimator in CLASSIFIERS
    X, y = _data(0, 300, classify, nan=isinstance(estimator, NAN_OK))
    weight = np.random.default_rng(1).uniform(0.5, 2, len(y)) if weighted else None
    param = _param(estimator)
    big = clone(estimator).set_params(**{param: 12}).fit(X, y, sample_weight=weight)
    for k in (1, 5):
        direct = clone(estimator).set_params(**{param: k})
        direct.fit(X, y, sample_weight=weight)
        assert_same_model(direct, prefix_of(estimator, big, k), X)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    library=st.sampled_from(["lightgbm", "xgboost", "hist"]),
    classify=st.booleans(),
    k=st.integers(1, 8),
    extra=st.integers(1, 8),
    learning_rate=st.sampled_from([0.05, 0.3, 1.0]),
    depth=st.integers(2, 5),
    subsample=st.sampled_from([1.0, 0.7]),
    seed=st.integers(0, 2**16),
)
def test_prefix_generated_grids(
    library, classify, k, extra, learning_rate, depth, subsample, seed
):
    X, y = _data(seed, 200, classify, nan=True)
    if library == "lightgbm":
        cls = lightgbm.LGBMClassifier if classify else lightgbm.LGBMRegressor
        estimator = cls(
            learning_rate=learning_rate,
            max_depth=depth,
            subsample=subsample,
            subsample_freq=1,
            colsample_bytree=subsample,
            random_state=seed,
            verbose=-1,
            n_jobs=1,
        )
    elif library == "xgboost":
        cls = xgboost.XGBClassifier if classify else xgboost.XGBRegressor
        estimator = cls(
            learning_rate=learning_rate,
            max_depth=depth,
            subsample=subsample,
            colsample_bynode=subsample,
            random_state=seed,
            n_jobs=1,
        )
    else:
        cls = (
            ensemble.HistGradientBoostingClassifier
            if classify
            else ensemble.HistGradientBoostingRegressor
        )
        estimator = cls(
            learning_rate=learning_rate,
            max_depth=depth,
            max_features=subsample,
            early_stopping=False,
            random_state=seed,
        )
    param = _param(estimator)
    big = clone(estimator).set_params(**{param: k + extra}).fit(X, y)
    direct = clone(estimator).set_params(**{param: k}).fit(X, y)
    assert_same_model(direct, prefix_of(estimator, big, k), X)


def test_prefix_categorical_features():
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame(
        {
            "city": pd.Categorical(rng.choice(["Zürich", "Åre", "東京", "x"], n)),
            "size": rng.normal(size=n),
        }
    )
    y = (X["city"].cat.codes * 1.5 + X["size"] + rng.normal(size=n)).to_numpy()
    # XGBoost's sliced boosters lose the category encoding: not rewritten.
    categorical_xgb = xgboost.XGBRegressor(enable_categorical=True)
    assert rounds_param(categorical_xgb) == (None, "enable_categorical=True")
    models = [
        lightgbm.LGBMRegressor(verbose=-1, n_jobs=1, random_state=0),
        ensemble.HistGradientBoostingRegressor(
            categorical_features="from_dtype", early_stopping=False, random_state=0
        ),
    ]
    for estimator in models:
        param = _param(estimator)
        big = clone(estimator).set_params(**{param: 15}).fit(X, y)
        direct = clone(estimator).set_params(**{param: 6}).fit(X, y)
        assert_same_model(direct, prefix_of(estimator, big, 6), X)


def test_hist_gradient_boosting_auto_early_stopping_fits_directly():
    """``early_stopping="auto"`` is decided from the rows when fitting: with
    more than 10,000 the largest fit stopped early, so no prefix is taken."""
    X, y = _data(0, 10_050, False, nan=False)
    estimator = ensemble.HistGradientBoostingRegressor(max_iter=20, random_state=0)
    assert _param(estimator) == "max_iter"
    big = clone(estimator).fit(X, y)
    assert big.do_early_stopping_
    target = clone(estimator).set_params(max_iter=5)
    prefix = Prefix(("s",), "s", "max_iter", 5, 20)
    assert not fit_as_prefix(target, big, prefix, [])
    assert "fit" not in vars(target)


@pytest.mark.parametrize(
    "estimator, reason",
    [
        (ensemble.RandomForestRegressor(warm_start=True), "warm_start=True"),
        (ensemble.RandomForestClassifier(oob_score=True), "oob_score=True"),
        (ensemble.GradientBoostingRegressor(n_iter_no_change=3), "early stopping"),
        (ensemble.HistGradientBoostingRegressor(early_stopping=True), "early_stop"),
        (xgboost.XGBRegressor(early_stopping_rounds=5), "early stopping"),
        (xgboost.XGBRegressor(callbacks=[object()]), "callbacks"),
        (xgboost.XGBRegressor(booster="dart"), "booster='dart'"),
        (lightgbm.LGBMRegressor(boosting_type="dart"), "boosting_type='dart'"),
        (lightgbm.LGBMRegressor(num_iterations=50), "'num_iterations'"),
        (lightgbm.LGBMRegressor(early_stopping_round=5), "'early_stopping_round'"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_rewrite_disabled_where_not_exact(estimator, reason):
    param, why = rounds_param(estimator)
    assert param is None and reason in why


def test_other_estimators_are_not_ensembles():
    class MyForest(ensemble.RandomForestRegressor):
        pass

    for estimator in (
        MyForest(),
        ensemble.AdaBoostRegressor(),
        xgboost.XGBRFRegressor(),
    ):
        assert rounds_param(estimator) == (None, None)


# -- end to end ------------------------------------------------------------------


def _grid_pipeline(model):
    rng = np.random.default_rng(3)
    n = 600
    df = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    df.loc[rng.random(n) < 0.1, "c"] = np.nan
    df["y"] = (df["a"] * 2 + df["b"] ** 2 + rng.normal(size=n) > 1).astype(int)
    data = skrub.var("data", df)
    X = data.drop(columns="y").skb.mark_as_X()
    y = data["y"].skb.mark_as_y()
    return X.skb.apply(model, y=y)


def _models():
    rounds = skrub.choose_from([4, 8, 16], name="rounds")
    rate = skrub.choose_from([0.1, 0.3], name="rate")
    return {
        "lgbm": lightgbm.LGBMClassifier(
            n_estimators=rounds,
            learning_rate=rate,
            verbose=-1,
            n_jobs=1,
            random_state=0,
        ),
        "xgb": xgboost.XGBClassifier(
            n_estimators=rounds,
            learning_rate=rate,
            max_depth=3,
            n_jobs=1,
            random_state=0,
        ),
        "hgb": ensemble.HistGradientBoostingClassifier(
            max_iter=rounds, learning_rate=rate, early_stopping=False, random_state=0
        ),
        "rf": ensemble.RandomForestClassifier(
            n_estimators=rounds, max_depth=rate.match({0.1: 3, 0.3: 5}), random_state=0
        ),
    }


def _skrub_scores(pipeline) -> dict:
    search = pipeline.skb.make_grid_search(cv=3, scoring="roc_auc", fitted=False)
    with stratum.config_context(engine="skrub"):
        search.fit(pipeline.skb.get_data())
    results = search.cv_results_
    return {
        repr(sorted(p.items())): [results[f"split{f}_test_score"][i] for f in range(3)]
        for i, p in enumerate(results["params"])
    }


def _stratum_scores(result, name) -> dict:
    search = result.searches_[name]
    results = search.cv_results_
    return {
        repr(sorted(p.items())): [results[f"split{f}_test_score"][i] for f in range(3)]
        for i, p in enumerate(results["params"])
    }


def test_search_fits_each_family_once_with_skrubs_scores():
    pipelines = {name: _grid_pipeline(model) for name, model in _models().items()}
    with stratum.config_context(reuse=False, progress=False):
        shared = stratum.search(pipelines, cv=3, scoring="roc_auc", refit=False)
        with stratum.config_context(model_sharing=False):
            direct = stratum.search(pipelines, cv=3, scoring="roc_auc", refit=False)
    stats = shared.stats_
    fits = stats[stats["label"].str.startswith("<Apply") & stats["mode"].eq("fit")]
    for name in pipelines:
        expected = _skrub_scores(pipelines[name])
        assert _stratum_scores(shared, name) == expected, name
        assert _stratum_scores(direct, name) == expected, name
    # Per model: 2 families (rates) x 3 folds fitted in full, the 4 and 8
    # rounds taken from the 16-round fit.
    for label in fits["label"].unique():
        mine = fits[fits["label"] == label]
        prefixed = mine["implementation"].str.startswith("prefix:")
        assert (~prefixed).sum() == 2 * 3, label
        assert prefixed.sum() == 2 * 2 * 3, label
    assert not direct.stats_["implementation"].str.startswith("prefix:").any()
    assert "model sharing: 48 ensemble fit(s)" in shared.explain()
    assert "model sharing: off" in direct.explain()


def test_refitted_learner_is_a_direct_fit():
    """The refit on all rows is not rewritten: the learner is a direct fit."""
    pipeline = _grid_pipeline(_models()["lgbm"])
    with stratum.config_context(reuse=False, progress=False):
        result = stratum.search([pipeline], cv=3, scoring="roc_auc", refit=True)
    params = result.best_.params
    df = pipeline.skb.get_data()["data"]
    X, y = df.drop(columns="y"), df["y"]
    direct = lightgbm.LGBMClassifier(
        n_estimators=params["rounds"],
        learning_rate=params["rate"],
        verbose=-1,
        n_jobs=1,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_array_equal(
        result.best_.learner.predict_proba({"data": df}), direct.predict_proba(X)
    )
