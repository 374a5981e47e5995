"""The driver: plan → lowering → store → executor → collect/release.

Every frontend runs its batches through a ``Driver``. The frontend inserts
its nodes into ``driver.plan`` and its tasks into ``driver.lowering`` (it
knows what to compute); the driver owns where values live (``store``, with
the current session's results behind it), who runs the tasks (``executor``,
from the :class:`~stratum.options.ExecutionOptions`), and reading the
results back: values, failures, and the seconds each task took.

Frontends import what they need from the runtime through this module
(``Failure``, ``TaskFailed``, ``Store`` and the timeout errors), never from
``stratum.runtime`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .lower import Lowering, NodeRunner, Task
from .lower.registry import default_registry
from .options import ExecutionOptions
from .plan import Plan
from .runtime import (
    BatchTimeout,
    Cancelled,
    ConfigurationTimeout,
    Failure,
    Store,
    TaskFailed,
    make_executor,
)
from .session import current_session


class Driver:
    """One batch's plan, task graph, values and executor.

    Parameters
    ----------
    options : ExecutionOptions
        How the batch runs.
    run_node : callable
        The frontend's ``run_node(store, node, split, mode, running_apply,
        registry)``: evaluate one plan node (see ``lower.cv.NodeRunner``).
    """

    def __init__(self, options: ExecutionOptions, run_node: NodeRunner):
        self.options = options
        self.plan = Plan()
        registry = default_registry() if options.native else None
        self.lowering = Lowering(self.plan, run_node, registry, options.model_sharing)
        self.store = Store(budget=options.memory_budget)
        session = current_session()
        if session is not None:
            self.store.reuse = session.reuse(self._reusable)
        self.executor = make_executor(options)

    def _reusable(self, key: tuple) -> bool:
        """Whether a value may be reused by, or taken from, other batches (a
        family's shared Gram or bins: when the fit writing it may)."""
        key = self.lowering.providers.get(key, key)
        node = self.plan.nodes.get(key[0])
        return node is not None and node.reusable

    # -- running ------------------------------------------------------------------
    def execute(self, tasks: dict[tuple, Task] | None = None) -> None:
        """Run ``tasks`` (default: every task lowered so far) into the store."""
        tasks = self.lowering.tasks if tasks is None else tasks
        self.executor.run(tasks, self.store, context=self)

    def execute_new(self, lower: Callable[[], object]) -> None:
        """Call ``lower()`` (which adds tasks) and run the tasks it added."""
        before = set(self.lowering.tasks)
        lower()
        self.execute({k: t for k, t in self.lowering.tasks.items() if k not in before})

    def task(self, key: tuple) -> Task:
        """The task ``key`` (what a worker holding a copy of the driver runs)."""
        return self.lowering.tasks[key]

    # -- reading results ------------------------------------------------------------
    def outcome(self, key: tuple) -> tuple[str, Any]:
        """("ok", value) or ("error", the Failure) of the task ``key``."""
        try:
            return "ok", self.store.get(key)
        except TaskFailed as failed:
            return "error", failed.failure

    def first_failure(self, keys: Iterable[tuple]) -> Failure | None:
        return next((f for k in keys if (f := self.store.failure(k)) is not None), None)

    def task_seconds(self) -> dict[tuple, float]:
        """Seconds spent per task key (summed over its executions)."""
        seconds: dict[tuple, float] = {}
        for stat in self.store.stats:
            seconds[stat.key] = seconds.get(stat.key, 0.0) + stat.seconds
        return seconds

    def upstream(self, keys: Iterable[tuple]) -> frozenset:
        """``keys`` and every task they depend on, transitively."""
        tasks = self.lowering.tasks
        out: set = set()
        stack = list(keys)
        while stack:
            key = stack.pop()
            if key in out:
                continue
            out.add(key)
            if key in tasks:
                stack.extend(tasks[key].deps)
        return frozenset(out)

    def release(self) -> None:
        """Drop every computed value (keep the plan, tasks and statistics)."""
        self.store.values.clear()
        self.store.close()

    def __getstate__(self) -> dict:
        # A worker gets the plan and the tasks, never the values or executor.
        return {**self.__dict__, "store": None, "executor": None}


__all__ = [
    "BatchTimeout",
    "Cancelled",
    "ConfigurationTimeout",
    "Driver",
    "Failure",
    "Store",
    "TaskFailed",
]
