"""Successive halving over every configuration of a batch of DataOps.

``stratum.search(batch, strategy="halving", factor=3)`` runs scikit-learn's
``HalvingGridSearchCV`` rules over the configurations of all pipelines of
the batch as one pool of candidates: candidate ``i`` is the ``i``-th
(pipeline, configuration) in batch order. A ``HalvingGridSearchCV`` over
those candidate numbers is fitted by replay (``replay.replay_halving``): its
own code computes the resource schedule (rows per iteration, from
``min_resources``, ``factor`` and the number of candidates), draws each
iteration's subsampled folds (``random_state``), keeps the best third, and
builds the table; before each iteration is scored, its surviving
configurations run as one stratum batch on those folds (shared work across
pipelines and configurations, as always). The last iteration's best is
refitted on all rows.

What it trades: early iterations score every configuration on a few rows,
so a configuration that only wins with many rows can be dropped early; the
scores of different iterations are not comparable (``iter``,
``n_resources``). Iterations run one after the other and fit on different
rows, so only the work before the folds (X and y) is shared between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.model_selection._search_successive_halving import HalvingGridSearchCV
from skrub._data_ops._estimator import default_score
from skrub._data_ops._evaluation import choice_graph
from skrub._data_ops._inspection import describe_params

from .batch import Batch, PipelineRun
from .compile import PARAM_PREFIX
from .cross_validation import CVSpec
from .inputs import BatchInput, _message, _status, search_object
from .replay import Recorded, ReplayEstimator, fitted_like, replay_halving
from .searches import _failures, fit_searches, prepare_batch


@dataclass
class HalvingRun:
    """A successive halving over a batch, and what it left."""

    inputs: list[BatchInput]
    candidates: list[tuple[int, dict]] = field(default_factory=list)
    fitted: Any = None  # the HalvingGridSearchCV over candidate numbers
    failures: dict = field(default_factory=dict)  # (candidate, iter) -> failure
    errors: dict = field(default_factory=dict)  # pipeline -> why it is out
    batches: list[Batch] = field(default_factory=list)  # one per iteration
    runs: dict = field(default_factory=dict)  # pipeline -> its last PipelineRun


def run_halving(
    inputs: list[BatchInput],
    options: Any,
    *,
    cv: Any,
    scoring: Any,
    n_iter: int | None,
    random_state: Any,
    error_score: Any,
    return_train_score: bool,
    factor: float,
    min_resources: Any,
) -> HalvingRun:
    """Successive halving over every configuration of ``inputs``."""
    if scoring is not None and not (callable(scoring) or isinstance(scoring, str)):
        raise ValueError(
            "strategy='halving' ranks by one metric, as HalvingGridSearchCV "
            f"does: pass one scoring, not {scoring!r}"
        )
    scoring = default_score if scoring is None else scoring
    halving = HalvingRun(inputs)
    folds = _probe(halving, options, cv, scoring, n_iter, random_state)
    if folds is None:  # no pipeline can run
        return halving
    recorded = Recorded()

    def spec(splits: list, candidates: list) -> CVSpec:
        evaluation = CVSpec(splits, scoring, error_score, return_train_score)
        evaluation.fixed_candidates = candidates
        return evaluation

    def evaluate(candidate_params: list[dict], splits: list) -> np.ndarray:
        numbers = [p["candidate"] for p in candidate_params]
        iteration = len(halving.batches)
        items, owners = [], []
        for index, item in enumerate(inputs):
            mine = [n for n in numbers if halving.candidates[n][0] == index]
            if mine:
                params = [halving.candidates[n][1] for n in mine]
                items.append(
                    (item.name, item.data_op, item.environment, spec(splits, params))
                )
                owners.append(mine)
        batch, outcomes = fit_searches(
            items, options=options, refit=False, raise_errors=False, replay=False
        )
        if halving.batches:
            halving.batches[-1].release()
        halving.batches.append(batch)
        times = np.zeros((len(numbers), len(splits), 2))
        for mine, outcome in zip(owners, outcomes):
            run = outcome.run
            halving.runs[run.name] = run
            problem = run.error or (run.fallback and NotImplementedError(run.fallback))
            failures = {} if problem else _failures(batch, run)
            for c, number in enumerate(mine):
                key = {"candidate": number}
                if problem:
                    recorded.fail(key, splits, problem)
                    halving.failures[(number, iteration)] = problem
                    continue
                recorded.add(run, c, key)
                if c in failures:
                    halving.failures[(number, iteration)] = failures[c]
                for (config, fold), seconds in run.times.items():
                    if config == c:
                        times[numbers.index(number), fold] = seconds
        return times

    search = HalvingGridSearchCV(
        ReplayEstimator(),
        {"candidate": list(range(len(halving.candidates)))},
        factor=factor,
        min_resources=min_resources,
        cv=folds.splits,
        scoring=None,
        refit=False,
        error_score=error_score,
        return_train_score=return_train_score,
        random_state=random_state,
    )
    replayed = replay_halving(
        search,
        search.param_grid,
        folds.splits,
        folds.y,
        folds.n_rows,
        recorded,
        folds.scorers,
        folds.estimator_type,
        evaluate,
    )
    halving.fitted = fitted_like(search, replayed)
    return halving


@dataclass
class _Folds:
    """What the pipelines of a halving share: the rows and folds."""

    splits: list
    y: Any
    n_rows: int
    estimator_type: str
    scorers: Any


def _probe(halving: HalvingRun, options, cv, scoring, n_iter, random_state):
    """Each pipeline's configurations (into ``halving.candidates``) and the
    folds they share (None if no pipeline can run)."""
    sampled = None if n_iter is None else (n_iter, random_state)
    items = []
    for item in halving.inputs:
        probe = PipelineRun(item.name, item.data_op, item.environment, _lister(sampled))
        try:
            candidates = probe.candidates()
        except Exception as error:
            halving.errors[item.name] = error
            continue
        items.append((item, candidates))
    batch = prepare_batch(
        [
            (item.name, item.data_op, item.environment, _first(cv, scoring, c))
            for item, c in items
        ],
        options,
    )
    base = None
    for (item, candidates), run in zip(items, batch.runs):
        reason = run.error or (
            run.fallback
            and NotImplementedError(f"strategy='halving' cannot run it: {run.fallback}")
        )
        if reason is None and base is not None and not _same_folds(run, base):
            reason = ValueError(
                "strategy='halving' compares pipelines on the same rows and "
                f"folds: its folds differ from those of {base.name!r}"
            )
        if reason is not None:
            halving.errors[item.name] = reason
            continue
        base = base or run
        index = halving.inputs.index(item)
        halving.candidates += [(index, params) for params in candidates]
    folds = None
    if base is not None:
        estimator = base.xy_pipeline(base.configs[0].data_op)
        folds = _Folds(
            base.splits,
            base.y,
            _n_rows(base.X),
            "classifier" if is_classifier(estimator) else "regressor",
            base.scorers,
        )
    batch.release()
    return folds


def _lister(sampled):
    """A search object that lists a pipeline's configurations (its grid, or
    ``n_iter`` samples) as ``stratum.search`` expands them."""
    n_iter, random_state = sampled or (None, None)
    return search_object(5, None, n_iter, random_state, False, np.nan, False)


def _first(cv, scoring, candidates: list) -> CVSpec:
    spec = CVSpec(cv, scoring, np.nan, False)
    spec.fixed_candidates = candidates[:1]
    return spec


def _same_folds(run: PipelineRun, base: PipelineRun) -> bool:
    return len(run.splits) == len(base.splits) and all(
        np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        for a, b in zip(run.splits, base.splits)
    )


def _n_rows(X: Any) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


def describe_halving(halving: HalvingRun) -> pd.DataFrame:
    """One row per (configuration, iteration) the halving scored, as
    ``stratum.search``'s ``results_`` has them, plus one error row per
    pipeline that could not take part."""
    rows = []
    graphs = {}
    if halving.fitted is not None:
        results = halving.fitted.cv_results_
        for r, params in enumerate(results["params"]):
            number = params["candidate"]
            index, config = halving.candidates[number]
            item = halving.inputs[index]
            graph = graphs.setdefault(index, choice_graph(item.data_op))
            described = describe_params(
                {int(k.removeprefix(PARAM_PREFIX)): v for k, v in config.items()},
                graph,
            )
            row = {"pipeline": item.name, "params": described}
            for key, values in results.items():
                if key.startswith(("mean_", "std_", "split")) or key in (
                    "iter",
                    "n_resources",
                ):
                    row[key] = values[r]
            failure = halving.failures.get((number, row["iter"]))
            if failure is None:
                row["status"], row["error"] = "ok", None
            else:
                row["status"] = _status(failure)
                row["error"] = _message(item.name, failure)
            rows.append(row)
    for name, error in halving.errors.items():
        rows.append(
            {
                "pipeline": name,
                "params": {},
                "status": "error",
                "error": _message(name, error),
            }
        )
    return pd.DataFrame(rows)


def refit_best(halving: HalvingRun, refit: bool) -> tuple[int, Any]:
    """The row of the halving's best (its last iteration's best) and, with
    ``refit``, that configuration fitted on all rows."""
    fitted = halving.fitted
    if not refit:
        return fitted.best_index_, None
    number = fitted.cv_results_["params"][fitted.best_index_]["candidate"]
    index, config = halving.candidates[number]
    run = halving.runs[halving.inputs[index].name]
    return fitted.best_index_, halving.batches[-1].refit(run, config)
