"""scikit-learn searches on stratum's engine.

A scikit-learn search object on ``X``, ``y`` and ``groups`` (or a plain
estimator: a ``GridSearchCV`` of one candidate) runs in three steps:

1. Its candidates are the ones its own ``_run_search`` lists, drawn as it
   draws them (``GridSearchCV``'s parameter grid, ``RandomizedSearchCV``'s
   samples with its ``random_state``); its splits are the ones its own
   ``cv`` makes of X, y and groups (``check_cv``). A successive-halving
   search picks each iteration's candidates from the last one's scores, so
   it runs as it goes: its own ``_run_search`` draws each iteration's
   subsampled splits (or sets the resource parameter), and that iteration's
   candidates run as one stratum batch before it is scored
   (``replay.replay_halving``).
2. Each candidate (the estimator cloned, with the candidate's parameters) is
   written as a skrub DataOp: a ``Pipeline``'s steps become a chain of
   ``.skb.apply(step, y=y, no_wrap=True)`` on the ``X`` and ``y`` variables,
   each step called as the ``Pipeline`` calls it (``fit_transform(X, y)``,
   then ``transform``; the last one ``fit`` and ``predict``), any other
   estimator one such step (a ``Pipeline``'s ``memory`` is not used: the
   store keeps what the steps computed). Every candidate of every search of
   a batch goes into one stratum batch, so a step with the same parameters
   on the same input (a ``ColumnTransformer`` shared by a Ridge and a
   LightGBM grid) is fitted once per fold, and the model-sharing rewrites
   apply.
3. The user's search object is then fitted on what stratum recorded
   (``frontend.skrub.replay``): its ``cv_results_``, ranks, ``best_*``,
   ``FitFailedWarning`` and ``error_score`` handling are scikit-learn's own,
   and so is the refit of the best candidate on all rows
   (``clone(estimator).set_params(**best_params_).fit(X, y)``).

What it cannot plan runs scikit-learn's own ``fit`` and says why: fit
parameters, other search classes (subclasses too: their rules may differ),
pairwise estimators, a halving search whose ``cv`` splits change from call
to call (scikit-learn refuses it), frames whose column names are not
strings (skrub's steps see them as strings).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import skrub
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.model_selection import (
    GridSearchCV,
    ParameterGrid,
    ParameterSampler,
    RandomizedSearchCV,
    check_cv,
)
from sklearn.model_selection._search import BaseSearchCV
from sklearn.model_selection._search_successive_halving import (
    BaseSuccessiveHalving,
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
)
from sklearn.model_selection._split import _yields_constant_splits
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags

from ..skrub.replay import Recorded, fitted_like, replay_halving, replay_search
from ..skrub.searches import fit_searches

_PLANNED = (
    GridSearchCV,
    RandomizedSearchCV,
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
)


@dataclass
class SklearnSearch:
    """One scikit-learn search of a batch, and what stratum makes of it."""

    name: str
    search: BaseSearchCV
    fallback: str | None = None  # why scikit-learn's own fit runs instead
    notes: list = field(default_factory=list)  # what stratum did differently
    candidates: list = field(default_factory=list)
    splits: list = field(default_factory=list)
    items: list = field(default_factory=list)  # (name, DataOp, env, search)
    fitted: BaseSearchCV | None = None  # the search, fitted
    times: np.ndarray | None = None  # (candidate, split, fit/score) seconds
    error: BaseException | None = None  # what its fit raised


def as_search(
    name: str,
    value: Any,
    *,
    cv: Any,
    scoring: Any,
    refit: Any,
    error_score: Any,
    return_train_score: bool,
) -> BaseSearchCV:
    """``value`` if it is a scikit-learn search; a plain estimator as a
    ``GridSearchCV`` of one candidate with the batch's arguments."""
    if isinstance(value, BaseSearchCV):
        return value
    if isinstance(value, BaseEstimator):
        return GridSearchCV(
            value,
            {},
            cv=cv,
            scoring=scoring,
            refit=bool(refit),
            error_score=error_score,
            return_train_score=return_train_score,
        )
    raise TypeError(
        f"pipeline {name!r}: expected a scikit-learn estimator or search, "
        f"got {type(value).__name__}"
    )


def plan_search(entry: SklearnSearch, X: Any, y: Any, groups: Any) -> None:
    """Fill ``entry``'s candidates, splits and batch items, or say in
    ``entry.fallback`` why scikit-learn's own fit must run. A halving search
    gets its splits only: its candidates are chosen as it runs
    (``finish_searches``)."""
    search = entry.search
    entry.fallback = why_not_planned(search, X)
    if entry.fallback is not None:
        return
    cv = check_cv(search.cv, y, classifier=is_classifier(search.estimator))
    entry.splits = [(train, test) for train, test in cv.split(X, y, groups)]
    if getattr(search.estimator, "memory", None) is not None:
        entry.notes.append(
            "the Pipeline's memory= is not used: stratum keeps what its steps computed"
        )
    if isinstance(search, BaseSuccessiveHalving):
        if not _yields_constant_splits(cv):
            entry.fallback = "a cv whose splits change from call to call"
        return
    entry.candidates = candidates_of(search)
    entry.items = _items(entry, entry.candidates, entry.splits, X, y)


def _items(entry: SklearnSearch, candidates: list, splits: list, X, y) -> list:
    """The batch items of ``candidates`` of ``entry`` on ``splits``: one
    DataOp per candidate, scored as the search scores."""
    search = entry.search
    x_var = skrub.X()
    y_var = None if y is None else skrub.y()
    environment = {"X": X} if y is None else {"X": X, "y": y}
    evaluation = GridSearchCV(  # how each candidate is scored
        None,
        None,
        cv=splits,
        scoring=search.scoring,
        refit=False,
        error_score=search.error_score,
        return_train_score=search.return_train_score,
    )
    items = []
    for index, params in enumerate(candidates):
        estimator = clone(search.estimator).set_params(**clone(params, safe=False))
        data_op = as_data_op(estimator, x_var, y_var)
        items.append((f"{entry.name}#{index}", data_op, environment, evaluation))
    return items


def why_not_planned(search: BaseSearchCV, X: Any) -> str | None:
    """Why scikit-learn's own fit must run ``search`` on ``X`` (None: it
    need not)."""
    if type(search) not in _PLANNED:
        return f"{type(search).__name__} is run by scikit-learn"
    if get_tags(search.estimator).input_tags.pairwise:
        return "a pairwise estimator (its test rows are kernel columns too)"
    columns = getattr(X, "columns", None)
    if columns is not None and not all(isinstance(c, str) for c in columns):
        return "column names that are not strings"
    return None


def candidates_of(search: BaseSearchCV) -> list[dict]:
    """The candidates ``search`` evaluates, in its order: what its
    ``_run_search`` lists (the grid; ``n_iter`` samples drawn with its
    ``random_state``)."""
    if isinstance(search, GridSearchCV):
        return [dict(c) for c in ParameterGrid(search.param_grid)]
    sampler = ParameterSampler(
        search.param_distributions, search.n_iter, random_state=search.random_state
    )
    return [dict(c) for c in sampler]


def as_data_op(estimator: BaseEstimator, X: Any, y: Any) -> Any:
    """``estimator`` as a DataOp on ``X`` (and ``y``): a ``Pipeline`` step by
    step, each step called as the ``Pipeline`` calls it."""
    if isinstance(estimator, Pipeline):
        steps = [step for _, step in estimator.steps]
    else:
        steps = [estimator]
    *transformers, last = steps
    out = X
    for step in transformers:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        out = out.skb.apply(step, y=y, no_wrap=True)
    if last is None or (isinstance(last, str) and last == "passthrough"):
        raise ValueError("a Pipeline whose last step is 'passthrough' cannot be scored")
    return out.skb.apply(last, y=y, no_wrap=True)


def run_searches(entries: list[SklearnSearch], data: tuple, options: Any) -> tuple:
    """Run every candidate of every search in ``entries`` as one stratum
    batch, then fit each search (``entry.fitted``; ``entry.error`` if its fit
    raised). Returns the batch (None if nothing was planned) and its
    outcomes."""
    items = plan_searches(entries, data)
    batch, outcomes = None, []
    if items:
        batch, outcomes = fit_searches(
            items, options=options, refit=False, raise_errors=False, replay=False
        )
    finish_searches(entries, outcomes, data, options)
    return batch, outcomes


def plan_searches(entries: list[SklearnSearch], data: tuple) -> list:
    """``plan_search`` for each entry (an error is kept in ``entry.error``);
    the batch items of all of them, in order."""
    X, y, groups = data
    for entry in entries:
        try:
            plan_search(entry, X, y, groups)
        except Exception as error:  # e.g. a candidate's unknown parameter
            entry.error = error
    return [item for entry in entries for item in entry.items]


def finish_searches(
    entries: list[SklearnSearch], outcomes: list, data: tuple, options: Any
) -> None:
    """Fit each search on its candidates' ``outcomes`` (those of
    ``plan_searches``'s items, in order; a halving search runs its
    iterations on stratum now, with ``options``), or with scikit-learn's own
    code where it could not be planned; a failing search does not stop the
    others (``entry.error``)."""
    X, y, groups = data
    position = 0
    for entry in entries:
        mine = outcomes[position : position + len(entry.items)]
        position += len(entry.items)
        unplanned = [o.run.fallback for o in mine if o.run.fallback is not None]
        if unplanned and entry.fallback is None:
            entry.fallback = f"a candidate stratum cannot plan: {unplanned[0]}"
        if entry.error is not None:
            continue
        try:
            if entry.fallback is None and isinstance(
                entry.search, BaseSuccessiveHalving
            ):
                try:
                    entry.fitted = replay_halving_search(entry, X, y, options)
                except _Unplanned as reason:
                    entry.fallback = str(reason)
            elif entry.fallback is None:
                entry.fitted = replay(entry, mine, X, y)
            if entry.fallback is not None:
                entry.fitted = fit_in_sklearn(entry, X, y, groups)
        except Exception as error:
            entry.error = error


class _Unplanned(Exception):
    """A halving iteration has a candidate stratum cannot plan."""


def _record(recorded: Recorded, candidates: list, outcomes: list, n_folds: int):
    """Record each candidate's outcome (in order) under its parameters;
    the (candidate, split, fit/score) seconds."""
    times = np.zeros((len(candidates), n_folds, 2))
    for index, (params, outcome) in enumerate(zip(candidates, outcomes)):
        run = outcome.run
        if run.error is not None:  # the candidate could not be compiled
            raise run.error
        recorded.add(run, 0, params)
        for (_, fold), seconds in run.times.items():
            times[index, fold] = seconds
    return times


def _refit(search: BaseSearchCV, X: Any, y: Any):
    def refit(params: dict):
        return clone(search.estimator).set_params(**clone(params, safe=False)).fit(X, y)

    return refit


def replay(entry: SklearnSearch, outcomes: list, X: Any, y: Any) -> BaseSearchCV:
    """The user's search, fitted on what stratum recorded for its candidates
    (``outcomes``, in candidate order), refitted by scikit-learn; the
    measured times in ``entry.times``."""
    search = entry.search
    recorded = Recorded()
    recorded.refit = _refit(search, X, y)
    times = _record(recorded, entry.candidates, outcomes, len(entry.splits))
    entry.times = times
    replayed = replay_search(
        search,
        _grid(search),
        entry.candidates,
        entry.splits,
        y,
        _n_rows(X),
        recorded,
        clone(search)._get_scorers()[0],
        _estimator_type(search),
        times,
    )
    return _adopt(search, replayed, recorded)


def replay_halving_search(entry: SklearnSearch, X: Any, y: Any, options: Any):
    """The user's successive-halving search, run by its own rules: each
    iteration's candidates on its subsampled splits are one stratum batch."""
    search = entry.search
    recorded = Recorded()
    recorded.refit = _refit(search, X, y)

    def evaluate(candidates: list, splits: list) -> np.ndarray:
        items = _items(entry, candidates, splits, X, y)
        batch, outcomes = fit_searches(
            items, options=options, refit=False, raise_errors=False, replay=False
        )
        batch.release()
        unplanned = [o.run.fallback for o in outcomes if o.run.fallback is not None]
        if unplanned:
            raise _Unplanned(f"a candidate stratum cannot plan: {unplanned[0]}")
        return _record(recorded, candidates, outcomes, len(splits))

    replayed = replay_halving(
        search,
        _grid(search),
        entry.splits,
        y,
        _n_rows(X),
        recorded,
        clone(search)._get_scorers()[0],
        _estimator_type(search),
        evaluate,
        real_estimator=search.estimator,
    )
    return _adopt(search, replayed, recorded)


def _grid(search: BaseSearchCV) -> Any:
    return getattr(search, "param_grid", getattr(search, "param_distributions", {}))


def _estimator_type(search: BaseSearchCV) -> str:
    return "classifier" if is_classifier(search.estimator) else "regressor"


def _adopt(search: BaseSearchCV, replayed: BaseSearchCV, recorded: Recorded):
    """A clone of the user's ``search`` with the replayed fitted attributes
    (and the estimator scikit-learn refitted)."""
    fitted = fitted_like(search, replayed)
    if search.refit:
        fitted.best_estimator_ = recorded.fitted_learner
    return fitted


def _n_rows(X: Any) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


def describe(entry: SklearnSearch) -> pd.DataFrame:
    """One row per candidate of a fitted search, as ``stratum.search``'s
    ``results_`` has them (one error row for a search that failed)."""
    if entry.error is not None:
        error = entry.error
        message = f"pipeline {entry.name!r}: {type(error).__name__}: {error}"
        row = {"pipeline": entry.name, "params": {}, "status": "error"}
        return pd.DataFrame([{**row, "error": message}])
    results = entry.fitted.cv_results_
    rows = []
    for index, params in enumerate(results["params"]):
        row = {"pipeline": entry.name, "params": dict(params)}
        for key, values in results.items():
            if key == "params" or key.startswith("param_") or key.startswith("rank_"):
                continue
            row[key] = values[index]
        scores = [v for k, v in row.items() if k.startswith("mean_test_")]
        ok = not any(isinstance(s, float) and np.isnan(s) for s in scores)
        row["status"] = "ok" if ok else "error"
        row["error"] = None if ok else "the fit or score failed (error_score)"
        row["engine"] = "scikit-learn" if entry.fallback else "stratum"
        rows.append(row)
    return pd.DataFrame(rows)


def named_searches(
    named: list[tuple[str, Any]], batch_args: dict
) -> list[SklearnSearch]:
    """Each (name, scikit-learn object) of a batch as a search."""
    if not named:
        raise ValueError("stratum.search needs at least one pipeline")
    return [SklearnSearch(name, as_search(name, v, **batch_args)) for name, v in named]


def is_sklearn(value: Any) -> bool:
    """Whether ``value`` is a scikit-learn estimator or search (not a DataOp)."""
    return isinstance(value, BaseEstimator)


def fit_in_sklearn(entry: SklearnSearch, X: Any, y: Any, groups: Any):
    """scikit-learn's own fit of the search (what cannot be planned), with a
    warning saying why."""
    warnings.warn(
        f"stratum: pipeline {entry.name!r} runs on scikit-learn: {entry.fallback}",
        stacklevel=3,
    )
    return clone(entry.search).fit(X, y, groups=groups)
