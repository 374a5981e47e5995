"""Logical plan nodes: immutable, identified by their lineage key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Flags:
    """Static facts about a node that decide in which contexts it is computed.

    dep_xy:     the node is, or depends on, the node marked as X or y: its value
                differs per fold and per side (train/test).
    stateful:   the node is fitted (``.skb.apply``, ``freeze_after_fit``, a
                column-wise ``concat`` that remembers its output columns): its
                non-fit evaluations need the state its fit produced.
    is_apply:   the node is an ``.skb.apply`` step (its children run while an
                estimator is running, which changes how nested steps behave).
    has_apply:  the node or one of its ancestors is an ``.skb.apply`` step.
    mode_class: the value depends on whether we fit or apply (freeze, subsample).
    mode_exact: the value depends on the exact evaluation mode (``eval_mode()``).
    is_x/is_y:  marked with ``mark_as_X()`` / ``mark_as_y()``.
    dynamic:    control flow (``if_else``/``match``): only the chosen branch is
                evaluated, so branches are not scheduled ahead of time.
    """

    dep_xy: bool = False
    stateful: bool = False
    is_apply: bool = False
    has_apply: bool = False
    mode_class: bool = False
    mode_exact: bool = False
    is_x: bool = False
    is_y: bool = False
    dynamic: bool = False


@dataclass(frozen=True)
class Family:
    """A step whose fits share work with the fits of other configurations.

    ``kind`` says which work: ``"rounds"``, an ensemble whose fits with fewer
    rounds are prefixes of its fits with more (``lower.ensembles``), or
    ``"gram"``, a ridge model whose fits with other penalties solve the same
    ``X^T X`` (``lower.ridge``), or ``"bins"``, a histogram-based booster
    whose fits with other learning rates, tree shapes, ... build the same bins
    (``lower.binning``). ``param`` names the parameters that differ between
    members (``n_estimators``, ``alpha``, ``learning_rate, num_leaves``) and
    ``value`` is this step's (None for bins).
    ``key`` is the key the step would have with any other ``value``: the
    steps with equal keys form a family. None, with the reason in
    ``blocked``, when sharing would not be exact (early stopping,
    ``warm_start``, a solver that does not use ``X^T X``, ...).
    """

    kind: str
    param: str
    value: Any
    key: str | None
    blocked: str | None = None


@dataclass(frozen=True)
class Node:
    """One operation of the logical plan.

    ``fit_deps`` / ``apply_deps`` are the input keys evaluated when the node is
    computed while fitting / while applying (transform, predict, score).
    ``unseeded`` lists this node's own parameters that leave randomness
    unseeded (``random_state=None``); ``identity`` is true when part of the key
    is an object identity (this node or an ancestor). ``reusable`` is false when
    this node or an ancestor is keyed by identity or has unseeded randomness:
    its results are shared inside a batch but never reused by a later one.
    ``payload`` is what the frontend needs to execute the node; the plan never
    looks inside it and it does not take part in equality. ``estimators`` are
    the estimator objects the node's operation uses, at any depth (a
    ``TableVectorizer`` and the ``StringEncoder`` it holds), as far as the
    frontend can tell before running it: what the lowering looks at to decide
    how the node's tasks run (``lower.threads``); not part of equality either.
    ``family`` is the node's rounds or Gram family, ``binning`` its binning
    family (an ensemble step can have both).
    """

    key: str
    kind: str
    label: str
    inputs: tuple[str, ...]
    fit_deps: tuple[str, ...]
    apply_deps: tuple[str, ...]
    flags: Flags
    identity: bool = False
    unseeded: tuple[str, ...] = ()
    reusable: bool = True
    payload: Any = field(default=None, compare=False, repr=False)
    family: Family | None = field(default=None, compare=False)
    binning: Family | None = field(default=None, compare=False)
    estimators: tuple = field(default=(), compare=False, repr=False)
