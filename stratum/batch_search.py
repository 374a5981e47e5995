"""``stratum.search``: evaluate a batch of pipelines in one deduplicated plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .frontend.sklearn.searches import (
    describe,
    finish_searches,
    is_sklearn,
    named_searches,
    plan_searches,
)
from .frontend.skrub.halving import describe_halving, refit_best, run_halving
from .frontend.skrub.inputs import (
    BatchInput,
    check_pipelines,
    describe_candidates,
    run_on_skrub,
    search_object,
    skrub_learner,
)
from .frontend.skrub.searches import fit_searches, prepare_batch
from .options import ExecutionOptions
from .plan.explain import explain_plan, plan_to_dot


@dataclass
class Best:
    """The best (pipeline, configuration) of a batch and its refitted learner."""

    pipeline: str
    params: dict
    score: float
    learner: Any = None

    def __repr__(self) -> str:
        return (
            f"Best(pipeline={self.pipeline!r}, params={self.params!r}, "
            f"score={self.score!r})"
        )


class BatchSearch:
    """Results of :func:`search`.

    Attributes
    ----------
    results_ : pandas.DataFrame
        One row per (pipeline, configuration): ``pipeline``, ``params``, the
        mean/std/per-split test scores (and train scores if requested), fit and
        score times, ``status`` ("ok" or "error") and ``error``. Sorted by the
        mean test score of the refit metric, best first, errors last.
    best_ : Best
        The best row, with its learner fitted on all rows (if ``refit``).
    stats_ : pandas.DataFrame
        One row per executed task: what ran, on which fold, how long, and
        where (``placement``: "local", "process <pid>" or a Ray node);
        ``pinned`` says whether it ran with the caller's library threads
        (a step whose results depend on its thread count, see ``explain()``).
    searches_ : dict
        The fitted skrub-compatible search object of each pipeline.
    notes_ : dict
        Per scikit-learn search, what stratum did differently from its own
        fit without changing the results (a ``Pipeline``'s ``memory=`` is
        not used); also in ``explain()``.
    halving_ : HalvingGridSearchCV or None
        With ``strategy="halving"``: scikit-learn's halving search over
        candidate numbers (``n_resources_``, ``n_candidates_``,
        ``cv_results_``...), candidate ``i`` being ``results_``'s
        (pipeline, params) of that number in batch order.
    """

    def __init__(self, batch, outcomes, results, best, searches, fallbacks, earlier=()):
        self._batch = batch
        self._earlier = list(earlier)  # a halving's earlier iterations' batches
        self.halving_ = None
        self.notes_: dict[str, list[str]] = {}
        self._outcomes = outcomes
        self.results_ = results
        self.best_ = best
        self.searches_ = searches
        self.fallbacks_ = fallbacks

    @property
    def stats_(self) -> pd.DataFrame:
        rows = []
        batches = self._earlier + ([] if self._batch is None else [self._batch])
        for batch in batches:
            tasks = batch.driver.lowering.tasks
            for stat in batch.driver.store.stats:
                row = vars(stat).copy()
                row["task"] = row.pop("key")
                task = tasks.get(row["task"])
                row["pinned"] = task is not None and task.threads is not None
                rows.append(row)
        cols = [
            "task",
            "kind",
            "label",
            "fold",
            "side",
            "mode",
            "implementation",
            "seconds",
            "status",
            "how",
            "nbytes",
            "thread",
            "placement",
            "pinned",
        ]
        for row in rows:
            # Steps without an estimator run skrub's own code: the reference.
            if not row["implementation"]:
                row["implementation"] = (
                    "reference" if row["kind"] == "node" else "scorer"
                )
        return pd.DataFrame(rows, columns=cols)

    def explain(self) -> str:
        runs = set() if self._batch is None else {r.name for r in self._batch.runs}
        elsewhere = [
            f"  {name}: {why}"
            for name, why in self.fallbacks_.items()
            if name not in runs
        ]
        if elsewhere:
            elsewhere.insert(0, "run by scikit-learn's own code:")
        elsewhere += [
            f"  note, {name}: {note}"
            for name, notes in self.notes_.items()
            for note in notes
        ]
        if self._batch is None:
            return "\n".join(elsewhere)
        text = _explain(
            self._batch, self.fallbacks_, stats=self._batch.driver.store.stats
        )
        return "\n".join([*self._halving_lines(), text, *elsewhere])

    def _halving_lines(self) -> list[str]:
        halving = self.halving_
        if halving is None:
            return []
        rounds = ", ".join(
            f"{c} on {r} rows"
            for c, r in zip(halving.n_candidates_, halving.n_resources_)
        )
        return [
            f"successive halving (factor {halving.factor}): "
            f"{halving.n_iterations_} iteration(s), {rounds}; "
            "the plan below is the last iteration's"
        ]

    def draw(self) -> str:
        """The compiled plan as Graphviz DOT text (shared nodes highlighted)."""
        return plan_to_dot(self._batch.driver.plan)

    def __repr__(self) -> str:
        return (
            f"<BatchSearch: {self.results_['pipeline'].nunique()} pipelines, "
            f"{len(self.results_)} configurations>"
        )


def search(
    pipelines: Sequence | Mapping[str, Any],
    *,
    X: Any = None,
    y: Any = None,
    groups: Any = None,
    cv: Any = 5,
    scoring: Any = None,
    n_iter: int | None = None,
    random_state: Any = None,
    refit: bool | str = True,
    error_score: Any = np.nan,
    return_train_score: bool = False,
    environment: Mapping[str, Any] | None = None,
    n_jobs: int | None = None,
    timeout: float | None = None,
    config_timeout: float | None = None,
    memory_budget: int | str | None = None,
    backend: str | None = None,
    ray_address: str | None = None,
    strategy: str = "grid",
    factor: float = 3,
    min_resources: int | str = "exhaust",
) -> BatchSearch:
    """Evaluate a batch of skrub DataOps, or of scikit-learn searches and
    estimators on ``X`` and ``y``, sharing their common work.

    Parameters
    ----------
    pipelines : list or dict name -> pipeline
        skrub DataOps: the final DataOp of each pipeline (what
        ``make_grid_search`` would be called on); choices inside are expanded
        as a grid search does, or sampled (``n_iter``) as a randomized search
        does. Or scikit-learn objects: unfitted ``GridSearchCV`` /
        ``RandomizedSearchCV`` (their own candidates, ``cv``, scoring and
        refit; other searches run scikit-learn's own fit, see
        ``fallbacks_``), and estimators or ``Pipeline`` s (a search of one
        candidate with this call's ``cv``, ``scoring`` and ``refit``). Both
        kinds may be mixed in one batch.
    X, y, groups :
        The data of scikit-learn searches (as their ``fit`` takes it).
    cv, scoring, error_score, return_train_score :
        As in ``DataOp.skb.make_grid_search``.
    n_iter, random_state :
        When ``n_iter`` is given, each pipeline's configurations are sampled as
        ``make_randomized_search(n_iter=n_iter, random_state=random_state)``.
    refit : bool or str
        Fit the overall best configuration on all rows (``best_.learner``).
        With several metrics, the name of the metric that ranks.
    environment : dict, optional
        Variable values; by default each pipeline's own (``.skb.get_data()``).
    n_jobs, timeout, config_timeout, memory_budget :
        Override the configuration (see :func:`stratum.set_config`): tasks run
        at once (by default all cores; the results are the same whatever
        ``n_jobs`` is), seconds for the batch, seconds of task time per
        configuration, bytes of intermediates kept in memory before spilling
        to disk. A configuration past its time gets ``status="timeout"``.
    backend, ray_address :
        Where tasks run: "threads", "sequential", "processes" (``n_jobs``
        worker processes) or "ray" (a Ray cluster at ``ray_address``, or a
        local one); see :func:`stratum.set_config`.
    strategy, factor, min_resources :
        ``"grid"`` (default): every configuration on every fold.
        ``"halving"`` (DataOps only): successive halving over every
        configuration of every pipeline of the batch, by
        ``HalvingGridSearchCV``'s rules with this ``factor`` and
        ``min_resources`` (rows), subsampling with ``random_state``;
        ``results_`` has one row per configuration and iteration (``iter``,
        ``n_resources``), ``halving_`` is the fitted ``HalvingGridSearchCV``
        over candidate numbers, and ``best_`` is the last iteration's best.

    Returns
    -------
    BatchSearch
    """
    options = ExecutionOptions.resolve(
        n_jobs=n_jobs,
        timeout=timeout,
        config_timeout=config_timeout,
        memory_budget=memory_budget,
        backend=backend,
        ray_address=ray_address,
    )
    if isinstance(pipelines, Mapping):
        named = [(str(k), v) for k, v in pipelines.items()]
    elif isinstance(pipelines, (list, tuple)):
        named = [(f"pipeline_{i}", v) for i, v in enumerate(pipelines)]
    else:
        named = [("pipeline_0", pipelines)]
    learners = [(name, value) for name, value in named if is_sklearn(value)]
    data_ops = {name: value for name, value in named if not is_sklearn(value)}
    if learners and X is None:
        name, value = learners[0]
        raise TypeError(
            f"pipeline {name!r} is a scikit-learn {type(value).__name__}: "
            "pass its data as X= (and y=, groups=)"
        )
    if not learners and (X is not None or y is not None or groups is not None):
        raise TypeError(
            "X, y and groups are the data of scikit-learn searches; DataOps "
            "carry their own (or pass environment=)"
        )
    inputs = check_pipelines(data_ops, environment) if data_ops else []
    if strategy == "halving":
        if learners:
            name, value = learners[0]
            raise TypeError(
                f"pipeline {name!r} is a scikit-learn {type(value).__name__}: "
                "strategy='halving' halves DataOps batches; for scikit-learn "
                "pass a HalvingGridSearchCV or HalvingRandomSearchCV"
            )
        return _halving(
            inputs,
            options,
            cv=cv,
            scoring=scoring,
            n_iter=n_iter,
            random_state=random_state,
            error_score=error_score,
            return_train_score=return_train_score,
            factor=factor,
            min_resources=min_resources,
            refit=refit,
        )
    if strategy != "grid":
        raise ValueError(f"strategy must be 'grid' or 'halving', got {strategy!r}")
    items = [
        (
            item.name,
            item.data_op,
            item.environment,
            search_object(
                cv,
                scoring,
                n_iter,
                random_state,
                refit,
                error_score,
                return_train_score,
            ),
        )
        for item in inputs
    ]
    batch_args = dict(
        cv=cv,
        scoring=scoring,
        refit=refit,
        error_score=error_score,
        return_train_score=return_train_score,
    )
    entries = named_searches(learners, batch_args) if learners else []
    sklearn_items = plan_searches(entries, (X, y, groups))
    batch, outcomes = None, []
    if items or sklearn_items:
        batch, outcomes = fit_searches(
            items + sklearn_items,
            options=options,
            refit=False,
            raise_errors=False,
            replay=lambda run: run.name in data_ops,  # sklearn's are replayed later
        )
    finish_searches(entries, outcomes[len(items) :], (X, y, groups), options)
    outcomes = outcomes[: len(items)]
    searches, fallbacks, frames = {}, {}, []
    for item, outcome in zip(inputs, outcomes):
        fitted = outcome.fitted
        if outcome.run.fallback is not None:
            fallbacks[item.name] = outcome.run.fallback
            fitted, error = run_on_skrub(item, items[inputs.index(item)][3])
            if error is not None:
                outcome.error = error
        searches[item.name] = fitted
        frames.append(describe_candidates(item, outcome, fitted))
    for entry in entries:
        searches[entry.name] = entry.fitted
        if entry.fallback is not None:
            fallbacks[entry.name] = entry.fallback
        frames.append(describe(entry))
    results = _sort(pd.concat(frames, ignore_index=True), refit)
    learners_of = {e.name: getattr(e.fitted, "best_estimator_", None) for e in entries}
    best = _best(batch, results, inputs, outcomes, refit, learners_of)
    if batch is not None:
        batch.release()
    search = BatchSearch(batch, outcomes, results, best, searches, fallbacks)
    search.notes_ = {e.name: e.notes for e in entries if e.notes}
    return search


def _halving(inputs: list[BatchInput], options, *, refit, **arguments) -> BatchSearch:
    """``search(..., strategy="halving")``: see ``frontend.skrub.halving``."""
    halving = run_halving(inputs, options, **arguments)
    results = describe_halving(halving)
    best = None
    if halving.fitted is not None:
        index, learner = refit_best(halving, refit)
        row = results.loc[index]
        best = Best(row["pipeline"], row["params"], float(row["mean_test_score"]))
        best.learner = learner
    results = _sort(results, refit)
    last = halving.batches[-1] if halving.batches else None
    if last is not None:
        last.release()
    search = BatchSearch(last, [], results, best, {}, {}, earlier=halving.batches[:-1])
    search.halving_ = halving.fitted
    return search


def _score_column(results: pd.DataFrame, refit: bool | str) -> str | None:
    if isinstance(refit, str) and f"mean_test_{refit}" in results:
        return f"mean_test_{refit}"
    cols = [c for c in results.columns if c.startswith("mean_test_")]
    return cols[0] if cols else None


def _final(results: pd.DataFrame) -> pd.Series:
    """Rows that compete for the best: all but a halving's earlier
    iterations (scored on fewer rows)."""
    if "iter" not in results:
        return pd.Series(True, index=results.index)
    last = results.groupby("pipeline")["iter"].transform("max")
    return results["iter"].isna() | results["iter"].eq(last)


def _sort(results: pd.DataFrame, refit) -> pd.DataFrame:
    """Best first: the rows that compete for the best, by score; errors last."""
    col = _score_column(results, refit)
    if col is None:
        return results
    order = results.assign(_ok=results["status"].eq("ok"), _final=_final(results))
    order = order.sort_values(
        ["_ok", "_final", col], ascending=False, na_position="last", kind="stable"
    )
    return order.drop(columns=["_ok", "_final"]).reset_index(drop=True)


def _best(
    batch, results, inputs: list[BatchInput], outcomes, refit, learners: dict
) -> Best | None:
    """The best row, with its learner refitted on all rows (``learners``: a
    scikit-learn search's, refitted by it)."""
    col = _score_column(results, refit)
    competing = results["status"].eq("ok") & _final(results)
    ok = results[competing] if col else results.iloc[0:0]
    if col is None or ok.empty or ok[col].isna().all():
        return None
    row = ok.loc[ok[col].idxmax()]
    best = Best(row["pipeline"], row["params"], float(row[col]))
    if row["pipeline"] in learners:
        best.learner = learners[row["pipeline"]]
    elif refit:
        index = [i.name for i in inputs].index(row["pipeline"])
        outcome = outcomes[index]
        run = outcome.run
        if outcome.run.fallback is None:
            best.learner = batch.refit(run, run.configs[int(row["_candidate"])].params)
        else:
            fitted = outcome.fitted
            best.learner = _refit_on_skrub(
                inputs[index], fitted, int(row["_candidate"])
            )
    return best


def _refit_on_skrub(item: BatchInput, fitted, candidate: int):
    return skrub_learner(item, fitted.cv_results_["params"][candidate])


def explain(
    pipelines: Sequence | Mapping[str, Any] | BatchSearch,
    *,
    cv: Any = 5,
    n_iter: int | None = None,
    random_state: Any = None,
    environment: Mapping[str, Any] | None = None,
    dot: bool = False,
) -> str:
    """Describe the plan a batch compiles to, without fitting anything.

    X and y are computed (the splits depend on them); nothing downstream runs.
    With ``dot=True``, return the plan as Graphviz DOT text instead.
    """
    if isinstance(pipelines, BatchSearch):
        return pipelines.explain()
    inputs = check_pipelines(pipelines, environment)
    items = [
        (
            i.name,
            i.data_op,
            i.environment,
            search_object(cv, None, n_iter, random_state, False, np.nan, False),
        )
        for i in inputs
    ]
    batch = prepare_batch(items, ExecutionOptions.resolve())
    if dot:
        return plan_to_dot(batch.driver.plan)
    fallbacks = {r.name: r.fallback for r in batch.runs if r.fallback}
    return _explain(batch, fallbacks)


def _explain(batch, fallbacks: dict, stats=None) -> str:
    pipelines = []
    for run in batch.runs:
        if run.error is not None:
            status = f"nobody: error {type(run.error).__name__}: {run.error}"
        elif run.name in fallbacks:
            status = f"skrub ({fallbacks[run.name]})"
        else:
            status = "stratum"
        pipelines.append(
            {
                "name": run.name,
                "configurations": len(run.configs),
                "folds": len(getattr(run, "splits", ())),
                "status": status,
            }
        )
    store = batch.driver.store
    memory = {
        "peak": store.peak_bytes,
        "released": store.released,
        "hits": store.hits,
        "spilled": store.spilled,
        "budget": store.budget,
        "schedules": store.schedules,
        "reused": store.reused,
    }
    if store.reuse is not None:
        memory["cache"] = store.reuse.memory.stats.as_dict()
        if store.reuse.disk is not None:
            memory["disk"] = store.reuse.disk.stats.as_dict()
    planned = batch.planned_implementations() if stats is None else None
    lowering = batch.driver.lowering
    shared = lowering.shared if lowering.model_sharing else None
    return explain_plan(
        batch.driver.plan, lowering.tasks, pipelines, stats, memory, planned, shared
    )
