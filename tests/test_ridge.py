"""Ridge families (``lower/ridge.py``): ``Ridge``/``RidgeClassifier`` fits
that differ only in ``alpha`` solve it from one shared ``X^T X``, and give,
through ``fit_with_gram``, the estimator a direct fit gives: every fitted
attribute equal, value for value and dtype for dtype; ``stratum.search``
computes one Gram per family and fold and scores every member exactly as
skrub does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklearn
import skrub
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse
from sklearn.base import clone
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.preprocessing import LabelBinarizer

import stratum
from stratum.lower.ridge import (
    VERIFIED,
    Gram,
    GramShare,
    NoGram,
    fit_with_gram,
    gram_param,
)
from stratum.runtime.store import Store

# The replay follows scikit-learn's Ridge.fit line by line; other versions
# fit directly (``gram_param`` says so), and these tests do not apply.
pytestmark = pytest.mark.skipif(
    ".".join(sklearn.__version__.split(".")[:2]) not in VERIFIED,
    reason=f"the Ridge replay is verified on scikit-learn {VERIFIED} only",
)


def _assert_same(a, b, where=""):
    """``a`` and ``b`` equal value for value (arrays: dtype, shape, bits)."""
    assert type(a) is type(b), where
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, LabelBinarizer):
        _assert_same(vars(a), vars(b), where)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for name in a:
            _assert_same(a[name], b[name], f"{where}.{name}")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


def _shared_fits(estimator, alphas, X, y):
    """A family's fits through ``fit_with_gram``: the first provides."""
    store, fitted, ran = Store(), [], []
    for i, alpha in enumerate(alphas):
        member = clone(estimator).set_params(alpha=alpha)
        share = GramShare(("family", "fold", "gram", None), i == 0, "ridge", alpha)
        assert fit_with_gram(member, share, store, ran)
        fitted.append(member.fit(X, y))
    return fitted, store, ran


def _check_family(estimator, alphas, X, y, shared=True):
    fitted, store, ran = _shared_fits(estimator, alphas, X, y)
    assert isinstance(store.get(("family", "fold", "gram", None)), Gram) is shared
    cholesky = 0
    for alpha, member in zip(alphas, fitted):
        direct = clone(estimator).set_params(alpha=alpha).fit(X, y)
        _assert_same(vars(member), vars(direct), f"alpha={alpha}")
        _assert_same(member.predict(X), direct.predict(X))
        cholesky += direct.solver_ == "cholesky"
    # Solved from the Gram wherever scikit-learn solves by Cholesky (a
    # singular system falls back to its SVD, through a direct fit).
    assert len(ran) == (cholesky if shared else 0)
    return fitted


_alphas = st.lists(
    st.one_of(
        st.floats(0, 1e4, allow_subnormal=False),
        st.integers(0, 100),
        st.sampled_from([0.0, 1e-12, 1.0]),
    ),
    min_size=2,
    max_size=5,
)


@st.composite
def _data(draw, classes=None):
    n = draw(st.integers(4, 60))
    p = draw(st.integers(1, min(n, 12)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, p)) * rng.uniform(0.1, 100, size=p)).astype(dtype)
    if draw(st.booleans()):
        X[:, 0] = 1.0  # a constant column
    if classes is None:
        targets = draw(st.sampled_from([None, 1, 2, 3]))
        shape = (n,) if targets is None else (n, targets)
        y = (rng.normal(size=shape) * 10).astype(dtype)
    else:
        k = draw(st.integers(2, classes))
        y = rng.integers(0, k, size=n)
        y[:k] = np.arange(k)
        if draw(st.booleans()):
            y = np.array(["a", "b", "c", "d"])[y]
    return X, y


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_data(), _alphas, st.booleans(), st.sampled_from(["auto", "cholesky"]))
def test_ridge_equals_direct_fit(data, alphas, fit_intercept, solver):
    X, y = data
    _check_family(Ridge(fit_intercept=fit_intercept, solver=solver), alphas, X, y)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _data(classes=4),
    _alphas,
    st.booleans(),
    st.sampled_from([None, "balanced"]),
)
def test_ridge_classifier_equals_direct_fit(data, alphas, fit_intercept, weights):
    X, y = data
    model = RidgeClassifier(fit_intercept=fit_intercept, class_weight=weights)
    fitted = _check_family(model, alphas, X, y)
    for member in fitted:
        direct = clone(member).fit(X, y)
        _assert_same(member.decision_function(X), direct.decision_function(X))


@pytest.mark.parametrize("model", [Ridge(), RidgeClassifier()])
def test_dataframe_input_keeps_feature_names(model):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "c"])
    y = rng.normal(size=50) if isinstance(model, Ridge) else rng.integers(0, 3, 50)
    fitted = _check_family(model, [0.1, 1.0, 10.0], X, y)
    assert list(fitted[1].feature_names_in_) == ["a", "b", "c"]


def test_inputs_the_replay_does_not_cover_are_fitted_directly():
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(5, 8))  # more features than rows: the kernel form
    _check_family(Ridge(), [0.1, 1.0], wide, rng.normal(size=5), shared=False)
    X = sparse.random(30, 4, density=0.5, format="csr", random_state=0)
    _check_family(
        Ridge(fit_intercept=False), [0.1, 1.0], X, rng.normal(size=30), shared=False
    )
    # A singular system (alpha=0, a repeated column): scikit-learn solves it
    # by SVD, and so does the member's direct fit.
    X = rng.normal(size=(20, 3))
    X[:, 2] = X[:, 1]
    fitted, store, ran = _shared_fits(Ridge(), [1.0, 0.0], X, rng.normal(size=20))
    assert len(ran) == 1
    assert fitted[1].solver_ == Ridge(alpha=0.0).fit(X, rng.normal(size=20)).solver_


def test_fit_arguments_are_a_direct_fit():
    rng = np.random.default_rng(0)
    X, y, w = rng.normal(size=(30, 3)), rng.normal(size=30), rng.uniform(size=30)
    store, ran = Store(), []
    key = ("family", "fold", "gram", None)
    member = Ridge(alpha=2.0)
    assert fit_with_gram(member, GramShare(key, True, "ridge", 2.0), store, ran)
    member.fit(X, y, sample_weight=w)
    assert isinstance(store.get(key), NoGram) and not ran
    _assert_same(vars(member), vars(Ridge(alpha=2.0).fit(X, y, sample_weight=w)))


def test_invalid_parameters_raise_as_a_direct_fit():
    X, y = np.ones((4, 2)), np.arange(4.0)
    member = Ridge(alpha=1.0, tol=-1.0)
    fit_with_gram(member, GramShare(("k",), True, "ridge", 1.0), Store(), [])
    with pytest.raises(ValueError, match="tol"):
        member.fit(X, y)


class _MyRidge(Ridge):
    pass


@pytest.mark.parametrize(
    "estimator, why",
    [
        (Ridge(solver="svd"), "solver='svd' does not use X^T X"),
        (Ridge(solver="lsqr"), "solver='lsqr' does not use X^T X"),
        (Ridge(positive=True), "positive=True (solved by lbfgs)"),
        (Ridge(copy_X=False), "copy_X=False (the direct fit centres X in place)"),
        (Ridge(alpha=np.array([1.0, 2.0])), "is not one non-negative number"),
        (Ridge(alpha=-1.0), "is not one non-negative number"),
        (RidgeClassifier(solver="sag"), "solver='sag' does not use X^T X"),
    ],
)
def test_blocked(estimator, why):
    param, reason = gram_param(estimator)
    assert param is None and why in reason


def test_not_ridge():
    assert gram_param(_MyRidge()) == (None, None)
    assert gram_param(LabelBinarizer()) == (None, None)
    assert gram_param(Ridge()) == ("alpha", None)
    assert gram_param(RidgeClassifier(alpha=3)) == ("alpha", None)


# -- stratum.search ------------------------------------------------------------


def _pipeline(classifier=False, model=None):
    rng = np.random.default_rng(5)
    n = 300
    df = pd.DataFrame(rng.normal(size=(n, 5)), columns=list("abcde"))
    df["y"] = df["a"] * 3 - df["b"] + rng.normal(size=n)
    if classifier:
        df["y"] = np.digitize(df["y"], [-2.0, 1.0])
    data = skrub.var("data", df)
    X = data.drop(columns="y").skb.mark_as_X()
    y = data["y"].skb.mark_as_y()
    if model is None:
        alpha = skrub.choose_float(0.01, 100.0, log=True, n_steps=5, name="alpha")
        model = (RidgeClassifier if classifier else Ridge)(alpha=alpha)
    return X.skb.apply(skrub.TableVectorizer()).skb.apply(model, y=y)


def _scores(results) -> dict:
    return {
        repr(sorted(p.items())): [results[f"split{f}_test_score"][i] for f in range(3)]
        for i, p in enumerate(results["params"])
    }


def _skrub_scores(pipeline) -> dict:
    search = pipeline.skb.make_grid_search(cv=3, fitted=False)
    with stratum.config_context(engine="skrub"):
        search.fit(pipeline.skb.get_data())
    return _scores(search.cv_results_)


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_search_shares_one_gram_per_family_and_fold(backend):
    pipelines = {"reg": _pipeline(), "clf": _pipeline(classifier=True)}
    with stratum.config_context(reuse=False, progress=False, backend=backend):
        shared = stratum.search(pipelines, cv=3, refit=False)
        with stratum.config_context(model_sharing=False):
            direct = stratum.search(pipelines, cv=3, refit=False)
    for name, pipeline in pipelines.items():
        expected = _skrub_scores(pipeline)
        assert _scores(shared.searches_[name].cv_results_) == expected, name
        assert _scores(direct.searches_[name].cv_results_) == expected, name
    stats = shared.stats_
    fits = stats[stats["label"].str.contains("Ridge") & stats["mode"].eq("fit")]
    for label in fits["label"].unique():
        impl = fits[fits["label"] == label]["implementation"]
        # 5 alphas x 3 folds: one Gram per fold, every alpha solved from it.
        assert impl.str.startswith("gram: X^T X computed once").sum() == 3, label
        assert impl.str.startswith("gram: alpha=").sum() == 4 * 3, label
    assert not direct.stats_["implementation"].str.startswith("gram:").any()
    text = shared.explain()
    assert "model sharing: 30 ridge fit(s) solve their alpha from 6 shared X^T X" in (
        text
    )
    assert "model sharing: off" in direct.explain()


def test_explain_says_why_a_ridge_is_fitted_directly():
    alpha = skrub.choose_from([0.1, 1.0], name="alpha")
    pipeline = _pipeline(model=Ridge(alpha=alpha, solver="svd"))
    with stratum.config_context(reuse=False, progress=False):
        result = stratum.search([pipeline], cv=3, refit=False)
    assert "solver='svd' does not use X^T X" in result.explain()
    assert not result.stats_["implementation"].str.startswith("gram:").any()
