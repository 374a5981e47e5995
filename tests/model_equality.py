"""Fitted models compared value by value: what a rewritten fit must equal."""

from __future__ import annotations

import pickle

import lightgbm
import numpy as np
import xgboost
from sklearn.tree._tree import Tree


def same(a, b, path="") -> None:
    """Equal values, recursively (models by their serialised form)."""
    if isinstance(a, (np.random.RandomState, np.random.Generator)):
        # Private generators (GradientBoosting's ``_rng`` and its trees'
        # reference to it, HistGradientBoosting's ``_feature_subsample_rng``)
        # are at their state after n rounds; only warm_start reads them.
        return
    assert type(a) is type(b), (path, type(a), type(b))
    if isinstance(a, lightgbm.Booster):
        assert a.model_to_string() == b.model_to_string(), path
        assert a.params == b.params, path
    elif isinstance(a, xgboost.Booster):
        assert a.save_raw("json") == b.save_raw("json"), path
        assert a.save_config() == b.save_config(), path
    elif isinstance(a, np.ndarray):
        if a.dtype == object:
            assert a.shape == b.shape, path
            for i, (x, y) in enumerate(zip(a.ravel(), b.ravel())):
                same(x, y, f"{path}[{i}]")
        else:
            np.testing.assert_array_equal(a, b, err_msg=path, strict=True)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, Tree):
        same(a.__getstate__(), b.__getstate__(), path)
    elif hasattr(a, "__dict__") and not isinstance(a, type):
        same(vars(a), vars(b), path)
    elif type(a).__eq__ is object.__eq__:  # compiled objects (losses): by value
        assert pickle.dumps(a) == pickle.dumps(b), path
    else:
        assert a == b or (a != a and b != b), (path, a, b)


def assert_same_model(direct, prefixed, X) -> None:
    assert type(prefixed) is type(direct)
    same(prefixed.get_params(), direct.get_params(), "params")
    np.testing.assert_array_equal(prefixed.predict(X), direct.predict(X), strict=True)
    if hasattr(direct, "predict_proba"):
        np.testing.assert_array_equal(
            prefixed.predict_proba(X), direct.predict_proba(X), strict=True
        )
    params = direct.get_params(deep=False)
    fitted = {k: v for k, v in vars(direct).items() if k not in params}
    assert fitted.keys() == {k for k in vars(prefixed) if k not in params}
    same(fitted, {k: vars(prefixed)[k] for k in fitted}, type(direct).__name__)
    if hasattr(direct, "feature_importances_"):
        np.testing.assert_array_equal(
            prefixed.feature_importances_, direct.feature_importances_
        )
