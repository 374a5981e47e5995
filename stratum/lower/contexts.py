"""In which context a node's value is computed, and the key of that value.

A task is (node key, fold, side, mode). The fold and side only take part when
the node depends on the data marked as X/y; the mode only as far as the node's
value can depend on it:

- NONE:  pure functions of constants and variables, computed once.
- CLASS: depends on fitting versus applying (a fitted step that feeds another
         fitted step does ``fit_transform`` or ``transform``, whatever the
         final method is).
- EXACT: depends on the exact method (the final estimator's ``predict`` vs
         ``predict_proba``, ``eval_mode()``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..plan import Node

NONE, CLASS, EXACT = 0, 1, 2

FIT_CLASS, APPLY_CLASS = "fit_transform", "transform"


@dataclass(frozen=True)
class Split:
    """The rows one evaluation sees.

    ``fold`` identifies the train/test indices by content (None when preparing
    X and y on the full data, "all" for the refit on all rows); ``side`` is
    "full" (preparing X and y), "train" or "test"; ``number`` is for display.
    """

    fold: str | None
    side: str
    number: int | None = None

    def train(self) -> Split:
        return Split(self.fold, "train", self.number)


PREP = Split(None, "full")


def is_fit_mode(mode: str) -> bool:
    return "fit" in mode or mode == "preview"


def level(node: Node, running_apply: bool) -> int:
    f = node.flags
    if f.mode_exact:
        return EXACT
    if f.has_apply:
        return CLASS if running_apply else EXACT
    if f.mode_class:
        return CLASS
    return NONE


def effective_mode(node: Node, mode: str, running_apply: bool) -> str | None:
    lvl = level(node, running_apply)
    if lvl == NONE:
        return None
    if lvl == CLASS:
        return FIT_CLASS if is_fit_mode(mode) else APPLY_CLASS
    return mode


def task_key(node: Node, split: Split, mode: str, running_apply: bool) -> tuple:
    """Key of the value of ``node`` evaluated in ``mode`` on ``split``."""
    if node.flags.dep_xy:
        return (
            node.key,
            split.fold,
            split.side,
            effective_mode(node, mode, running_apply),
        )
    return (node.key, None, None, effective_mode(node, mode, running_apply))


def state_key(node: Node, split: Split) -> tuple:
    """Key of the fitted state of a stateful node (estimator, frozen value)."""
    fold = split.fold if node.flags.dep_xy else None
    return (node.key, fold, "state", None)
