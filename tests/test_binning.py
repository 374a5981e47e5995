"""Shared binned data (``lower/binning.py``): a booster fitted on the bins
another fit of its binning family built is the estimator a direct fit gives
(same predictions bit for bit, same fitted attributes), each fold is binned
once per family in a search, and anything unexpected falls back to a direct
fit."""

from __future__ import annotations

import pickle

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
from sklearn.ensemble._hist_gradient_boosting import binning as hgb_binning

import stratum
from stratum.lower.binning import Binned, BinShare, binning_params, fit_with_bins
from stratum.runtime.store import Store

REGRESSORS = [
    lightgbm.LGBMRegressor(verbose=-1, n_jobs=1, random_state=0, n_estimators=8),
    xgboost.XGBRegressor(n_jobs=1, random_state=0, n_estimators=8),
    ensemble.HistGradientBoostingRegressor(max_iter=8, random_state=0),
]
CLASSIFIERS = [
    lightgbm.LGBMClassifier(verbose=-1, n_jobs=1, random_state=0, n_estimators=8),
    xgboost.XGBClassifier(n_jobs=1, random_state=0, n_estimators=8),
    ensemble.HistGradientBoostingClassifier(max_iter=8, random_state=0),
]
# Two members of each class's binning family: only binning-free parameters differ.
OTHER_MEMBER = {
    "LGBMRegressor": {"learning_rate": 0.3, "num_leaves": 5, "reg_lambda": 1.0},
    "LGBMClassifier": {"learning_rate": 0.3, "num_leaves": 5, "subsample": 0.7},
    "XGBRegressor": {"learning_rate": 0.3, "max_depth": 2, "gamma": 0.1},
    "XGBClassifier": {"learning_rate": 0.3, "max_depth": 2, "reg_alpha": 0.5},
    "HistGradientBoostingRegressor": {"learning_rate": 0.3, "max_leaf_nodes": 5},
    "HistGradientBoostingClassifier": {"learning_rate": 0.3, "max_depth": 3},
}


def _data(seed: int, n: int, classify: bool):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = X[:, 0] * 2 + X[:, 1] ** 2 + rng.normal(size=n)
    if classify:
        y = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    X[rng.random(X.shape) < 0.1] = np.nan
    return X, y


def _share(provider: bool) -> BinShare:
    return BinShare(("family", 0, "bins", None), provider, "step", 2)


def _fit(estimator, store, provider: bool, X, y, **kwargs) -> list:
    """Fit ``estimator`` as the provider or a taker of the store's bins;
    returns what ``fit_with_bins`` recorded."""
    ran: list = []
    assert fit_with_bins(estimator, _share(provider), store, ran)
    assert estimator.fit(X, y, **kwargs) is estimator
    assert "fit" not in vars(estimator)  # the class's own fit is back
    assert not {"_bin_data", "_create_dmatrix"} & set(vars(estimator))
    return ran


@pytest.mark.parametrize(
    "estimator", REGRESSORS + CLASSIFIERS, ids=lambda e: type(e).__name__
)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_taking_bins_equals_direct_fit(estimator, weighted):
    X, y = _data(0, 400, estimator in CLASSIFIERS)
    weight = np.random.default_rng(1).uniform(0.5, 2, len(y)) if weighted else None
    store = Store()
    provider = clone(estimator)
    assert _fit(provider, store, True, X, y, sample_weight=weight) == [_share(True)]
    assert_same_model(clone(estimator).fit(X, y, sample_weight=weight), provider, X)
    binned = store.get(_share(True).bins_key)
    assert isinstance(binned, Binned) and binned.data is not None
    assert binned.nbytes >= X.shape[0]
    # Two takers with other binning-free parameters, one after the other.
    for rate in (0.3, 0.05):
        other = dict(OTHER_MEMBER[type(estimator).__name__], learning_rate=rate)
        taker = clone(estimator).set_params(**other)
        assert _fit(taker, store, False, X, y, sample_weight=weight) == [_share(False)]
        direct = clone(estimator).set_params(**other).fit(X, y, sample_weight=weight)
        assert_same_model(direct, taker, X)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    library=st.sampled_from(["lightgbm", "xgboost", "hist"]),
    classify=st.booleans(),
    rates=st.tuples(*[st.sampled_from([0.05, 0.3, 1.0])] * 2),
    depths=st.tuples(*[st.integers(2, 6)] * 2),
    rounds=st.tuples(*[st.integers(1, 12)] * 2),
    seed=st.integers(0, 2**16),
)
def test_generated_families(library, classify, rates, depths, rounds, seed):
    X, y = _data(seed, 250, classify)
    if library == "lightgbm":
        cls = lightgbm.LGBMClassifier if classify else lightgbm.LGBMRegressor
        base = cls(random_state=seed, verbose=-1, n_jobs=1)
        names = ("learning_rate", "num_leaves", "n_estimators")
    elif library == "xgboost":
        cls = xgboost.XGBClassifier if classify else xgboost.XGBRegressor
        base = cls(random_state=seed, n_jobs=1)
        names = ("learning_rate", "max_depth", "n_estimators")
    else:
        cls = (
            ensemble.HistGradientBoostingClassifier
            if classify
            else ensemble.HistGradientBoostingRegressor
        )
        base = cls(random_state=seed)
        names = ("learning_rate", "max_depth", "max_iter")
    params = [dict(zip(names, values)) for values in zip(rates, depths, rounds)]
    members = [clone(base).set_params(**p) for p in params]
    store = Store()
    _fit(members[0], store, True, X, y)
    assert _fit(members[1], store, False, X, y) == [_share(False)]
    for member, p in zip(members, params):
        direct = clone(base).set_params(**p).fit(X, y)
        assert_same_model(direct, member, X)


def test_categorical_features_taking_bins():
    rng = np.random.default_rng(0)
    n = 500
    X = pd.DataFrame(
        {
            "city": pd.Categorical(rng.choice(["Zürich", "Åre", "東京", "x"], n)),
            "size": rng.normal(size=n),
        }
    )
    X.loc[rng.random(n) < 0.1, "size"] = np.nan
    y = (
        X["city"].cat.codes * 1.5 + X["size"].fillna(0) + rng.normal(size=n)
    ).to_numpy()
    models = [
        lightgbm.LGBMRegressor(verbose=-1, n_jobs=1, random_state=0, n_estimators=10),
        xgboost.XGBRegressor(enable_categorical=True, n_jobs=1, n_estimators=10),
        ensemble.HistGradientBoostingRegressor(
            categorical_features="from_dtype", max_iter=10, random_state=0
        ),
    ]
    for estimator in models:
        store = Store()
        _fit(clone(estimator), store, True, X, y)
        taker = clone(estimator).set_params(learning_rate=0.5)
        assert _fit(taker, store, False, X, y) == [_share(False)]
        direct = clone(estimator).set_params(learning_rate=0.5).fit(X, y)
        assert_same_model(direct, taker, X)


@pytest.mark.parametrize("estimator", REGRESSORS, ids=lambda e: type(e).__name__)
def test_other_rows_or_labels_are_binned_again(estimator):
    """A taker whose rows, labels or weights differ from the provider's (a
    wrong plan, never a planned one) builds its own bins: still exact.
    (HistGradientBoosting's bins do not hold the labels: it takes them.)"""
    X, y = _data(0, 300, False)
    store = Store()
    _fit(clone(estimator), store, True, X, y)
    labels_in_bins = not isinstance(estimator, ensemble.HistGradientBoostingRegressor)
    for X2, y2, weight, taken in [
        (X, y + 1.0, None, not labels_in_bins),
        (X[:200], y[:200], None, False),
        (X, y, np.full(len(y), 2.0), False),
    ]:
        taker = clone(estimator)
        ran = _fit(taker, store, False, X2, y2, sample_weight=weight)
        assert ran == ([_share(False)] if taken else [])
        direct = clone(estimator).fit(X2, y2, sample_weight=weight)
        assert_same_model(direct, taker, X2)


def test_lightgbm_refuses_other_dataset_parameters():
    """LightGBM checks a built Dataset's parameters itself: a taker with a
    smaller ``min_child_samples`` (which ``feature_pre_filter`` bins with) is
    refused by LightGBM and fitted directly."""
    X, y = _data(0, 300, False)
    store = Store()
    estimator = lightgbm.LGBMRegressor(verbose=-1, n_jobs=1, n_estimators=5)
    _fit(clone(estimator), store, True, X, y)
    taker = clone(estimator).set_params(min_child_samples=3)
    assert _fit(taker, store, False, X, y) == []
    direct = clone(estimator).set_params(min_child_samples=3).fit(X, y)
    assert_same_model(direct, taker, X)
    assert binning_params(taker)[0] is not None
    assert "min_child_samples" not in binning_params(taker)[0]


def test_native_bins_do_not_leave_the_process():
    X, y = _data(0, 200, False)
    for estimator in REGRESSORS:
        store = Store()
        _fit(clone(estimator), store, True, X, y)
        sent = pickle.loads(pickle.dumps(store.get(_share(True).bins_key)))
        taker_store = Store()
        taker_store.put(_share(True).bins_key, sent)
        taker = clone(estimator)
        ran = _fit(taker, taker_store, False, X, y)
        if isinstance(estimator, ensemble.HistGradientBoostingRegressor):
            assert ran == [_share(False)]  # numpy bins travel
        else:
            assert ran == [] and sent.data is None and "process" in sent.reason
        assert_same_model(clone(estimator).fit(X, y), taker, X)


def test_a_failed_provider_leaves_no_bins():
    store = Store()
    estimator = ensemble.HistGradientBoostingRegressor()
    ran: list = []
    assert fit_with_bins(estimator, _share(True), store, ran)
    with pytest.raises(ValueError):
        estimator.fit(np.ones((5, 2)), np.array([1.0, 2.0]))
    binned = store.get(_share(True).bins_key)
    assert binned.data is None and "failed" in binned.reason and ran == []


@pytest.mark.parametrize(
    "estimator, reason",
    [
        (xgboost.XGBRegressor(tree_method="exact"), "tree_method='exact'"),
        (xgboost.XGBRegressor(booster="gblinear"), "booster='gblinear'"),
        (lightgbm.LGBMRegressor(linear_tree=True), "linear_tree=True"),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_binning_not_shared_where_not_exact(estimator, reason):
    names, why = binning_params(estimator)
    assert names is None and reason in why


def test_other_estimators_have_no_binning_family():
    class MyBooster(lightgbm.LGBMRegressor):
        pass

    for estimator in (
        MyBooster(),
        ensemble.GradientBoostingRegressor(),
        xgboost.XGBRFRegressor(),
    ):
        assert binning_params(estimator) == (None, None)
    names, _ = binning_params(ensemble.HistGradientBoostingRegressor())
    assert "learning_rate" in names and "max_bins" not in names


# -- end to end ------------------------------------------------------------------


def _grid_pipeline(model):
    rng = np.random.default_rng(3)
    n = 600
    df = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    df.loc[rng.random(n) < 0.1, "c"] = np.nan
    df["y"] = df["a"] * 2 + df["b"] ** 2 + rng.normal(size=n)
    data = skrub.var("data", df)
    X = data.drop(columns="y").skb.mark_as_X()
    y = data["y"].skb.mark_as_y()
    return X.skb.apply(model, y=y)


def _models():
    rounds = skrub.choose_from([5, 10], name="rounds")
    rate = skrub.choose_from([0.1, 0.3], name="rate")
    shape = skrub.choose_from([3, 7], name="shape")
    return {
        "lgbm": lightgbm.LGBMRegressor(
            n_estimators=rounds,
            learning_rate=rate,
            num_leaves=shape,
            verbose=-1,
            n_jobs=1,
            random_state=0,
        ),
        "xgb": xgboost.XGBRegressor(
            n_estimators=rounds,
            learning_rate=rate,
            max_depth=shape,
            n_jobs=1,
            random_state=0,
        ),
        "hgb": ensemble.HistGradientBoostingRegressor(
            max_iter=rounds,
            learning_rate=rate,
            max_leaf_nodes=shape,
            early_stopping=False,
            random_state=0,
        ),
    }


def _scores(search) -> dict:
    results = search.cv_results_
    return {
        repr(sorted(p.items())): [results[f"split{f}_test_score"][i] for f in range(3)]
        for i, p in enumerate(results["params"])
    }


class _Counter:
    """Counts the binnings each library does."""

    def __init__(self, monkeypatch):
        self.counts = {"lgbm": 0, "xgb": 0, "hgb": 0}
        lazy_init = lightgbm.basic.Dataset._lazy_init
        quantile = xgboost.QuantileDMatrix.__init__
        mapper_fit = hgb_binning._BinMapper.fit

        def count(name, method):
            def counted(*args, **kwargs):
                self.counts[name] += 1
                return method(*args, **kwargs)

            return counted

        monkeypatch.setattr(
            lightgbm.basic.Dataset, "_lazy_init", count("lgbm", lazy_init)
        )
        monkeypatch.setattr(xgboost.QuantileDMatrix, "__init__", count("xgb", quantile))
        monkeypatch.setattr(hgb_binning._BinMapper, "fit", count("hgb", mapper_fit))


def test_search_bins_each_fold_once_per_family_with_skrubs_scores(monkeypatch):
    pipelines = {name: _grid_pipeline(model) for name, model in _models().items()}
    expected = {}
    for name, pipeline in pipelines.items():
        search = pipeline.skb.make_grid_search(cv=3, fitted=False)
        with stratum.config_context(engine="skrub"):
            search.fit(pipeline.skb.get_data())
        expected[name] = _scores(search)
    counter = _Counter(monkeypatch)
    with stratum.config_context(reuse=False, progress=False):
        shared = stratum.search(pipelines, cv=3, refit=False, n_jobs=2)
        assert counter.counts == {"lgbm": 3, "xgb": 3, "hgb": 3}  # one per fold
        with stratum.config_context(model_sharing=False):
            direct = stratum.search(pipelines, cv=3, refit=False, n_jobs=2)
    # Without sharing: 8 configurations x 3 folds, each binning its rows.
    assert counter.counts == {"lgbm": 3 + 24, "xgb": 3 + 24, "hgb": 3 + 24}
    for name in pipelines:
        assert _scores(shared.searches_[name]) == expected[name], name
        assert _scores(direct.searches_[name]) == expected[name], name
    stats = shared.stats_
    fits = stats[stats["label"].str.startswith("<Apply") & stats["mode"].eq("fit")]
    implementation = fits["implementation"]
    # Per model and fold: 4 families of rounds, one binning family.
    assert implementation.str.startswith("binned data built once").sum() == 3 * 3
    assert implementation.str.startswith("binned data of").sum() == 3 * 3 * 3
    assert implementation.str.startswith("prefix:").sum() == 3 * 4 * 3
    text = shared.explain()
    assert "27 booster fit(s) take the binned data that 9 other fit(s) build" in text


def test_bins_are_reused_by_a_later_batch(monkeypatch):
    """A session (with a memory budget) keeps a fold's bins: a later batch of
    the same family with other learning rates bins nothing, and scores as
    skrub does."""
    counter = _Counter(monkeypatch)

    def binnings(pipelines) -> dict:
        before = dict(counter.counts)  # (skrub's previews bin when built)
        results = {
            name: stratum.search([pipeline], cv=3, refit=False)
            for name, pipeline in pipelines.items()
        }
        binned = {k: counter.counts[k] - before[k] for k in before}
        return binned, results

    def pipelines(rate: float) -> dict:
        return {
            name: _grid_pipeline(model.set_params(learning_rate=rate))
            for name, model in _models().items()
        }

    # A session with a memory budget keeps what fits in it. (Without one, what
    # no batch holds stays in memory only under the largest batch's peak, the
    # rest spilled or dropped: here the later batch bins LightGBM's and
    # XGBoost's folds again.)
    with stratum.config_context(progress=False), stratum.Session("1GB"):
        built, _ = binnings(pipelines(0.1))
        assert built == {"lgbm": 3, "xgb": 3, "hgb": 3}
        later = pipelines(0.7)
        built, results = binnings(later)
        assert built == {"lgbm": 0, "xgb": 0, "hgb": 0}
    for name, pipeline in later.items():
        search = pipeline.skb.make_grid_search(cv=3, fitted=False)
        with stratum.config_context(engine="skrub"):
            search.fit(pipeline.skb.get_data())
        result = results[name]
        assert _scores(result.searches_[next(iter(result.searches_))]) == _scores(
            search
        )
        fits = result.stats_[result.stats_["mode"].eq("fit")]["implementation"]
        # per fold: 2 tree shapes fitted at 10 rounds on the earlier bins
        assert fits.str.startswith("binned data of").sum() == 2 * 3, name
