"""Let scikit-learn's own search object turn stratum's scores into its results.

stratum computes every (configuration, fold) score itself. To produce exactly
the ``cv_results_``, ranks, ``best_index_``, warnings and errors that sklearn
would, the user's ``GridSearchCV``/``RandomizedSearchCV`` is then fitted on a
stand-in: candidates are the ones stratum evaluated, the estimator's ``fit``
and the scorers return (or raise) what stratum recorded, and the refit asks
stratum to fit the best configuration on all rows. Times are then replaced by
the measured ones. A successive-halving search is replayed as it runs: its
own ``_run_search`` picks each iteration's candidates and draws its folds,
and stratum computes that iteration before it is scored
(``replay_halving``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.model_selection import check_cv


def _params_key(params: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def rows_key(X: np.ndarray) -> bytes:
    return np.asarray(X[:, 0], dtype=np.int64).tobytes()


class Recorded:
    """What stratum computed, looked up by (params, rows)."""

    def __init__(self):
        self.fit_errors: dict[tuple, BaseException] = {}
        self.scores: dict[tuple, tuple[str, Any]] = {}
        self.refit: Callable[[dict], Any] | None = None
        self.fitted_learner = None
        self.all_rows: np.ndarray | None = None

    def all_rows_for(self, n_rows: int) -> np.ndarray:
        """The stand-in X of a replay: row numbers (fitting on all of them
        is the refit)."""
        self.all_rows = np.arange(n_rows).reshape(-1, 1)
        return self.all_rows

    @classmethod
    def from_run(cls, run: Any) -> "Recorded":
        """What a pipeline run computed, by (candidate params, rows)."""
        recorded = cls()
        for c, config in enumerate(run.configs):
            recorded.add(run, c, config.params)
        return recorded

    def add(self, run: Any, c: int, params: dict) -> None:
        """Record configuration ``c`` of ``run`` as the candidate ``params``."""
        key = _params_key(params)
        for (config, fold), failure in run.fit_errors.items():
            if config == c:
                rows = np.asarray(run.splits[fold][0], dtype=np.int64).tobytes()
                self.fit_errors[(key, rows)] = failure.error
        for (config, fold, side), (status, result) in run.scores.items():
            if config != c:
                continue
            train, test = run.splits[fold]
            rows = np.asarray(train if side == "train" else test, dtype=np.int64)
            if status == "error":
                result = result.error
            self.scores[(key, rows.tobytes())] = (status, result)

    def fail(self, params: dict, splits: list, error: BaseException) -> None:
        """Record that fitting ``params`` failed on every split."""
        key = _params_key(params)
        for train, _ in splits:
            rows = np.asarray(train, dtype=np.int64).tobytes()
            self.fit_errors[(key, rows)] = error

    def fit_error(self, params: dict, rows: bytes):
        return self.fit_errors.get((_params_key(params), rows))

    def score(self, params: dict, rows: bytes):
        status, value = self.scores[(_params_key(params), rows)]
        if status == "error":
            raise value
        return value.copy() if isinstance(value, dict) else value


class ReplayEstimator(BaseEstimator):
    """Stand-in whose fit and scores are what stratum recorded."""

    def __init__(self, recorded=None, estimator_type="regressor"):
        self.recorded = recorded
        self.estimator_type = estimator_type
        self._params: dict = {}

    def __sklearn_clone__(self):
        return ReplayEstimator(self.recorded, self.estimator_type)

    @property
    def _estimator_type(self):
        return self.estimator_type

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = self.estimator_type
        return tags

    def set_params(self, **params):
        for name in ("recorded", "estimator_type"):
            if name in params:
                setattr(self, name, params.pop(name))
        self._params.update(params)
        return self

    def fit(self, X, y=None, **kwargs):
        if X is self.recorded.all_rows:
            self.recorded.fitted_learner = self.recorded.refit(dict(self._params))
            return self
        error = self.recorded.fit_error(self._params, rows_key(X))
        if error is not None:
            raise error
        return self

    def score(self, X, y=None, **kwargs):
        """The recorded score (a search with ``scoring=None`` scores by the
        estimator's ``score``)."""
        return self.recorded.score(self._params, rows_key(X))


class _ReplayMultimetric(_MultimetricScorer):
    def __init__(self, real: _MultimetricScorer, recorded: Recorded):
        super().__init__(scorers=real._scorers, raise_exc=real._raise_exc)
        self._recorded = recorded

    def __call__(self, estimator, X, y=None, **kwargs):
        return self._recorded.score(estimator._params, rows_key(X))


def replay_search(
    search: Any,
    grid: list[dict],
    candidates: list[dict],
    splits: list[tuple[np.ndarray, np.ndarray]],
    y: Any,
    n_rows: int,
    recorded: Recorded,
    real_scorers: Any,
    estimator_type: str,
    times: np.ndarray,
) -> Any:
    """Fit a clone of ``search`` on the recorded results; return it."""

    def run_search(self, evaluate_candidates, **kwargs):
        evaluate_candidates(candidates)

    replayed = _replayed(search, grid, splits, recorded, estimator_type, run_search)
    replayed.fit(recorded.all_rows_for(n_rows), y)
    return _finish(replayed, times, real_scorers)


def replay_halving(
    search: Any,
    grid: Any,
    splits: list[tuple[np.ndarray, np.ndarray]],
    y: Any,
    n_rows: int,
    recorded: Recorded,
    real_scorers: Any,
    estimator_type: str,
    evaluate: Callable[[list[dict], list], np.ndarray],
    real_estimator: Any = None,
) -> Any:
    """Fit a clone of the successive-halving ``search`` by its own rules.

    Its own ``_run_search`` picks each iteration's candidates and resources;
    before an iteration is scored, ``evaluate(candidates, splits)`` computes
    it (the iteration's splits, subsampled as scikit-learn draws them, are
    drawn once), records it in ``recorded`` and returns the (candidate,
    split, fit/score) seconds. ``real_estimator`` answers the checks made
    on the search's estimator (its parameters, whether it classifies).
    """
    base = type(search)
    times: list[np.ndarray] = []
    rows = recorded.all_rows_for(n_rows)

    def run_search(self, evaluate_candidates, **kwargs):
        def evaluate_iteration(candidate_params, cv=None, **more):
            candidate_params = [dict(c) for c in candidate_params]
            drawn = [
                (np.asarray(train), np.asarray(test))
                for train, test in (cv or self._checked_cv_orig).split(rows, y)
            ]
            times.append(evaluate(candidate_params, drawn))
            return evaluate_candidates(candidate_params, check_cv(drawn), **more)

        base._run_search(self, evaluate_iteration, **kwargs)

    def check_inputs(self, X, y, split_params):
        replay, self.estimator = self.estimator, real_estimator or self.estimator
        try:
            base._check_input_parameters(self, X, y, split_params)
        finally:
            self.estimator = replay

    replayed = _replayed(
        search,
        grid,
        splits,
        recorded,
        estimator_type,
        run_search,
        _check_input_parameters=check_inputs,
    )
    replayed.fit(rows, y)
    return _finish(replayed, np.concatenate(times), real_scorers)


def _replayed(search, grid, splits, recorded, estimator_type, run_search, **more):
    """An unfitted clone of ``search`` (of a subclass whose ``_run_search``
    is ``run_search``, scored from ``recorded``) on the replay estimator."""
    base = type(search)

    def single(estimator, X, y=None, **kwargs):
        return recorded.score(estimator._params, rows_key(X))

    def get_scorers(self):
        scorers, refit_metric = base._get_scorers(self)
        if isinstance(scorers, _MultimetricScorer):
            return _ReplayMultimetric(scorers, recorded), refit_metric
        return single, refit_metric

    # what the search passes to ``_run_search`` depends on its signature
    run_search.__signature__ = inspect.signature(base._run_search)
    methods = {"_run_search": run_search, "_get_scorers": get_scorers, **more}
    replayed_class = type("Replayed", (base,), methods)
    params = clone(search).get_params(deep=False)
    params.update(estimator=ReplayEstimator(recorded, estimator_type), cv=splits)
    params.update({k: v for k, v in _SERIAL.items() if k in params})
    params["param_grid" if "param_grid" in params else "param_distributions"] = grid
    return replayed_class(**params)


def fitted_like(search: Any, replayed: Any) -> Any:
    """A clone of ``search`` (the user's class) with the fitted attributes
    of its ``replayed`` stand-in."""
    fitted = clone(search)
    for name, value in vars(replayed).items():
        if name.endswith("_") and not name.startswith("__"):
            setattr(fitted, name, value)
    return fitted


_SERIAL = {"n_jobs": None, "pre_dispatch": "2*n_jobs"}  # replays run in one thread


def _finish(replayed, times: np.ndarray, real_scorers: Any):
    """The measured times and the user's scorers on a replayed search."""
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
