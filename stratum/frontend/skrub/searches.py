"""Fit skrub searches (and cross-validations) on stratum's engine.

``fit_searches`` is the one entry point: it takes several (name, DataOp,
environment, sklearn search) and returns, per pipeline, a fitted sklearn search
object (exactly what skrub's ``ParamSearch.fit`` would have produced) or the
error / fallback reason, sharing all common work across pipelines.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from skrub._data_ops._estimator import ParamSearch, default_score

from ...driver import Failure
from ...options import ExecutionOptions
from .batch import Batch, PipelineRun
from .learner import EngineLearner
from .replay import Recorded, replay_search


@dataclass
class SearchOutcome:
    name: str
    run: PipelineRun
    fitted: Any = None  # fitted sklearn search (replayed)
    error: BaseException | None = None
    failures: dict | None = None  # candidate index -> Failure


def _real_scorers(run: PipelineRun, search: Any):
    if hasattr(search, "build_scorers"):
        return search.build_scorers(run.xy_pipeline(run.configs[0].data_op))
    probe = clone(search)
    probe.estimator = run.xy_pipeline(run.configs[0].data_op)
    if probe.scoring is None:
        probe.scoring = default_score
    return probe._get_scorers()[0]


def _score(store, run: PipelineRun, config, split):
    learner = EngineLearner(config.data_op, run.environment)
    learner._bind(run, config, split, store)
    X, y = run.split_data[(split.fold, split.side)]
    if y is None:
        return run.scorers(learner, X)
    return run.scorers(learner, X, y)


def _scorer_task(run: PipelineRun, config, split):
    return functools.partial(_score, run=run, config=config, split=split)


def prepare_batch(
    items: list[tuple[str, Any, dict, Any]], options: ExecutionOptions
) -> Batch:
    """Compile and lower (without executing) a batch of searches."""
    runs = []
    for name, data_op, environment, search in items:
        if not hasattr(search, "build_scorers"):
            search = clone(search)
            if search.scoring is None:
                search.scoring = default_score
        runs.append(PipelineRun(name, data_op, environment, search))
    batch = Batch(runs, options)
    batch.prepare()
    for run in runs:
        if run.error is None and run.fallback is None:
            try:
                run.scorers = _real_scorers(run, run.search)
            except Exception as error:
                run.error = error
    batch.lower(_scorer_task, lambda run: bool(run.search.return_train_score))
    return batch


def fit_searches(
    items: list[tuple[str, Any, dict, Any]],
    *,
    options: ExecutionOptions,
    refit: bool = True,
    raise_errors: bool = True,
    replay: bool | Callable[[PipelineRun], bool] = True,
) -> tuple[Batch, list[SearchOutcome]]:
    batch = prepare_batch(items, options)
    batch.driver.execute()
    batch.collect()
    outcomes = []
    for run in batch.runs:
        outcome = SearchOutcome(run.name, run)
        outcomes.append(outcome)
        if run.error is not None:
            outcome.error = run.error
            continue
        if run.fallback is not None or not (
            replay(run) if callable(replay) else replay
        ):
            continue
        outcome.failures = _failures(batch, run)
        try:
            outcome.fitted = _replay(batch, run, refit=refit)
        except Exception as error:
            if raise_errors:
                raise
            outcome.error = error
    return batch, outcomes


def _replay(batch: Batch, run: PipelineRun, refit: bool):
    recorded = Recorded.from_run(run)
    candidates = [c.params for c in run.configs]
    search = clone(run.search)
    if not refit:
        search.refit = False
    if search.refit:
        recorded.refit = lambda params: batch.refit(run, params)
    n_folds = len(run.splits)
    times = np.zeros((len(candidates), n_folds, 2))
    for (c, fold), (fit_t, score_t) in run.times.items():
        times[c, fold] = (fit_t, score_t)
    estimator = run.xy_pipeline(run.configs[0].data_op)
    estimator_type = "classifier" if is_classifier(estimator) else "regressor"
    grid = run.xy_pipeline().get_param_grid()
    replayed = replay_search(
        search,
        grid,
        candidates,
        run.splits,
        run.y,
        _n_rows(run.X),
        recorded,
        run.scorers,
        estimator_type,
        times,
    )
    replayed.best_learner_ = recorded.fitted_learner
    return replayed


def _n_rows(X: Any) -> int:
    shape = getattr(X, "shape", None)
    return int(shape[0]) if shape is not None else len(X)


def _failures(batch: Batch, run: PipelineRun) -> dict[int, Failure]:
    """First failure per candidate (fit or score), for error reporting."""
    out: dict[int, Failure] = {}
    for (c, fold), failure in sorted(run.fit_errors.items()):
        out.setdefault(c, failure)
    for (c, fold, side), (status, value) in sorted(
        run.scores.items(), key=lambda kv: kv[0][:2]
    ):
        if status == "error":
            out.setdefault(c, value)
    return out


_COPY = [
    "cv_results_",
    "best_score_",
    "best_params_",
    "best_index_",
    "scorer_",
    "n_splits_",
    "refit_time_",
    "multimetric_",
]


def fit_param_search(
    param_search: ParamSearch, environment: dict, options: ExecutionOptions
):
    """``ParamSearch.fit`` on stratum's engine. Returns None to ask for skrub."""
    items = [("pipeline", param_search.data_op, environment, param_search.search)]
    batch, (outcome,) = fit_searches(items, options=options, refit=True)
    if outcome.run.fallback is not None:
        param_search._stratum_fallback = outcome.run.fallback
        return None
    if outcome.error is not None:
        raise outcome.error
    for name, value in fitted_attributes(param_search.search, outcome.fitted).items():
        setattr(param_search, name, value)
    batch.release()
    param_search._stratum_batch = batch
    return param_search


def fitted_attributes(search: Any, fitted: Any) -> dict[str, Any]:
    """The attributes skrub's ``ParamSearch.fit`` sets, from a replayed search."""
    attributes = {"refit_": search.refit}
    for name in _COPY:
        if hasattr(fitted, name):
            attributes[name] = getattr(fitted, name)
    if fitted.best_learner_ is not None:
        attributes["best_learner_"] = fitted.best_learner_
    return attributes
