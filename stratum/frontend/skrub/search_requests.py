"""Searches and cross-validations asked for by several callers, answered by one
batch.

A ``Request`` is what skrub's ``ParamSearch.fit`` or ``cross_validate`` was
called with; it is plain data (cloudpickle ships it between processes).
``answer`` compiles every request into one plan, executes it once (shared work
is done once) and returns, per request, what skrub would have returned: the
fitted attributes of the search, or the cross-validation table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from skrub._data_ops._estimator import ParamSearch

from ...options import ExecutionOptions
from .cross_validation import cv_item, cv_table
from .searches import _replay, fitted_attributes, prepare_batch

SEARCH, CROSS_VALIDATE = "search", "cross_validate"


@dataclass
class Request:
    """One ``ParamSearch.fit`` (kind "search") or ``cross_validate`` call."""

    kind: str
    data_op: Any
    environment: dict
    search: Any  # the sklearn search object, or a CVSpec
    kwargs: dict = field(default_factory=dict)  # cross_validate's options


@dataclass
class Reply:
    """The answer to a request.

    ``status`` is "ok" (``value``: the search's fitted attributes, or the
    cross_validate table), "error" (``value``: the exception skrub would have
    raised) or "fallback" (``value``: why the caller must run it with skrub).
    """

    status: str
    value: Any = None


def search_request(param_search: ParamSearch, environment: dict) -> Request:
    """The request of ``param_search.fit(environment)``."""
    return Request(SEARCH, param_search.data_op, dict(environment), param_search.search)


def cross_validate_request(
    learner, environment, *, keep_subsampling=False, cv=None, **kwargs
) -> Request | None:
    """The request of ``cross_validate(learner, environment, ...)``, or None when
    stratum does not run it (skrub must)."""
    item = cv_item(
        learner, environment, keep_subsampling=keep_subsampling, cv=cv, **kwargs
    )
    if item is None:
        return None
    data_op, environment, spec, kwargs = item
    return Request(CROSS_VALIDATE, data_op, environment, spec, kwargs)


def apply_search_reply(param_search: ParamSearch, attributes: dict) -> ParamSearch:
    """Set the fitted attributes of a search answered elsewhere."""
    for name, value in attributes.items():
        setattr(param_search, name, value)
    return param_search


def answer(
    requests: list[Request],
    options: ExecutionOptions,
    names: list[str] | None = None,
):
    """Evaluate ``requests`` as one batch.

    Returns ``(batch, replies)``: the executed batch (its plan, tasks and
    statistics; values released) and one ``Reply`` per request, in order.
    ``names`` name the pipelines in the plan and in error messages.
    """
    names = names or [f"request_{i}" for i in range(len(requests))]
    items = [(n, r.data_op, r.environment, r.search) for n, r in zip(names, requests)]
    batch = prepare_batch(items, options)
    batch.driver.execute()
    batch.collect()
    replies = []
    for request, run in zip(requests, batch.runs):
        if run.fallback is not None:
            replies.append(Reply("fallback", run.fallback))
            continue
        try:
            if request.kind == CROSS_VALIDATE:
                value = cv_table(batch, run, request.search, request.kwargs)
            else:
                if run.error is not None:
                    raise run.error
                fitted = _replay(batch, run, refit=True)
                value = fitted_attributes(request.search, fitted)
        except Exception as error:
            replies.append(Reply("error", error))
            continue
        replies.append(Reply("ok", value))
    batch.release()
    return batch, replies


__all__ = [
    "CROSS_VALIDATE",
    "SEARCH",
    "Reply",
    "Request",
    "answer",
    "apply_search_reply",
    "cross_validate_request",
    "search_request",
]
