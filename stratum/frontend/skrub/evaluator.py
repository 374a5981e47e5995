"""Evaluate skrub DataOps node by node with skrub's own semantics, memoized by
task key in the batch's store.

This subclasses skrub's evaluator: every node is still computed by its own
``eval``/``compute`` method, in skrub's traversal order, so the values are the
ones skrub computes. What changes is where results live: a value is stored under
its task key (lineage key + fold/side + mode, see ``lower.contexts``) and found
there by any configuration or pipeline that needs it; fitted steps run on a copy
of the node so that each fold and configuration keeps its own fitted state.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from skrub._data_ops._data_ops import AppliedEstimator, Apply, Var
from skrub._data_ops._evaluation import (
    HasRunningApplyAncestor,
    _CurrentNodeDuration,
    _Evaluator,
)
from skrub._data_ops._utils import X_NAME, Y_NAME

from ...driver import Failure, Store
from ...lower import Split, state_key, task_key
from ...lower.binning import BinShare, fit_with_bins
from ...lower.contexts import is_fit_mode
from ...lower.ensembles import Prefix, fit_as_prefix
from ...lower.registry import Registry, describe, ran
from ...lower.ridge import GramShare, fit_with_gram
from ...plan import Node


class MemoEvaluator(_Evaluator):
    """skrub's evaluator with results stored in (and read from) a ``Store``.

    Parameters
    ----------
    nodes : maps ``id(DataOp)`` to its plan node for this configuration.
    env_for : returns the evaluation environment for a split.
    outer_running_apply : whether the evaluation starts below a running
        ``.skb.apply`` (when one node is evaluated on its own as a task).
    target : the DataOp whose computation is the task itself (not "inline").
    registry : native kernels to substitute for the estimators of fitted
        steps (None: always the user's objects).
    refit : a DataOp to compute even if its value is stored (its fitted
        state is needed and missing).
    shared : fit task key -> what the fit takes from another fit of its
        family: the first rounds of a larger ensemble (``Prefix``), a ridge
        model's shared Gram (``GramShare``) or a booster's shared bins
        (``BinShare``); see ``Lowering.share_families``.
    """

    def __init__(
        self,
        *,
        mode: str,
        split: Split,
        nodes: dict[int, Node],
        store: Store,
        env_for: Callable[[Split], dict],
        outer_running_apply: bool = False,
        target: Any = None,
        registry: Registry | None = None,
        refit: Any = None,
        shared: dict[tuple, Prefix | GramShare | BinShare] | None = None,
    ):
        super().__init__(mode=mode, environment=env_for(split))
        self.split = split
        self.nodes = nodes
        self.store = store
        self.env_for = env_for
        self.outer_running_apply = outer_running_apply
        self.target = target
        self.registry = registry
        self.refit = refit
        self.shared = shared or {}
        self._choices: dict[int, list] = {}
        # id(step copy) -> (install on its estimator, the sharing, runs)
        self._sharing: dict[int, tuple] = {}

    def handle_data_op(self, data_op):
        running_apply = (yield HasRunningApplyAncestor()) or self.outer_running_apply
        node = self.nodes[id(data_op)]
        key = task_key(node, self.split, self.mode, running_apply)
        if data_op is not self.refit and key in self.store:
            return self.store.hit(key)
        try:
            result = yield from self._compute(data_op, node, running_apply, key)
        except BaseException as error:
            self.store.put(key, Failure.capture(error, node.label))
            raise
        self.store.put(key, result)
        if data_op is not self.target:
            seconds = yield _CurrentNodeDuration()
            split = self.split if node.flags.dep_xy else None
            self.store.record(key, "node", node.label, split, seconds, "ok", "inline")
        return result

    def _compute(self, data_op, node: Node, running_apply: bool, key: tuple):
        impl = data_op._skrub_impl
        env = self.environment
        if impl.is_X and X_NAME in env:
            return env[X_NAME]
        if impl.is_y and Y_NAME in env:
            return env[Y_NAME]
        if impl.uuid in env:
            return env[impl.uuid]
        if impl.name is not None and impl.name in env and not isinstance(impl, Var):
            return env[impl.name]
        if isinstance(impl, AppliedEstimator):
            yield impl.target
            target = self.nodes[id(impl.target)]
            return self._fitted(impl.target, target, running_apply=True)["estimator_"]
        if not node.flags.stateful:
            return (yield from self._run(impl, running_apply))
        work = copy.copy(impl)
        shared = self.shared.get(key) if is_fit_mode(self.mode) else None
        if shared is not None:
            self._share(work, shared)
        if is_fit_mode(self.mode):
            result = yield from self._run(work, running_apply)
            self.store.put(state_key(node, self.split), fitted_attributes(work, impl))
        else:
            work.__dict__.update(self._fitted(data_op, node, running_apply))
            result = yield from self._run(work, running_apply)
        if isinstance(impl, Apply):
            choices = self._choices.pop(id(work), [])
            reports = ran(getattr(work, "estimator_", None))
            self.store.implementations[key] = describe(choices, reports)
            _, _, done = self._sharing.pop(id(work), (None, None, ()))
            if done:  # what the fit took from (or gave to) its family
                self.store.implementations[key] = done[-1].describe()
        return result

    def _share(self, work, shared) -> None:
        """Arrange for the step copy ``work`` to fit its estimator from what
        its family shares (when that is in the store)."""
        done: list = []
        if isinstance(shared, Prefix):
            state = self.store.find(shared.source_state)
            if state is None:  # not fitted here, or its fit failed
                return
            source = state.get("estimator_")

            def install(estimator):
                return fit_as_prefix(estimator, source, shared, done)

        elif isinstance(shared, BinShare):

            def install(estimator):
                return fit_with_bins(estimator, shared, self.store, done)

        else:

            def install(estimator):
                return fit_with_gram(estimator, shared, self.store, done)

        self._sharing[id(work)] = (install, shared, done)

    def _fitted(self, data_op, node: Node, running_apply: bool) -> dict:
        """The fitted attributes of a stateful node for this split (fit it if
        needed)."""
        skey = state_key(node, self.split)
        if skey not in self.store:
            train = self.split.train()
            MemoEvaluator(
                mode="fit",
                split=train,
                nodes=self.nodes,
                store=self.store,
                env_for=self.env_for,
                outer_running_apply=running_apply,
                registry=self.registry,
                shared=self.shared,
                # The fit's output may be known (from an earlier batch) while
                # its fitted state is not (evicted): fit it again.
                refit=data_op,
            ).run(data_op)
        return self.store.get(skey)

    def _run(self, impl, running_apply: bool):
        """Drive the node's own ``eval``/``compute``, answering the 'is there a
        running estimator downstream' question for this context."""
        if hasattr(impl, "eval"):
            gen = impl.eval(mode=self.mode, environment=self.environment)
        else:
            gen = self._compute_fields(impl)
        try:
            value = None
            while True:
                try:
                    item = gen.send(value)
                except StopIteration as stop:
                    return stop.value
                if isinstance(item, HasRunningApplyAncestor):
                    value = running_apply
                elif isinstance(impl, Apply) and item is impl.estimator:
                    # skrub recomputes an estimator given as a DataOp at every
                    # evaluation, so each fit gets its own object; the memoized
                    # value is shared, so fit a copy of it.
                    value = copy.deepcopy((yield item))
                    sharing = self._sharing.get(id(impl))
                    if sharing is not None and sharing[0](value):
                        pass  # from its family's shared work, not a kernel's fit
                    elif self.registry is not None:
                        value, self._choices[id(impl)] = self.registry.select(value)
                else:
                    value = yield item
        except Exception as error:
            if not getattr(error, "_stratum_noted", False):
                error._stratum_noted = True
                where = impl.creation_stack_last_line()
                error.add_note(
                    f"Evaluation of node {impl} failed. See above for full"
                    f" traceback. This node was defined here:\n{where}"
                )
            raise

    def _compute_fields(self, impl):
        evaluated = {}
        for name in impl._fields:
            evaluated[name] = yield getattr(impl, name)
        return impl.compute(
            SimpleNamespace(**evaluated), mode=self.mode, environment=self.environment
        )


# Attributes every node has that are not fitted state.
_BOOKKEEPING = {
    "results",
    "errors",
    "metadata",
    "_creation_stack",
    "uuid",
    "name",
    "description",
    "is_X",
    "is_y",
    "checked",
}


def fitted_attributes(fitted: Any, original: Any) -> dict:
    """What fitting set on a node copy (``estimator_``, ``all_outputs_``, ...):
    plain values, independent of the graph, that can be stored, spilled and
    installed on any node with the same key."""
    before = original.__dict__
    return {
        name: value
        for name, value in fitted.__dict__.items()
        if name not in _BOOKKEEPING
        and name not in original._fields
        and (name not in before or before[name] is not value)
    }
