"""Inputs and result rows of ``stratum.search`` (skrub-specific parts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from skrub._data_ops._data_ops import DataOp
from skrub._data_ops._estimator import ParamSearch, SkrubLearner
from skrub._data_ops._evaluation import choice_graph, clone
from skrub._data_ops._inspection import describe_params

from ..._config import config_context
from ...driver import BatchTimeout, Cancelled, ConfigurationTimeout
from .compile import PARAM_PREFIX


@dataclass
class BatchInput:
    name: str
    data_op: DataOp  # a clone without variable values, as make_grid_search uses
    environment: dict
    original: DataOp


def check_pipelines(pipelines: Any, environment: Mapping | None) -> list[BatchInput]:
    """Validate a batch (list or dict of DataOps) and name its pipelines."""
    if isinstance(pipelines, DataOp):
        pipelines = [pipelines]
    if isinstance(pipelines, Mapping):
        named = [(str(k), v) for k, v in pipelines.items()]
    elif isinstance(pipelines, Sequence) and not isinstance(pipelines, (str, bytes)):
        named = [(f"pipeline_{i}", p) for i, p in enumerate(pipelines)]
    else:
        raise TypeError(
            "stratum.search expects a list or a dict of skrub DataOps, got "
            f"{type(pipelines).__name__}"
        )
    if not named:
        raise ValueError("stratum.search needs at least one pipeline")
    inputs = []
    for position, (name, op) in enumerate(named):
        if not isinstance(op, DataOp):
            raise TypeError(
                f"Pipeline {name!r} (position {position}) is not a skrub DataOp but "
                f"a {type(op).__name__}: pass the final DataOp of each pipeline, "
                "e.g. the result of `X.skb.apply(model, y=y)`."
            )
        env = dict(op.skb.get_data() if environment is None else environment)
        inputs.append(BatchInput(name, op.skb.clone(), env, op))
    return inputs


def search_object(cv, scoring, n_iter, random_state, refit, error_score, rts):
    """The sklearn search object skrub would build for these arguments."""
    common = dict(
        cv=cv,
        scoring=scoring,
        refit=refit,
        error_score=error_score,
        return_train_score=rts,
    )
    if n_iter is None:
        return GridSearchCV(None, None, **common)
    return RandomizedSearchCV(
        None, None, n_iter=n_iter, random_state=random_state, **common
    )


def _message(name: str, failure_or_error: Any) -> str:
    error = getattr(failure_or_error, "error", failure_or_error)
    label = getattr(failure_or_error, "label", None)
    if label is None:
        notes = [
            n for n in getattr(error, "__notes__", []) if "Evaluation of node" in n
        ]
        if notes:
            label = notes[0].split("Evaluation of node ", 1)[1].split(" failed", 1)[0]
    where = f", step {label}" if label else ""
    return f"pipeline {name!r}{where}: {type(error).__name__}: {error}"


def _status(failure: Any) -> str:
    error = getattr(failure, "error", failure)
    if isinstance(error, (BatchTimeout, ConfigurationTimeout)):
        return "timeout"
    if isinstance(error, Cancelled):
        return "cancelled"
    return "error"


def describe_candidates(item: BatchInput, outcome: Any, fitted: Any) -> pd.DataFrame:
    """One row per configuration of one pipeline."""
    graph = choice_graph(item.data_op)
    if fitted is None:
        candidates = [c.params for c in outcome.run.configs] or [{}]
        results: dict = {}
    else:
        results = fitted.cv_results_
        candidates = list(results["params"])
    rows = []
    failures = outcome.failures or {}
    for c, params in enumerate(candidates):
        described = describe_params(
            {int(k.removeprefix(PARAM_PREFIX)): v for k, v in params.items()}, graph
        )
        row: dict = {"pipeline": item.name, "params": described, "_candidate": c}
        for key, values in results.items():
            if key.startswith(("mean_", "std_", "split")) and key != "params":
                row[key] = values[c]
        if c in failures:
            row["status"], row["error"] = (
                _status(failures[c]),
                _message(item.name, failures[c]),
            )
        elif outcome.error is not None:
            row["status"], row["error"] = "error", _message(item.name, outcome.error)
        else:
            row["status"], row["error"] = "ok", None
        rows.append(row)
    return pd.DataFrame(rows)


def run_on_skrub(item: BatchInput, search: Any):
    """Fit one pipeline's search with plain skrub (the fallback path)."""
    param_search = ParamSearch(item.data_op, search)
    try:
        with config_context(engine="skrub"):
            param_search.fit(item.environment)
    except Exception as error:
        return None, error
    return param_search, None


def skrub_learner(item: BatchInput, params: dict) -> SkrubLearner:
    learner = SkrubLearner(clone(item.original))
    learner.set_params(**params)
    with config_context(engine="skrub"):
        learner.fit(item.environment)
    return learner


__all__ = ["BatchInput", "check_pipelines", "describe_candidates", "search_object"]
