"""``cross_validate`` (and through it ``cross_val_score``) on stratum's engine.

A cross-validation is a search of one candidate: the estimator in a
``GridSearchCV`` with an empty grid and the same ``cv``, ``scoring``,
``error_score`` and ``return_train_score`` (its splits are ``check_cv``'s, as
``cross_validate``'s are). stratum runs it (``frontend.sklearn.searches``)
and its per-split scores become ``cross_validate``'s dictionary, key for key
and value for value (the fit and score times are stratum's measured ones).
What this cannot give runs scikit-learn's own function:
``return_estimator=True`` and fit ``params``.

``cross_val_predict`` is the same search, whose "scorer" keeps each test
fold's ``method`` output and the fold's ``classes_``; scikit-learn's own
``cross_val_predict`` then runs on a stand-in estimator that returns them
(``ReplayPredictor``), so the target encoding, column order of the classes
a fold lacked and the assembly in row order are its own. The fits see the
target as scikit-learn's fits do (label-encoded for the probability and
decision methods). A 2-D target, fit ``params`` and
``method="predict_log_proba"`` run scikit-learn's own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import LabelEncoder

from ..skrub.replay import rows_key
from .searches import why_not_planned

_ENCODED = ("decision_function", "predict_proba", "predict_log_proba")
# what a step of a DataOp predicts with (not ``predict_log_proba``)
METHODS = ("predict", "predict_proba", "decision_function")


def planned(return_estimator: bool, params: Any) -> str | None:
    """Why scikit-learn's own ``cross_validate`` must run (None: it need not)."""
    if return_estimator:
        return "return_estimator=True (the fitted estimators stay in stratum)"
    if params:
        return "fit parameters"
    return None


def as_search(estimator, cv, scoring, error_score, return_train_score) -> GridSearchCV:
    """The search of one candidate that ``cross_validate`` amounts to."""
    return GridSearchCV(
        estimator,
        {},
        cv=cv,
        scoring=scoring,
        refit=False,
        error_score=error_score,
        return_train_score=return_train_score,
    )


def results_of(entry: Any, return_train_score: bool, return_indices: bool) -> dict:
    """``cross_validate``'s dictionary from the fitted one-candidate search
    ``entry`` (a ``searches.SklearnSearch`` stratum ran)."""
    fitted = entry.fitted
    results = fitted.cv_results_
    ret: dict[str, Any] = {}
    ret["fit_time"] = np.asarray(entry.times[0, :, 0], dtype=float)
    ret["score_time"] = np.asarray(entry.times[0, :, 1], dtype=float)
    if return_indices:
        ret["indices"] = {}
        ret["indices"]["train"], ret["indices"]["test"] = zip(*entry.splits)
    names = list(fitted.scorer_) if fitted.multimetric_ else ["score"]
    for name in names:
        ret[f"test_{name}"] = _column(results, "test", name, fitted.n_splits_)
        if return_train_score:
            ret[f"train_{name}"] = _column(results, "train", name, fitted.n_splits_)
    return ret


def _column(results: dict, side: str, name: str, n_splits: int) -> np.ndarray:
    return np.array([results[f"split{i}_{side}_{name}"][0] for i in range(n_splits)])


def why_not_predicted(estimator, X, y, method: str, params) -> str | None:
    """Why scikit-learn's own ``cross_val_predict`` must run (None: it need
    not)."""
    if params:
        return "fit parameters"
    if method not in METHODS:
        return f"method={method!r}"
    if y is not None and np.ndim(y) != 1:
        return "a 2-D target"
    return why_not_planned(GridSearchCV(estimator, {}), X)


def prediction_search(estimator, splits: list, method: str) -> GridSearchCV:
    """The search of one candidate whose per-fold "score" is the test
    fold's ``method`` output and the fold's classes."""

    def keep(fitted, X, y=None):
        return {"out": getattr(fitted, method)(X), "classes": _classes(fitted)}

    return GridSearchCV(
        estimator, {}, cv=splits, scoring=keep, refit=False, error_score="raise"
    )


def _classes(fitted) -> Any:
    try:
        return fitted.classes_
    except AttributeError:
        return None


def fit_target(y: Any, method: str) -> Any:
    """The target the fits of ``cross_val_predict`` see."""
    if method in _ENCODED and y is not None:
        return LabelEncoder().fit_transform(np.asarray(y))
    return y


class ReplayPredictor(BaseEstimator):
    """Stand-in whose fit and ``method`` give (or raise) what stratum
    computed, by the rows they are called on (a ``cross_val_predict`` on
    row numbers, inside which scikit-learn words its errors)."""

    def __init__(self, folds=None, estimator_type="regressor"):
        self.folds = folds  # train rows -> (test rows, recorded, error)
        self.estimator_type = estimator_type

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = self.estimator_type
        return tags

    def fit(self, X, y=None):
        self.test_, recorded, error = self.folds[rows_key(X)]
        if isinstance(error, _FitFailed):
            raise error.error
        self.error_, self.recorded_ = error, recorded
        if recorded is not None and recorded["classes"] is not None:
            self.classes_ = recorded["classes"]
        return self

    def _recorded(self, X):
        if rows_key(X) != self.test_:
            raise RuntimeError("stratum: predicting on other rows than the fold's")
        if self.error_ is not None:
            raise self.error_
        return self.recorded_["out"]

    predict = predict_proba = decision_function = _recorded


class _FitFailed:
    def __init__(self, error: BaseException):
        self.error = error


def recorded_folds(run: Any, splits: list) -> dict:
    """``ReplayPredictor``'s folds from the run of ``prediction_search``."""
    folds = {}
    for number, (train, test) in enumerate(splits):
        recorded, error = None, None
        failure = run.fit_errors.get((0, number))
        if failure is not None:
            error = _FitFailed(failure.error)
        else:
            status, value = run.scores[(0, number, "test")]
            if status == "error":
                error = value.error
            else:
                recorded = value
        train_rows = rows_key(np.asarray(train).reshape(-1, 1))
        folds[train_rows] = (rows_key(np.asarray(test).reshape(-1, 1)), recorded, error)
    return folds
