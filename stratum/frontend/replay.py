"""Let scikit-learn's own search object turn stratum's scores into its results.

stratum computes every (configuration, fold) score itself. To produce exactly
the ``cv_results_``, ranks, ``best_index_``, warnings and errors that sklearn
would, the user's ``GridSearchCV``/``RandomizedSearchCV`` is then fitted on a
stand-in: candidates are the ones stratum evaluated, the estimator's ``fit``
and the scorers return (or raise) what stratum recorded, and the refit asks
stratum to fit the best configuration on all rows. Times are then replaced by
the measured ones.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.metrics._scorer import _MultimetricScorer


def _params_key(params: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def _rows_key(X: np.ndarray) -> bytes:
    return np.asarray(X[:, 0], dtype=np.int64).tobytes()


class Recorded:
    """What stratum computed, looked up by (params, rows)."""

    def __init__(self):
        self.fit_errors: dict[tuple, BaseException] = {}
        self.scores: dict[tuple, tuple[str, Any]] = {}
        self.refit: Callable[[dict], Any] | None = None
        self.fitted_learner = None

    def fit_error(self, params: dict, rows: bytes):
        return self.fit_errors.get((_params_key(params), rows))

    def score(self, params: dict, rows: bytes):
        status, value = self.scores[(_params_key(params), rows)]
        if status == "error":
            raise value
        return value.copy() if isinstance(value, dict) else value


class ReplayEstimator(BaseEstimator):
    """Stand-in whose fit and scores are what stratum recorded."""

    def __init__(self, recorded=None, n_rows=0, estimator_type="regressor"):
        self.recorded = recorded
        self.n_rows = n_rows
        self.estimator_type = estimator_type
        self._params: dict = {}

    def __sklearn_clone__(self):
        return ReplayEstimator(self.recorded, self.n_rows, self.estimator_type)

    @property
    def _estimator_type(self):
        return self.estimator_type

    def set_params(self, **params):
        for name in ("recorded", "n_rows", "estimator_type"):
            if name in params:
                setattr(self, name, params.pop(name))
        self._params.update(params)
        return self

    def fit(self, X, y=None, **kwargs):
        if len(X) == self.n_rows and self.recorded.refit is not None:
            self.recorded.fitted_learner = self.recorded.refit(dict(self._params))
            return self
        error = self.recorded.fit_error(self._params, _rows_key(X))
        if error is not None:
            raise error
        return self


class _ReplayMultimetric(_MultimetricScorer):
    def __init__(self, real: _MultimetricScorer, recorded: Recorded):
        super().__init__(scorers=real._scorers, raise_exc=real._raise_exc)
        self._recorded = recorded

    def __call__(self, estimator, X, y=None, **kwargs):
        return self._recorded.score(estimator._params, _rows_key(X))


def replay_search(
    search: Any,
    candidates: list[dict],
    splits: list[tuple[np.ndarray, np.ndarray]],
    y: Any,
    recorded: Recorded,
    real_scorers: Any,
    estimator_type: str,
    times: np.ndarray,
) -> Any:
    """Fit a clone of ``search`` on the recorded results; return it."""
    base = type(search)

    def single(estimator, X, y=None, **kwargs):
        return recorded.score(estimator._params, _rows_key(X))

    class Replayed(base):
        def _run_search(self, evaluate_candidates, **kwargs):
            evaluate_candidates(candidates)

        def _get_scorers(self):
            scorers, refit_metric = super()._get_scorers()
            if isinstance(scorers, _MultimetricScorer):
                return _ReplayMultimetric(scorers, recorded), refit_metric
            return single, refit_metric

    replayed = Replayed.__new__(Replayed)
    replayed.__dict__.update(clone(search).__dict__)
    n_rows = len(splits[0][0]) + len(splits[0][1]) if splits else 0
    n_rows = max(n_rows, max((max(tr.max(initial=0), te.max(initial=0)) for tr, te in splits), default=0) + 1)
    replayed.estimator = ReplayEstimator(recorded, n_rows, estimator_type)
    replayed.cv = splits
    replayed.n_jobs = None
    replayed.pre_dispatch = "2*n_jobs"
    X_rows = np.arange(n_rows).reshape(-1, 1)
    y_rows = None if y is None else y
    start = time.perf_counter()
    replayed.fit(X_rows, y_rows)
    del start
    results = replayed.cv_results_
    fit_t, score_t = times[..., 0], times[..., 1]
    results["mean_fit_time"] = fit_t.mean(axis=1)
    results["std_fit_time"] = fit_t.std(axis=1)
    results["mean_score_time"] = score_t.mean(axis=1)
    results["std_score_time"] = score_t.std(axis=1)
    if isinstance(real_scorers, _MultimetricScorer):
        replayed.scorer_ = real_scorers._scorers
    else:
        replayed.scorer_ = real_scorers
    return replayed
