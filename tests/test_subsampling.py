"""``.skb.subsample`` under stratum's engine, compared with plain skrub.

skrub's own ``test_subsampling.py`` counts the calls of a logging step; stratum
makes fewer (a fold's step is shared by the configurations), so these tests
compare what each call saw and the results instead.
"""

import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import skrub
from sklearn.datasets import make_classification, make_regression
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LogisticRegression

import stratum


def _subsampled_search(keep_subsampling, as_frame):
    shapes = []

    def log_shape(a):
        shapes.append(a.shape)
        return a

    X_a, y_a = make_regression(random_state=0, n_features=13)
    if as_frame:
        X_a = pd.DataFrame(X_a, columns=[f"c{i}" for i in range(X_a.shape[1])])
        y_a = pd.Series(y_a, name="y")
    X = skrub.X(X_a).skb.subsample(n=15).skb.apply_func(log_shape)
    y = skrub.y(y_a).skb.subsample(n=15).skb.apply_func(log_shape)
    pred = X.skb.apply(
        DummyRegressor(strategy=skrub.choose_from(["mean", "median"])), y=y
    )
    shapes.clear()  # the preview's
    search = pred.skb.make_grid_search(
        fitted=True, keep_subsampling=keep_subsampling, cv=3
    )
    return shapes, search


@pytest.mark.parametrize("as_frame", [False, True])
@pytest.mark.parametrize("keep_subsampling", [False, True])
def test_subsampled_sides_are_skrubs(keep_subsampling, as_frame):
    with stratum.config_context(engine="skrub"):
        ref_shapes, ref = _subsampled_search(keep_subsampling, as_frame)
    shapes, got = _subsampled_search(keep_subsampling, as_frame)
    # skrub: each fold's train and test side per configuration, then the refit.
    per_config = len(ref_shapes[:-2]) // 2
    assert ref_shapes[:per_config] == ref_shapes[per_config:-2]
    # stratum: each fold's sides once for both configurations, then the refit.
    assert Counter(shapes[:-2]) == Counter(ref_shapes[:per_config])
    assert Counter(shapes[-2:]) == Counter(ref_shapes[-2:])
    train_rows = 15 if keep_subsampling else 66
    assert (train_rows, 13) in shapes and (34, 13) in shapes  # test side: whole
    pd.testing.assert_frame_equal(got.results_, ref.results_)
    np.testing.assert_array_equal(
        got.cv_results_["split0_test_score"], ref.cv_results_["split0_test_score"]
    )


def test_subsampling_before_and_after_the_split_is_skrubs_error():
    X_a, y_a = make_classification(random_state=0)
    X = skrub.var("X", X_a).skb.mark_as_X().skb.subsample(n=10)
    y = skrub.var("y", y_a).skb.subsample(n=10).skb.mark_as_y()
    pred = X.skb.apply(LogisticRegression(), y=y)
    message = re.escape(
        "`y` was subsampled with `.skb.subsample()` but `X` was not, resulting in"
        " different sizes (X: 100, y: 10).\nAre `.skb.subsample()` and"
        " `.skb.mark_as_*()` applied in the same order for both X and y?"
    )
    for engine in ("skrub", "stratum"):
        with stratum.config_context(engine=engine):
            pred.skb.cross_validate(cv=2)  # no subsampling: fine
            with pytest.raises(ValueError, match=message):
                pred.skb.cross_validate(cv=2, keep_subsampling=True)
