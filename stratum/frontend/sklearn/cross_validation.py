"""``cross_validate`` (and through it ``cross_val_score``) on stratum's engine.

A cross-validation is a search of one candidate: the estimator in a
``GridSearchCV`` with an empty grid and the same ``cv``, ``scoring``,
``error_score`` and ``return_train_score`` (its splits are ``check_cv``'s, as
``cross_validate``'s are). stratum runs it (``frontend.sklearn.searches``)
and its per-split scores become ``cross_validate``'s dictionary, key for key
and value for value (the fit and score times are stratum's measured ones).
What this cannot give runs scikit-learn's own function:
``return_estimator=True`` and fit ``params``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import GridSearchCV


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
